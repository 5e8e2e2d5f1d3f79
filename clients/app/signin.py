"""The app's sign-in and refresh, on Authlib's ``OAuth2Session`` (a public client).

Sign-in — OIDC Core §3.1, RFC 7636 (PKCE S256), RFC 8252 (native apps). In order:

1. ``build_authorization_request``  fresh ``state``, ``nonce`` and ``code_verifier``; Authlib
                                    builds the URL with ``code_challenge`` (S256)
2. ``LoopbackListener.wait``        the browser's redirect to ``http://127.0.0.1:<port>/callback``
                                    with this ``state`` (see :mod:`.loopback`)
3. ``check_callback``               ``iss`` is our issuer (RFC 9207 §2.4); an ``error`` stops here
4. ``redeem``                       code + ``code_verifier`` at the token endpoint, no secret
                                    (``token_endpoint_auth_method=none``)
5. ``check_id_token``               python-jose against the JWKS (:mod:`clients.website.tokens`),
                                    with the nonce and ``at_hash``

Refresh — RFC 6749 §6 with rotation (RFC 9700 §4.14.2): every response carries a new refresh
token and the old one is spent. ``invalid_grant`` means the sign-in is over: the session ended,
or a refresh token was presented twice, which makes the IdP revoke the whole token family.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from clients.common.errors import ClientError, OAuthErrorResponse, unreachable
from clients.common.http import Transport, TransportAdapter
from clients.common.provider import Provider
from clients.website.responses import check_response_issuer
from clients.website.tokens import check_refreshed, validate_id_token

from .config import AppConfig


@dataclass(frozen=True)
class AuthorizationRequest:
    """One sign-in: the URL for the browser and the secrets the app keeps until the answer."""

    url: str
    redirect_uri: str
    state: str
    nonce: str
    code_verifier: str


def oauth_session(
    config: AppConfig, redirect_uri: str | None = None, transport: Transport | None = None
) -> OAuth2Session:
    """Authlib's client for the app; with ``transport``, its requests go through it."""
    session = OAuth2Session(
        config.client_id,
        scope=config.scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        # A public client: client_id in the body, no secret (RFC 8252 §8.4).
        token_endpoint_auth_method="none",  # noqa: S106 — an auth method name, not a password
        default_timeout=config.http_timeout,
    )
    if transport is not None:
        for prefix in ("http://", "https://"):
            session.mount(prefix, TransportAdapter(transport))
    return session


def build_authorization_request(
    session: OAuth2Session, authorization_endpoint: str, redirect_uri: str
) -> AuthorizationRequest:
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)  # 64 characters of [A-Za-z0-9_-] (RFC 7636 §4.1)
    url, _ = session.create_authorization_url(
        authorization_endpoint, state=state, nonce=nonce, code_verifier=verifier
    )
    return AuthorizationRequest(url, redirect_uri, state, nonce, verifier)


def check_callback(params: Mapping[str, str], issuer: str, metadata: Mapping[str, Any]) -> str:
    """The authorization code of a redirect whose ``state`` the listener already matched."""
    check_response_issuer(
        params.get("iss"),
        issuer,
        bool(metadata.get("authorization_response_iss_parameter_supported")),
    )
    if "error" in params:
        raise OAuthErrorResponse(
            "the authorization endpoint", params["error"], params.get("error_description")
        )
    code = params.get("code")
    if not code:
        raise ClientError(
            "no_code",
            "The sign-in response carries neither a code nor an error.",
            "登录响应中既没有授权码也没有错误信息。",
        )
    return code


