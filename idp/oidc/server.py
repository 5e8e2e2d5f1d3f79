"""The Authlib authorization server, bound to our services.

Registers the grants and the RFC 9207 ``iss`` response parameter. ``save_token`` is a no-op:
tokens are persisted by :class:`idp.tokens.TokenService` as they are minted.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer as _FlaskServer
from authlib.oauth2.rfc9207 import IssuerParameter

from idp.container import Services
from idp.oidc.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    OpenIDCode,
    RefreshTokenGrant,
    S256CodeChallenge,
)
from idp.oidc.models import OAuthClient


class _Issuer(IssuerParameter):  # type: ignore[misc]
    def __init__(self, issuer: str) -> None:
        self._issuer = issuer

    def get_issuer(self) -> str:
        return self._issuer


class AuthorizationServer(_FlaskServer):  # type: ignore[misc]
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.scopes_supported = None
        self._error_uris = None

    def load_config(self, config: Any) -> None:  # tokens are minted by the grants
        return None

    def query_client(self, client_id: str) -> OAuthClient | None:
        record = self.services.clients.get(client_id)
        if record is None or record.status != "active":
            return None
        return OAuthClient(record)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        return None

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


def create_authorization_server(services: Services) -> AuthorizationServer:
    server = AuthorizationServer(services)
    server.register_grant(AuthorizationCodeGrant,
                          [S256CodeChallenge(required=True), OpenIDCode(server)])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_extension(_Issuer(services.settings.issuer))
    return server
