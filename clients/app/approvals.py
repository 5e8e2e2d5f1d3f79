"""The app as the citizen's authenticator: QR sign-ins and counter terminals.

Both go through the IdP's app API with the app's access token as a Bearer token (RFC 6750):

- QR sign-in (扫码登录): the website shows a QR code for ``<issuer>/qr/<ticket_id>``; the app
  ``POST /api/qr/scan {"ticket_id"}`` (shows which browser asks), then
  ``POST /api/qr/confirm {"ticket_id", "decision"}``.
- Device grant (RFC 8628 §3.3, user interaction): the terminal shows a user code (or a QR for
  ``verification_uri_complete``); the app ``GET /api/device?user_code=…`` (shows which terminal
  asks for what), then ``POST /api/device/approve {"user_code", "decision"}``.

A QR code is only followed when it points at *our* issuer: approving a sign-in shown by any
other site would hand the citizen's session to it (phishing).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from clients.common.errors import ClientError
from clients.common.provider import Provider

TICKET_ID = re.compile(r"^[A-Za-z0-9_-]{8,256}$")
USER_CODE_CHARS = re.compile(r"^[A-Z0-9]{8}$")


def _not_ours(value: str, issuer: str) -> ClientError:
    shown = value if len(value) <= 80 else value[:77] + "…"
    return ClientError(
        "foreign_qr",
        f"This QR code is not a sign-in of {issuer} ({shown!r}); it was not approved.",
        f"此二维码不是 {issuer} 的登录二维码（{shown!r}），未予确认。",
    )


def ticket_from(value: str, issuer: str) -> str:
    """The ticket id of a scanned QR (``<issuer>/qr/<ticket_id>``) or of a bare ticket id."""
    value = value.strip()
    if "/" in value or ":" in value:
        prefix = f"{issuer}/qr/"
        parts = urlsplit(value)
        if not value.startswith(prefix) or parts.query or parts.fragment:
            raise _not_ours(value, issuer)
        value = value[len(prefix) :]
    if not TICKET_ID.match(value):
        raise ClientError(
            "bad_ticket",
            "That is not a QR sign-in ticket (expected the scanned URL or its ticket id).",
            "这不是扫码登录凭据（应为扫描得到的网址或其中的凭据编号）。",
        )
    return value


def normalise_user_code(value: str) -> str:
    """``abcd efgh`` / ``ABCD-EFGH`` / a scanned ``verification_uri_complete`` → ``ABCD-EFGH``
    (RFC 8628 §6.1: ignore case and separators the citizen may type)."""
    if "://" in value:
        value = parse_qs(urlsplit(value).query).get("user_code", [""])[0]
    compact = re.sub(r"[\s-]", "", value).upper()
    if not USER_CODE_CHARS.match(compact):
        raise ClientError(
            "bad_user_code",
            "A user code has 8 letters or digits, shown as XXXX-XXXX on the terminal.",
            "用户码由 8 位字母或数字组成，终端上显示为 XXXX-XXXX。",
        )
    return f"{compact[:4]}-{compact[4:]}"


def decision(allow: bool) -> str:
    return "allow" if allow else "deny"


# --- QR sign-in ----------------------------------------------------------------------------


def scan_qr(provider: Provider, access_token: str, ticket_id: str) -> dict[str, Any]:
    return provider.api("POST", "/api/qr/scan", access_token, json={"ticket_id": ticket_id})


def confirm_qr(
    provider: Provider, access_token: str, ticket_id: str, allow: bool
) -> dict[str, Any]:
    return provider.api(
        "POST",
        "/api/qr/confirm",
        access_token,
        json={"ticket_id": ticket_id, "decision": decision(allow)},
    )


# --- device codes --------------------------------------------------------------------------


def lookup_device(provider: Provider, access_token: str, user_code: str) -> dict[str, Any]:
    return provider.api("GET", "/api/device", access_token, params={"user_code": user_code})


def approve_device(
    provider: Provider, access_token: str, user_code: str, allow: bool
) -> dict[str, Any]:
    return provider.api(
        "POST",
        "/api/device/approve",
        access_token,
        json={"user_code": user_code, "decision": decision(allow)},
    )
