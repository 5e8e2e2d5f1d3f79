"""The mini-program backend's side of OAuth 2.0 Token Exchange (RFC 8693).

:meth:`SessionStarter.start` runs these steps in order; each raises :class:`ExchangeError`
(JSON ``{"error", "error_description"}`` with the HTTP status it carries):

1. ``read_subject``         the app's access token is a JWT access token of our issuer (RFC 9068:
                            ``typ`` at+jwt, signature against the JWKS, ``iss``, ``exp``); its
                            ``sub`` and ``sid`` are who the new session must be about. Its
                            audience is the app, not us: the IdP checks it again in step 2.
2. ``exchange``             ``POST token_endpoint`` with ``client_secret_basic``:
                            ``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``,
                            ``subject_token``, ``subject_token_type=…:access_token``, ``scope``
3. ``check_response``       ``issued_token_type`` is an access token, ``token_type`` Bearer
4. ``check_access_token``   RFC 9068 §4: ``typ`` at+jwt, ``iss``, ``aud`` and ``client_id`` are
                            this backend, ``exp``
5. ``check_id_token``       OIDC Core §3.1.3.7 with ``aud`` this backend and no nonce (nothing
                            was sent), ``at_hash`` of the new access token
6. ``check_same_citizen``   ``sub`` and ``sid`` of both new tokens are the subject's
7. ``provider.userinfo``    the citizen's claims, with the new access token
8. ``store.create``         the backend's own session (an opaque id)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clients.common.access_tokens import validate_access_token
from clients.common.errors import ClientError, OAuthErrorResponse
from clients.common.http import basic_auth
from clients.common.provider import Provider
from clients.website.errors import PortalError
from clients.website.tokens import validate_id_token

from .config import MiniProgramConfig
from .sessions import MiniSession, SessionStore

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 — a URN
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 — a URN
MAX_TOKEN_LENGTH = 4096


class ExchangeError(ClientError):
    """A refused session start; ``code`` is the JSON ``error``, ``en`` its description."""


def _bad_idp_response(exc: PortalError) -> ExchangeError:
    return ExchangeError(
        "bad_idp_response",
        f"The IdP's token exchange response was rejected: {exc.en}",
        f"统一身份认证平台的令牌交换响应未通过校验：{exc.zh}",
        status=502,
    )


# IdP error (RFC 6749 §5.2 / RFC 8693 §2.2.2) -> (our error, HTTP status) for the mini-program.
IDP_ERRORS: Mapping[str, tuple[str, int]] = {
    # The subject token is not (or no longer) good: the app should refresh and try again.
    "invalid_request": ("invalid_token", 401),
    "invalid_grant": ("invalid_token", 401),
    # Policy: this backend may not get tokens from that app, or not these scopes.
    "unauthorized_client": ("exchange_refused", 403),
    "invalid_scope": ("exchange_refused", 403),
    "invalid_target": ("exchange_refused", 403),
    "access_denied": ("exchange_refused", 403),
    # Our own credentials: not the caller's fault.
    "invalid_client": ("backend_misconfigured", 502),
}


@dataclass(frozen=True)
class Subject:
    sub: str
    sid: str


class SessionStarter:
    def __init__(self, config: MiniProgramConfig, provider: Provider, store: SessionStore) -> None:
        self.config = config
        self.provider = provider
        self.store = store

    def start(self, app_access_token: object) -> MiniSession:
        subject = self.read_subject(app_access_token)
        token = self.exchange(subject, str(app_access_token))
        self.check_response(token)
        access = self.check_access_token(token)
        id_claims = self.check_id_token(token)
        self.check_same_citizen(subject, access, id_claims)
        claims = self.userinfo(token["access_token"], subject.sub)
        return self.store.create(
            sub=subject.sub,
            sid=subject.sid,
            claims=claims,
            id_token_claims=id_claims,
            tokens={k: token[k] for k in ("access_token", "refresh_token") if k in token},
        )

    # --- the steps -------------------------------------------------------------------------

    def read_subject(self, app_access_token: object) -> Subject:
        if not isinstance(app_access_token, str) or not app_access_token:
            raise ExchangeError(
                "invalid_request",
                "app_access_token (a string) is required.",
                "缺少 app_access_token（字符串）。",
            )
        if len(app_access_token) > MAX_TOKEN_LENGTH:
            raise ExchangeError(
                "invalid_request", "app_access_token is too long.", "app_access_token 过长。"
            )
        try:
            claims = validate_access_token(
                app_access_token,
                self.provider.jwks,
                issuer=self.config.issuer,
                audience=None,
                leeway=self.config.leeway,
            )
        except PortalError as exc:
            if exc.status >= 500:  # the JWKS could not be fetched: not the caller's fault
                raise ExchangeError("idp_unavailable", exc.en, exc.zh, status=502) from None
            raise ExchangeError("invalid_token", exc.en, exc.zh, status=401) from None
        sid = claims.get("sid")
        if not isinstance(sid, str) or not sid:
            raise ExchangeError(
                "invalid_token",
                "The app's access token belongs to no sign-in session (no sid).",
                "App 的访问令牌不属于任何登录会话（缺少 sid）。",
                status=401,
            )
        return Subject(sub=claims["sub"], sid=sid)

    def exchange(self, subject: Subject, app_access_token: str) -> dict[str, Any]:
        form = {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": app_access_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "scope": self.config.scope,
        }
        auth = basic_auth(self.config.client_id, self.config.client_secret)
        try:
            return self.provider.post_form("token_endpoint", form, auth)
        except OAuthErrorResponse as exc:
            error, status = IDP_ERRORS.get(exc.error, ("exchange_failed", 502))
            raise ExchangeError(
                error,
                f"The IdP refused the token exchange ({exc.error}): {exc.description or '-'}",
                f"统一身份认证平台拒绝了令牌交换（{exc.error}）：{exc.description or '-'}",
                status=status,
            ) from None

    def check_response(self, token: Mapping[str, Any]) -> None:
        problems = []
        if token.get("issued_token_type") != ACCESS_TOKEN_TYPE:
            problems.append(f"issued_token_type is {token.get('issued_token_type')!r}")
        if str(token.get("token_type", "")).lower() != "bearer":
            problems.append(f"token_type is {token.get('token_type')!r}")
        for name in ("access_token", "id_token"):
            if not isinstance(token.get(name), str):
                problems.append(f"no {name}")
        if problems:
            raise ExchangeError(
                "bad_idp_response",
                f"The IdP's token exchange response is not usable: {'; '.join(problems)}.",
                f"统一身份认证平台的令牌交换响应不可用：{'；'.join(problems)}。",
                status=502,
            )

    def check_access_token(self, token: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return validate_access_token(
                token["access_token"],
                self.provider.jwks,
                issuer=self.config.issuer,
                audience=self.config.client_id,
                client_id=self.config.client_id,
                leeway=self.config.leeway,
            )
        except PortalError as exc:
            raise _bad_idp_response(exc) from None

    def check_id_token(self, token: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return validate_id_token(
                token["id_token"],
                self.provider.jwks,
                issuer=self.config.issuer,
                client_id=self.config.client_id,
                nonce=None,
                nonce_required=False,
                access_token=token["access_token"],
                leeway=self.config.leeway,
            )
        except PortalError as exc:
            raise _bad_idp_response(exc) from None

    def userinfo(self, access_token: str, sub: str) -> dict[str, Any]:
        try:
            return self.provider.userinfo(access_token, sub)
        except ClientError as exc:
            raise _bad_idp_response(exc) from None

    def check_same_citizen(
        self, subject: Subject, access: Mapping[str, Any], id_claims: Mapping[str, Any]
    ) -> None:
        for what, claims in (("access token", access), ("ID token", id_claims)):
            for name in ("sub", "sid"):
                if claims.get(name) != getattr(subject, name):
                    raise ExchangeError(
                        "bad_idp_response",
                        f"The exchanged {what} has another {name} than the app's session.",
                        f"交换得到的{'访问令牌' if what == 'access token' else ' ID 令牌'}"
                        f"的 {name} 与 App 会话不符。",
                        status=502,
                    )
