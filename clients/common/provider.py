"""The 一网通办 IdP as the reference clients see it, over an injectable :data:`Transport`.

- OpenID Connect Discovery 1.0 §4: ``<issuer>/.well-known/openid-configuration``, fetched once;
  its ``issuer`` must equal ours (§4.3). Every endpoint except the app API comes from there.
- RFC 7517 §5: the JWKS behind ``jwks_uri``, cached by :class:`JwksCache` (refetched once on an
  unknown ``kid``).
- RFC 6749 §5.1/§5.2: token-endpoint style responses (also the device authorization endpoint,
  RFC 8628 §3.2): a JSON object, or a JSON ``{"error", "error_description"}``.
- OIDC Core §5.3: UserInfo with a Bearer access token; its ``sub`` must be the expected one.
- The app API (``<issuer>/api/…``, JSON, Bearer app access token): errors are JSON
  ``{"error", "error_description"}`` with the RFC 6750 status codes.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from clients.website.provider import check_metadata
from clients.website.tokens import JwksCache, JwksUnavailableError

from .errors import ClientError, OAuthErrorResponse, one_line
from .http import HttpRequest, HttpResponse, Transport, bearer

_BEARER_ERROR = re.compile(r'error="([A-Za-z0-9_.-]+)"')


def _json_object(resp: HttpResponse) -> dict[str, Any] | None:
    try:
        value = resp.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def parse_oauth_response(resp: HttpResponse, where: str) -> dict[str, Any]:
    """The JSON object of a successful response, or raise :class:`OAuthErrorResponse` for a JSON
    error and :class:`ClientError` for anything else (an HTML error page, a proxy's 502)."""
    body = _json_object(resp)
    if body is not None and resp.status >= 400 and isinstance(body.get("error"), str):
        raise OAuthErrorResponse(
            where, body["error"], body.get("error_description"), http_status=resp.status
        )
    if body is None or resp.status != 200:
        raise ClientError(
            "bad_response",
            f"{where} answered HTTP {resp.status} without the expected JSON object.",
            f"{where} 返回 HTTP {resp.status}，不是预期的 JSON 对象。",
            status=502,
        )
    return body


class Provider:
    """Discovery, JWKS, token endpoint, UserInfo and the app API of one issuer."""

    def __init__(self, issuer: str, transport: Transport, *, jwks_max_age: float = 600.0) -> None:
        self.issuer = issuer
        self.send = transport
        self._metadata: Mapping[str, Any] | None = None
        self._lock = threading.Lock()
        self.jwks = JwksCache(self._fetch_jwks, max_age=jwks_max_age)

    # --- discovery -------------------------------------------------------------------------

    def metadata(self) -> Mapping[str, Any]:
        with self._lock:
            if self._metadata is None:
                url = f"{self.issuer}/.well-known/openid-configuration"
                resp = self.send(HttpRequest("GET", url))
                document = _json_object(resp) if resp.status == 200 else None
                if document is None:
                    raise ClientError(
                        "discovery_failed",
                        f"The IdP's discovery document could not be read (HTTP {resp.status}).",
                        f"无法读取统一身份认证平台的发现文档（HTTP {resp.status}）。",
                        status=502,
                    )
                check_metadata(document, self.issuer)
                self._metadata = document
            return self._metadata

    def endpoint(self, name: str) -> str:
        value = self.metadata().get(name)
        if not isinstance(value, str) or not value:
            raise ClientError(
                "discovery_incomplete",
                f"The IdP's discovery document has no {name}: it does not offer this feature.",
                f"统一身份认证平台的发现文档中没有 {name}：平台未提供此功能。",
                status=502,
            )
        return value

    def _fetch_jwks(self) -> Mapping[str, Any]:
        try:
            resp = self.send(HttpRequest("GET", self.endpoint("jwks_uri")))
        except ClientError as exc:
            raise JwksUnavailableError(exc.code) from None
        document = _json_object(resp) if resp.status == 200 else None
        if document is None:
            raise JwksUnavailableError(f"HTTP {resp.status}, or the response is not JSON")
        return document

    # --- endpoints -------------------------------------------------------------------------

    def post_form(
        self, endpoint: str, form: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """POST a form to a discovered endpoint (``token_endpoint``, …) and parse the answer."""
        resp = self.send(
            HttpRequest("POST", self.endpoint(endpoint), headers=headers or {}, form=form)
        )
        return parse_oauth_response(resp, f"the {endpoint.removesuffix('_endpoint')} endpoint")

    def userinfo(self, access_token: str, expected_sub: str) -> dict[str, Any]:
        resp = self.send(
            HttpRequest("GET", self.endpoint("userinfo_endpoint"), headers=bearer(access_token))
        )
        if resp.status in (401, 403):
            found = _BEARER_ERROR.search(resp.header("WWW-Authenticate"))
            body = _json_object(resp) or {}
            raise OAuthErrorResponse(
                "UserInfo",
                found.group(1) if found else str(body.get("error") or "invalid_token"),
                body.get("error_description"),
                http_status=resp.status,
            )
        claims = _json_object(resp) if resp.status == 200 else None
        if claims is None or not resp.header("Content-Type").startswith("application/json"):
            raise ClientError(
                "userinfo_failed",
                f"UserInfo answered HTTP {resp.status} without a JSON object.",
                f"用户信息端点返回 HTTP {resp.status}，不是 JSON 对象。",
                status=502,
            )
        if claims.get("sub") != expected_sub:
            raise ClientError(
                "userinfo_sub_mismatch",
                "The UserInfo response is about another user (sub differs) and was discarded.",
                "用户信息响应中的用户标识（sub）与本用户不符，已丢弃。",
                status=502,
            )
        return claims

    def api(
        self,
        method: str,
        path: str,
        access_token: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        """Call the app API at ``<issuer><path>`` with the app's access token."""
        resp = self.send(
            HttpRequest(
                method,
                f"{self.issuer}{path}",
                headers=bearer(access_token),
                params=params,
                json=json,
            )
        )
        body = _json_object(resp)
        if 200 <= resp.status < 300 and body is not None:
            return body
        if body is not None and isinstance(body.get("error"), str):
            raise OAuthErrorResponse(
                f"the app API ({path})",
                body["error"],
                body.get("error_description"),
                http_status=resp.status,
            )
        if resp.status == 404:
            raise ClientError(
                "not_available",
                f"The IdP has no {path} (HTTP 404): this feature is not deployed there.",
                f"统一身份认证平台没有 {path}（HTTP 404）：该功能未部署。",
                status=502,
            )
        raise ClientError(
            "bad_response",
            f"The app API ({one_line(path, 60)}) answered HTTP {resp.status} without JSON.",
            f"应用接口（{one_line(path, 60)}）返回 HTTP {resp.status}，不是 JSON。",
            status=502,
        )