def _token_call(what: str, call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run an Authlib token request; its failures become our one error type."""
    try:
        token: dict[str, Any] = dict(call(*args, **kwargs))
    except OAuthError as exc:
        raise OAuthErrorResponse(what, exc.error or "invalid_response", exc.description) from None
    except requests.RequestException as exc:
        raise unreachable(exc) from None
    except ValueError:
        raise ClientError(
            "bad_response",
            f"{what} did not answer with a JSON object.",
            f"{what} 的响应不是 JSON 对象。",
            status=502,
        ) from None
    if not isinstance(token.get("access_token"), str):
        raise ClientError(
            "bad_response",
            f"{what} sent no access_token.",
            f"{what} 未返回 access_token。",
            status=502,
        )
    return token


def redeem(
    session: OAuth2Session, token_endpoint: str, request: AuthorizationRequest, code: str
) -> dict[str, Any]:
    return _token_call(
        "the token endpoint",
        session.fetch_token,
        token_endpoint,
        grant_type="authorization_code",
        code=code,
        code_verifier=request.code_verifier,
    )


def check_id_token(
    provider: Provider,
    config: AppConfig,
    token: Mapping[str, Any],
    nonce: str,
    *,
    nonce_required: bool = True,
) -> dict[str, Any]:
    if not isinstance(token.get("id_token"), str):
        raise ClientError(
            "no_id_token",
            "The token response has no ID token.",
            "令牌响应中没有 ID 令牌。",
            status=502,
        )
    return validate_id_token(
        token["id_token"],
        provider.jwks,
        issuer=config.issuer,
        client_id=config.client_id,
        nonce=nonce,
        nonce_required=nonce_required,
        access_token=token.get("access_token"),
        leeway=config.leeway,
    )


def new_record(
    config: AppConfig, token: Mapping[str, Any], claims: Mapping[str, Any], nonce: str
) -> dict[str, Any]:
    """What the state file keeps about one sign-in."""
    return {
        "issuer": config.issuer,
        "client_id": config.client_id,
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token"),
        "id_token": token["id_token"],
        "expires_at": _expires_at(token),
        "scope": token.get("scope") or config.scope,
        "nonce": nonce,  # refreshed ID tokens may repeat it, never carry another (Core §12.2)
        "claims": dict(claims),
        "refreshes": 0,
    }


def _expires_at(token: Mapping[str, Any]) -> int | None:
    if isinstance(token.get("expires_at"), int | float):
        return int(token["expires_at"])
    if isinstance(token.get("expires_in"), int | float):
        return int(time.time() + token["expires_in"])
    return None


def session_revoked(error: OAuthErrorResponse) -> ClientError:
    return ClientError(
        "session_revoked",
        "The IdP refused the refresh token (invalid_grant): this sign-in was revoked — the "
        "session ended (signed out, ended by staff, or expired), or a refresh token was used "
        "twice, which revokes every token of the sign-in. The local tokens were deleted; run "
        f"`login` again. ({error.description or 'no description'})",
        "统一身份认证平台拒绝了刷新令牌（invalid_grant）：本次登录已被撤销——会话已结束（已退出、"
        "被管理员结束或已过期），或同一刷新令牌被使用了两次（将撤销本次登录的全部令牌）。"
        "本地令牌已删除，请重新运行 `login`。",
    )


def refresh(
    provider: Provider,
    config: AppConfig,
    record: dict[str, Any],
    transport: Transport | None = None,
) -> dict[str, Any]:
    """Rotate: return the record with the new tokens; the old refresh token is now spent."""
    if not record.get("refresh_token"):
        raise ClientError(
            "no_refresh_token",
            "The IdP issued no refresh token (offline_access was not granted); run `login`.",
            "统一身份认证平台未签发刷新令牌（未获得 offline_access 授权），请重新运行 `login`。",
        )
    session = oauth_session(config, transport=transport)
    session.scope = None  # keep the granted scope (a refresh may narrow it, never widen it)
    try:
        token = _token_call(
            "the token endpoint",
            session.refresh_token,
            provider.endpoint("token_endpoint"),
            refresh_token=record["refresh_token"],
        )
    except OAuthErrorResponse as exc:
        if exc.error == "invalid_grant":
            raise session_revoked(exc) from None
        raise
    updated = dict(record)
    if "id_token" in token:  # OIDC Core §12.2
        claims = check_id_token(provider, config, token, record["nonce"], nonce_required=False)
        check_refreshed(record["claims"], claims)
        updated.update(id_token=token["id_token"], claims=claims)
    new_refresh = token.get("refresh_token")
    updated.update(
        access_token=token["access_token"],
        # Rotation: keep the new refresh token; the one just presented is spent.
        refresh_token=new_refresh or record["refresh_token"],
        rotated=bool(new_refresh and new_refresh != record["refresh_token"]),
        expires_at=_expires_at(token),
        scope=token.get("scope") or record["scope"],
        refreshes=int(record.get("refreshes", 0)) + 1,
    )
    return updated
