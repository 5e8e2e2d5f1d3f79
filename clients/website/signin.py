"""The relying party's side of the code flow, around Authlib's Flask client.

OpenID Connect Core §3.1 with PKCE (RFC 7636). The steps of a sign-in, in order:

1. ``start``: fresh ``state`` + ``nonce`` (kept for this browser), PKCE S256 by Authlib, redirect.
   Which sign-in (:data:`SIGN_INS`): the plain one; ``L2`` — assurance level L2, asked both
   ways (``acr_values``, OIDC Core §3.1.2.1, and an essential ``acr`` claim, §5.5.1.1); ``L3``
   — the same for L3 (second factor + face verification); or
   ``id_card`` — also the scope that releases the citizen ID number (at UserInfo).
2. ``finish`` at the callback: consume ``state``; check ``iss`` (RFC 9207); stop on ``error``;
   redeem the code (``client_secret_basic``); check the ID token with python-jose
   (:mod:`.tokens`); read UserInfo (:mod:`.provider`); start a new portal session.
3. ``refresh``: the refresh-token grant (RFC 6749 §6); a new ID token is checked as in §12.2.
4. ``end_session_url``: RP-Initiated Logout 1.0 §2 — where to send the browser to end the IdP
   session itself (every channel of it then gets a back-channel logout token).

Tokens live in the server-side store; the browser's cookie holds only a random session id.
A back-channel logout from the IdP ends the session there (:mod:`.logout`); the next page load
says so.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import OAuthError
from flask import flash, session
from joserfc.errors import JoseError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from .config import PortalConfig
from .errors import PortalError
from .logout import PortalSessions
from .provider import check_metadata, fetch_userinfo, idp_unreachable
from .responses import AuthorizationError, check_response_issuer
from .store import MemoryStore
from .tokens import IdTokenError, JwksCache, check_refreshed, validate_id_token

SESSION_TTL = 8 * 3600  # seconds a portal sign-in is kept on the server
PENDING_KEY = "pending_logins"  # state -> nonce of sign-ins started in this browser
MAX_PENDING = 5  # sign-ins one browser may have open at once (tabs)


def essential_acr(level: str) -> str:
    """The essential acr request (OIDC Core §5.5.1.1): the IdP must reach ``level`` or refuse;
    acr_values alone would only be a preference."""
    return json.dumps({"id_token": {"acr": {"essential": True, "values": [level]}}},
                      separators=(",", ":"))


L2_CLAIMS = essential_acr("L2")  # a second factor
L3_CLAIMS = essential_acr("L3")  # a second factor and face verification
ID_CARD_SCOPE = "id_card"  # releases id_number at UserInfo (staff permission + consent)
# Sign-in kind (the ``kind`` form field of /login) -> what it adds to the configured request.
# The id_card sign-in does not ask for id_number in the ID token (claims parameter): the portal
# sends its ID token back through the browser as id_token_hint at sign-out, so the number
# comes from UserInfo only, server to server.
SIGN_INS: dict[str, dict[str, str]] = {
    "": {},
    "L2": {"acr_values": "L2", "claims": L2_CLAIMS},
    "L3": {"acr_values": "L3", "claims": L3_CLAIMS},
    ID_CARD_SCOPE: {},  # the scope is added in ``authorization_params``
}


def authorization_params(kind: str, scope: str) -> dict[str, str]:
    """The extra authorization request parameters of one sign-in kind."""
    if kind not in SIGN_INS:
        raise PortalError(
            "unknown_sign_in",
            "This portal offers no such sign-in.",
            "本门户没有这种登录方式。",
        )
    params = dict(SIGN_INS[kind])
    if kind == ID_CARD_SCOPE:
        params["scope"] = f"{scope} {ID_CARD_SCOPE}"
    return params


def load_metadata(client: Any, issuer: str) -> Mapping[str, Any]:
    """The IdP's discovery document (fetched once by Authlib), checked against our issuer."""
    try:
        metadata: Mapping[str, Any] = client.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        raise idp_unreachable("discovery", exc) from None
    check_metadata(metadata, issuer)
    return metadata


@dataclass
class RelyingParty:
    """Everything the views need, created once by ``create_app``."""

    config: PortalConfig
    client: Any  # Authlib's FlaskOAuth2App, registered as "idp"
    store: MemoryStore
    jwks: JwksCache
    sessions: PortalSessions

    def metadata(self) -> Mapping[str, Any]:
        return load_metadata(self.client, self.config.issuer)

    # --- the portal's own session ----------------------------------------------------------

    def current(self) -> dict[str, Any] | None:
        """The signed-in record of this browser, or None."""
        sid = session.get("sid")
        record = self.store.get(f"session:{sid}") if isinstance(sid, str) else None
        if sid is not None and record is None:
            session.pop("sid", None)  # expired, ended by the IdP, or the portal restarted
            if isinstance(sid, str) and self.sessions.ended_by_idp(sid):
                flash(
                    "您在一网通办统一身份认证平台的登录已结束，本门户的登录也随之结束。"
                    " / Your Unified Identity session has ended, so this portal signed you out too."
                )
        return record

    def save(self, record: dict[str, Any]) -> None:
        self.store.set(f"session:{session['sid']}", record, SESSION_TTL)
        self.sessions.remember(session["sid"], record["claims"])

    def end_session_url(self, record: Mapping[str, Any]) -> str:
        """The IdP's ``end_session_endpoint`` with ``id_token_hint`` (so the IdP signs out
        without asking) and our registered ``post_logout_redirect_uri``, the home page."""
        endpoint = self.metadata().get("end_session_endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise PortalError(
                "no_end_session",
                "The identity provider does not offer sign-out for relying parties "
                "(no end_session_endpoint).",
                "统一身份认证平台未提供依赖方发起的退出（没有 end_session_endpoint）。",
                status=502,
            )
        params = {
            "id_token_hint": record["id_token"],
            "client_id": self.config.client_id,
            "post_logout_redirect_uri": f"{self.config.base_url}/",
        }
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

    def sign_out(self) -> None:
        """Forget the tokens and the session here; the IdP's SSO session is untouched."""
        sid = session.get("sid")
        if isinstance(sid, str):
            self.store.delete(f"session:{sid}")
        session.clear()

    # --- the flow --------------------------------------------------------------------------

    def start(self, kind: str = "") -> Response:
        params = authorization_params(kind, self.config.scope)
        self.metadata()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        pending = dict(session.get(PENDING_KEY) or {})
        pending[state] = nonce
        session[PENDING_KEY] = dict(list(pending.items())[-MAX_PENDING:])
        response: Response = self.client.authorize_redirect(
            self.config.redirect_uri, state=state, nonce=nonce, **params
        )
        return response

    def finish(self, args: MultiDict[str, str]) -> None:
        state = args.get("state", "")
        pending = dict(session.get(PENDING_KEY) or {})
        nonce = pending.pop(state, None)
        session[PENDING_KEY] = pending
        try:
            metadata = self.metadata()
            check_response_issuer(
                args.get("iss"),
                self.config.issuer,
                bool(metadata.get("authorization_response_iss_parameter_supported")),
            )
            if nonce is None:
                raise PortalError(
                    "unknown_state",
                    "This sign-in response does not belong to a sign-in started in this "
                    "browser, or it was already used. Please sign in again.",
                    "该登录响应不属于在本浏览器发起的登录，或已被使用过，请重新登录。",
                )
            if "error" in args:
                raise AuthorizationError(args["error"], args.get("error_description"))
        except PortalError:
            self.client.framework.clear_state_data(session, state)
            raise

        token, claims = self._redeem_code(nonce)
        userinfo = fetch_userinfo(
            metadata["userinfo_endpoint"],
            token["access_token"],
            claims["sub"],
            self.config.http_timeout,
        )
        session.clear()  # a new session id after sign-in (no session fixation)
        session["sid"] = secrets.token_urlsafe(32)
        self.save(
            {
                "claims": claims,
                "userinfo": userinfo,
                "access_token": token["access_token"],
                "refresh_token": token.get("refresh_token"),
                "id_token": token["id_token"],
                "expires_at": token.get("expires_at"),
                "scope": token.get("scope") or self.config.scope,
                "nonce": nonce,
            }
        )

    def refresh(self, record: dict[str, Any]) -> None:
        if not record["refresh_token"]:
            raise PortalError(
                "no_refresh_token",
                "The identity provider issued no refresh token (the offline_access scope "
                "was not granted to this portal).",
                "统一身份认证平台未签发刷新令牌（本门户未获得 offline_access 授权）。",
            )
        try:
            token = self.client.fetch_access_token(
                grant_type="refresh_token",
                refresh_token=record["refresh_token"],
                scope=record["scope"],
            )
        except OAuthError as exc:
            if exc.error == "invalid_grant":  # revoked, expired, or the SSO session ended
                self.sign_out()
            raise AuthorizationError(exc.error or "server_error", exc.description) from None
        except (requests.RequestException, ValueError) as exc:
            raise idp_unreachable("token endpoint", exc) from None
        if "id_token" in token:  # OIDC Core §12.2
            claims = self.check_id_token(token, record["nonce"], nonce_required=False)
            check_refreshed(record["claims"], claims)
            record.update(claims=claims, id_token=token["id_token"])
        record.update(
            access_token=token["access_token"],
            # Refresh tokens rotate: keep the new one; the old one is spent.
            refresh_token=token.get("refresh_token") or record["refresh_token"],
            expires_at=token.get("expires_at"),
        )
        self.save(record)

    def check_id_token(
        self, token: Mapping[str, Any], nonce: str, *, nonce_required: bool = True
    ) -> dict[str, Any]:
        """Our own, independent check of the ID token of a token response (python-jose)."""
        if not isinstance(token.get("id_token"), str):
            raise PortalError(
                "no_id_token", "The token response has no ID token.", "令牌响应中没有 ID 令牌。"
            )
        return validate_id_token(
            token["id_token"],
            self.jwks,
            issuer=self.config.issuer,
            client_id=self.config.client_id,
            nonce=nonce,
            nonce_required=nonce_required,
            access_token=token.get("access_token"),
            leeway=self.config.leeway,
        )

    def _redeem_code(self, nonce: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The token request (Authlib sends code, redirect_uri and code_verifier with HTTP
        Basic), then our ID token check. Returns the token response and the verified claims."""
        try:
            token: dict[str, Any] = self.client.authorize_access_token()
        except OAuthError as exc:
            raise AuthorizationError(exc.error or "server_error", exc.description) from None
        except (JoseError, AuthlibBaseError) as exc:
            # Authlib's own ID token check failed. Ours names the reason in plain words;
            # Authlib keeps the token response it fetched on ``client.token`` for this request.
            self.check_id_token(self.client.token or {}, nonce)
            raise IdTokenError(
                "id_token_rejected",
                f"The ID token failed the OIDC client library's checks ({exc.error}).",
                f"ID 令牌未通过 OIDC 客户端库的校验（{exc.error}）。",
            ) from None
        except (requests.RequestException, ValueError) as exc:
            raise idp_unreachable("token endpoint", exc) from None
        return token, self.check_id_token(token, nonce)
