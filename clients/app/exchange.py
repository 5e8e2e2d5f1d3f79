"""Handing the app's session to a mini-program backend (which then performs RFC 8693 token
exchange at the IdP with its own credentials, see :mod:`clients.miniprogram`).

``POST <backend>/session {"app_access_token": "…"}`` → the backend's own session for the same
citizen and ``sid``. The app's access token is a bearer credential: it is only ever sent over
``https://`` (or to a loopback address during development).
"""

from __future__ import annotations

from typing import Any

from clients.common.errors import ClientError, one_line
from clients.common.http import HttpRequest, Transport
from clients.common.settings import ConfigError, check_url

MINIPROGRAM = ("the mini-program backend", "小程序后端")


def session_url(base: str) -> str:
    try:
        url = check_url("--miniprogram", base)
    except ConfigError as exc:
        raise ClientError("bad_url", str(exc), f"小程序后端地址无效：{exc}") from None
    return url if url.endswith("/session") else f"{url}/session"


def start_miniprogram_session(
    transport: Transport, base_url: str, app_access_token: str
) -> dict[str, Any]:
    resp = transport(
        HttpRequest("POST", session_url(base_url), json={"app_access_token": app_access_token})
    )
    try:
        body = resp.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if resp.status == 200 and isinstance(body, dict) and isinstance(body.get("sub"), str):
        return body
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        error, description = (
            one_line(body["error"], 64),
            one_line(body.get("error_description", "")),
        )
        raise ClientError(
            error,
            f"The mini-program backend refused the session (HTTP {resp.status}, {error}): "
            f"{description}",
            f"小程序后端拒绝建立会话（HTTP {resp.status}，{error}）：{description}",
        )
    raise ClientError(
        "bad_response",
        f"The mini-program backend answered HTTP {resp.status} without the expected JSON.",
        f"小程序后端返回 HTTP {resp.status}，不是预期的 JSON。",
    )
