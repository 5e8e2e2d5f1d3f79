"""The Authlib authorization server, bound to our services.

Registers the grants and the RFC 9207 ``iss`` response parameter. ``save_token`` is a no-op:
tokens are persisted by :class:`idp.tokens.TokenService` as they are minted. Grant selection
names a missing ``response_type`` / ``grant_type`` as ``invalid_request`` (RFC 6749 §4.1.2.1,
§5.2: "missing a required parameter") and says what is supported when the value is unknown.
Only ``active`` clients are found; a dynamically registered client still ``pending`` is told
so — at the authorization endpoint, and at the token endpoints once it has authenticated.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer as _FlaskServer
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidRequestError,
    UnsupportedGrantTypeError,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc9207 import IssuerParameter

from idp.clients.registration import AWAITING_APPROVAL
from idp.container import Services
from idp.errors import ClientGone
from idp.oidc.device_grant import DeviceAuthorizationEndpoint, DeviceCodeGrant
from idp.oidc.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    OpenIDCode,
    OpenIDToken,
    RefreshTokenGrant,
    S256CodeChallenge,
)
from idp.oidc.introspection import IntrospectionEndpoint
from idp.oidc.models import OAuthClient
from idp.oidc.registration import ConfigurationEndpoint, RegistrationEndpoint
from idp.oidc.revocation import RevocationEndpoint
from idp.oidc.token_exchange import TokenExchangeGrant


class _Issuer(IssuerParameter):  # type: ignore[misc]
    def __init__(self, issuer: str) -> None:
        self._issuer = issuer

    def get_issuer(self) -> str:
        return self._issuer


class _MissingGrantType(UnsupportedGrantTypeError):  # type: ignore[misc]
    """No ``grant_type`` at all. A subclass so Authlib's token endpoint answers it like an
    unsupported one, but RFC 6749 §5.2 names a missing required parameter invalid_request."""

    error = "invalid_request"

    def __init__(self) -> None:
        super().__init__(None)
        self.description = "grant_type is required (in a form-encoded request body)"


class AuthorizationServer(_FlaskServer):  # type: ignore[misc]
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.scopes_supported = None
        self._error_uris = None

    def load_config(self, config: Any) -> None:  # tokens are minted by the grants
        return None

    def query_client(self, client_id: str) -> OAuthClient | None:
        if not client_id or len(client_id) > 128 or not client_id.isprintable():
            return None  # never a registered id; and PostgreSQL refuses NUL in a query
        record = self.services.clients.get(client_id)
        if record is None or record.status != "active":
            return None
        return OAuthClient(record, self.services.policies)

    def authenticate_client(self, request: Any, methods: Any, endpoint: str = "token") -> Any:
        """Authlib's; a pending client that presented its right credentials learns why it is
        refused (anyone else gets Authlib's generic invalid_client)."""
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError:
            client_id, secret = extract_basic_authorization(request.headers)
            if not client_id:
                client_id = request.payload.client_id
                secret = request.payload.data.get("client_secret")
            record = self.services.clients.get(client_id) if client_id else None
            if record is not None and record.status == "pending" and (
                    record.is_public or record.check_secret(secret or "")):
                raise InvalidClientError(status_code=401,
                                         description=AWAITING_APPROVAL) from None
            raise

    def get_authorization_grant(self, request: Any) -> Any:
        client_id = request.payload.client_id
        record = self.services.clients.get(client_id) if client_id else None
        if record is not None and record.status == "pending":
            raise InvalidClientError(description=AWAITING_APPROVAL)
        if any(cls.check_authorization_endpoint(request)
               for cls, _ in self._authorization_grants):
            return super().get_authorization_grant(request)
        # Authlib's own error would echo the value, and fails on a quote or non-ASCII in it
        # (RFC 6749 §5.2 limits error_description to printable ASCII without " and \).
        redirect_uri = self._verified_redirect_uri(request)
        if not request.payload.response_type:
            raise InvalidRequestError("response_type is required; use response_type=code",
                                      redirect_uri=redirect_uri)
        raise UnsupportedResponseTypeError(request.payload.response_type,
                                           "only response_type=code is supported",
                                           redirect_uri=redirect_uri)

    def _verified_redirect_uri(self, request: Any) -> str | None:
        """The request's redirect URI if it is registered to its client, else None: an error
        may be redirected only there (RFC 6749 §4.1.2.1)."""
        client_id, uri = request.payload.client_id, request.payload.redirect_uri
        client = self.query_client(client_id) if client_id else None
        if client is None or not uri or not client.check_redirect_uri(uri):
            return None
        return str(uri)

    def get_token_grant(self, request: Any) -> Any:
        if not request.payload.grant_type:
            raise _MissingGrantType()
        try:
            return super().get_token_grant(request)
        except UnsupportedGrantTypeError as error:
            error.description = ("this grant_type is not supported "
                                 "(see grant_types_supported in the discovery document)")
            raise

    def create_token_response(self, request: Any = None) -> Any:
        try:
            return super().create_token_response(request)
        except ClientGone:  # deleted meanwhile (another node's cache still had it)
            return self.handle_error_response(request, InvalidClientError(
                status_code=401, description="this client no longer exists"))

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
    server.register_grant(DeviceCodeGrant, [OpenIDToken(server)])
    server.register_endpoint(DeviceAuthorizationEndpoint(server))
    server.register_grant(TokenExchangeGrant)
    server.register_endpoint(RevocationEndpoint(server))
    server.register_endpoint(IntrospectionEndpoint(server))
    server.register_endpoint(RegistrationEndpoint(server))  # RFC 7591 (idp.oidc.registration)
    server.register_endpoint(ConfigurationEndpoint(server))  # RFC 7592
    server.register_extension(_Issuer(services.settings.issuer))
    return server
