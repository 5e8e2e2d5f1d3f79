"""HTTP calls to the IdP that the portal makes itself, outside Authlib.

- OpenID Connect Discovery 1.0 §4.3: the discovery document must name the issuer we configured.
- RFC 7517 §5 / OIDC Core §10.1.1: the JWKS behind ``jwks_uri``, fetched for :class:`JwksCache`.
- OIDC Core §5.3: the UserInfo endpoint, called with the access token as a Bearer token; the
  ``sub`` it returns must equal the ID token's (§5.3.4).

Never logged or shown: the access token. Errors carry the HTTP status or the exception type.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import requests

from .errors import PortalError
from .tokens import JwksFetcher, JwksUnavailableError

REQUIRED_METADATA = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")
_BEARER_ERROR = re.compile(r'error="([A-Za-z0-9_.-]+)"')


def idp_unreachable(what: str, exc: Exception) -> PortalError:
    return PortalError(
        "idp_unreachable",
        f"The identity provider could not be reached ({what}: {type(exc).__name__}). "
        "Please try again later.",
        f"无法连接统一身份认证平台（{what}：{type(exc).__name__}），请稍后再试。",
        status=502,
    )


def check_metadata(metadata: Mapping[str, Any], issuer: str) -> None:
    """Refuse a discovery document that is not our IdP's or lacks what the portal needs."""
    if metadata.get("issuer") != issuer:
        raise PortalError(
            "discovery_mismatch",
            f"The discovery document names issuer {metadata.get('issuer')!r}, "
            f"not the configured {issuer!r}.",
            f"发现文档中的签发者为 {metadata.get('issuer')!r}，与配置的 {issuer!r} 不符。",
            status=502,
        )
    missing = [name for name in REQUIRED_METADATA if not metadata.get(name)]
    methods = metadata.get("code_challenge_methods_supported")
    if methods is not None and "S256" not in methods:
        missing.append("code_challenge_methods_supported: S256")
    if missing:
        raise PortalError(
            "discovery_incomplete",
            f"The discovery document lacks: {', '.join(missing)}.",
            f"发现文档缺少：{'、'.join(missing)}。",
            status=502,
        )


def jwks_fetcher(jwks_uri: Callable[[], str], timeout: float) -> JwksFetcher:
    """A fetcher for :class:`JwksCache` that GETs the IdP's ``jwks_uri``."""

    def fetch() -> Mapping[str, Any]:
        try:
            resp = requests.get(jwks_uri(), headers={"Accept": "application/json"}, timeout=timeout)
            resp.raise_for_status()
            document = resp.json()
        except requests.RequestException as exc:
            raise JwksUnavailableError(type(exc).__name__) from None
        except ValueError:
            raise JwksUnavailableError("the response is not JSON") from None
        if not isinstance(document, dict):
            raise JwksUnavailableError("the response is not a JWK Set")
        return document

    return fetch


def fetch_userinfo(
    endpoint: str, access_token: str, expected_sub: str, timeout: float
) -> dict[str, Any]:
    """Return the UserInfo claims for ``access_token``; raise :class:`PortalError` otherwise."""
    try:
        resp = requests.get(
            endpoint,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise idp_unreachable("userinfo", exc) from None
    if resp.status_code != 200:
        found = _BEARER_ERROR.search(resp.headers.get("WWW-Authenticate", ""))
        error = found.group(1) if found else f"HTTP {resp.status_code}"
        raise PortalError(
            "userinfo_failed",
            f"The UserInfo endpoint refused the access token ({error}).",
            f"用户信息端点拒绝了访问令牌（{error}）。",
            status=502,
        )
    if not resp.headers.get("Content-Type", "").startswith("application/json"):
        raise PortalError(
            "userinfo_format",
            "The UserInfo response is not JSON (signed or encrypted UserInfo is not supported).",
            "用户信息响应不是 JSON（本门户不支持签名或加密的用户信息）。",
            status=502,
        )
    try:
        claims = resp.json()
    except ValueError:
        claims = None
    if not isinstance(claims, dict) or claims.get("sub") != expected_sub:
        raise PortalError(
            "userinfo_sub_mismatch",
            "The UserInfo response is not about the signed-in user (sub differs).",
            "用户信息响应中的用户标识（sub）与登录用户不符。",
            status=502,
        )
    return claims
