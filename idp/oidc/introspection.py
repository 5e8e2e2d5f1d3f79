"""Token introspection (RFC 7662): Authlib's endpoint, with only the hooks supplied.

Who may introspect (§2.1, and §4: "the authorization server MUST require authentication of
protected resources"): a client of a channel in :data:`INTROSPECTING_CHANNELS` — the ``service``
channel, department back-ends acting as resource servers — may introspect any token; any other
confidential client only the tokens issued to it. Public clients cannot authenticate here. A
token the caller may not see is answered ``{"active": false}``, exactly like an unknown one
(§2.2: never tell whether it exists).

A token is active when Authlib's own checks pass (it is ours, not expired, not revoked and —
a refresh token — not rotated) and then every step of :data:`STILL_CURRENT`, in order: its SSO
session still exists (a sign-out ends the session), its account and its client are still
active. ``token_type_hint`` only orders the look-ups; an unknown hint is ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint

from idp.clock import as_aware
from idp.container import Services
from idp.oidc.models import IssuedToken, OAuthClient

AUTH_METHODS = ("client_secret_basic", "client_secret_post")
INTROSPECTING_CHANNELS = ("service",)

# Claims of an access token repeated in its introspection answer (RFC 7662 §2.2, RFC 9068 §2.2).
ACCESS_CLAIMS = ("scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti", "sid",
                 "channel", "acr", "auth_time", "act")


def session_alive(services: Services, token: IssuedToken) -> bool:
    """Access tokens end with their SSO session. Refresh tokens (``offline_access``) outlive
    the browser session's absolute lifetime, as the refresh grant allows; a sign-out revokes
    them explicitly (by ``sid``), which Authlib's revocation check already sees."""
    sid = token.row.sid
    if sid is None or token.found.kind == "refresh_token":
        return True
    return services.sso.get(sid) is not None


def account_active(services: Services, token: IssuedToken) -> bool:
    account_id = token.row.account_id
    if account_id is None:
        return True  # client credentials: no citizen
    account = services.accounts.get(account_id)
    return account is not None and account.status == "active"


def client_active(services: Services, token: IssuedToken) -> bool:
    client = services.clients.get(token.row.client_id)
    return client is not None and client.status == "active"


STILL_CURRENT: tuple[Callable[[Services, IssuedToken], bool], ...] = (
    session_alive, account_active, client_active)


class IntrospectionEndpoint(_IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = list(AUTH_METHODS)

    def check_params(self, request: Any, client: OAuthClient) -> None:
        if not request.form.get("token"):
            raise InvalidRequestError("token is required (in a form-encoded request body)")

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        found = self.server.services.tokens.find(token_string, token_type_hint)
        return IssuedToken(found) if found is not None else None

    def check_permission(self, token: IssuedToken, client: OAuthClient, request: Any) -> bool:
        return client.record.channel in INTROSPECTING_CHANNELS or token.check_client(client)

    def introspect_token(self, token: IssuedToken) -> dict[str, Any]:
        services: Services = self.server.services
        if not all(step(services, token) for step in STILL_CURRENT):
            return {"active": False}
        if token.found.kind == "access_token":
            claims = token.found.claims
            body = {name: claims[name] for name in ACCESS_CLAIMS if name in claims}
            return {"active": True, **body, "token_type": "Bearer"}
        row = token.row
        record = services.clients.get(row.client_id)
        if record is None:
            return {"active": False}
        # The access token's own `sub` above; here the same value: the citizen as the token's
        # client sees them (public or pairwise, idp.accounts.subjects), or the client itself.
        sub = services.subjects.sub_for(row.account_id, record) if row.account_id \
            else row.client_id
        refresh: dict[str, Any] = {
            "active": True, "scope": row.scope, "client_id": row.client_id,
            "sub": sub, "exp": token.found.expires_at,
            "iat": int(as_aware(row.issued_at).timestamp()), "token_type": "refresh_token"}
        if row.sid:
            refresh["sid"] = row.sid
        return refresh
