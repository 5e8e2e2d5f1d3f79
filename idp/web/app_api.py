"""Bearer authentication for the citizen app's JSON API (QR approvals, device approvals).

The app calls these endpoints with its own access token (RFC 6750 header). Only tokens issued to
an ``app``-channel client, with the ``openid`` scope, whose SSO session is still alive, act for
the citizen; anything else gets a JSON error with the RFC 6750 challenge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, jsonify, request

from idp.oidc.models import Principal
from idp.tokens import AccessTokenInfo
from idp.web.principal import services


@dataclass(frozen=True)
class AppCaller:
    token: AccessTokenInfo
    principal: Principal


class AppAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def response(self) -> Response:
        resp = jsonify(error=self.error, error_description=self.description)
        resp.status_code = self.status
        if self.status in (401, 403):
            resp.headers["WWW-Authenticate"] = (
                f'Bearer realm="app", error="{self.error}", '
                f'error_description="{self.description}"')
        resp.headers["Cache-Control"] = "no-store"
        return resp


def require_app_caller() -> AppCaller:
    """The citizen behind the request's app access token, or raise :class:`AppAuthError`."""
    svc = services()
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AppAuthError(401, "invalid_token", "send the app's access token as Bearer")
    info = svc.tokens.validate_access_token(value.strip())
    if info is None or info.account_id is None:
        raise AppAuthError(401, "invalid_token", "the access token is invalid, expired or revoked")
    client = svc.clients.get(info.client_id)
    if client is None or client.channel != "app":
        raise AppAuthError(403, "insufficient_scope", "only the citizen app may call this API")
    if "openid" not in info.scope.split():
        raise AppAuthError(403, "insufficient_scope", "the access token lacks the openid scope")
    session = svc.sso.get(info.sid)
    if session is None or session.account_id != info.account_id:
        raise AppAuthError(401, "invalid_token", "the app's sign-in session has ended")
    account = svc.accounts.get(info.account_id)
    if account is None or account.status != "active":
        raise AppAuthError(401, "invalid_token", "the account is not active")
    return AppCaller(token=info, principal=Principal(account=account, session=session))


def json_error(status: int, error: str, description: str, **extra: Any) -> Response:
    resp = jsonify(error=error, error_description=description, **extra)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp
