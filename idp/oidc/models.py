"""Adapters that give our records the interfaces Authlib's grants call (ClientMixin, TokenMixin).

The records themselves stay plain domain objects; these wrappers only answer Authlib's questions.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, scope_to_list

from idp.clients import ChannelPolicies, ClientRecord
from idp.clock import as_aware
from idp.sessions import SsoSession
from idp.store.models import Account, Token
from idp.tokens import PresentedToken


def loopback_without_port(uri: str) -> str | None:
    """``http://127.0.0.1:PORT/path`` → ``http://127.0.0.1/path`` (also ``[::1]``); else None."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "::1") or port is None:
        return None
    host = "[::1]" if parts.hostname == "::1" else "127.0.0.1"
    if parts.username or parts.password or parts.fragment:
        return None
    return urlunsplit(("http", host, parts.path, parts.query, ""))


@dataclass(frozen=True)
class Principal:
    """The signed-in citizen at the authorization endpoint: account + SSO session."""

    account: Account
    session: SsoSession

    @property
    def id(self) -> str:
        return self.account.id


class OAuthClient(ClientMixin):  # type: ignore[misc]
    def __init__(self, record: ClientRecord, policies: ChannelPolicies) -> None:
        self.record = record
        self.policies = policies
        self.client_id = record.client_id
        self.id_token_signed_response_alg = record.id_token_signed_response_alg
        self.client_metadata: dict[str, object] = {}

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OIDC requires redirect_uri in every authorization request: never guess one.
        return None

    def get_allowed_scope(self, scope: str) -> str:
        """The requested scopes this client may have: its registered ones, plus ``id_card``
        when staff allowed it (``clients.extra["id_card_allowed"]``, :mod:`idp.oidc.id_card`)."""
        if not scope:
            return ""
        allowed = set(self.record.scopes)
        if self.record.extra.get("id_card_allowed") is True:
            allowed.add("id_card")
        return " ".join(s for s in scope_to_list(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string match (RFC 9700 §4.1.3), except that a native app's loopback IP
        redirect URI may carry any port (RFC 8252 §7.3): the app listens on an ephemeral one."""
        if redirect_uri in self.record.redirect_uris:
            return True
        return self.record.is_public and loopback_without_port(redirect_uri) in \
            self.record.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.record.check_secret(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.record.is_public:
            return method == "none"
        # Confidential clients may use either secret method; never "none".
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.check_grant_type("authorization_code")

    def check_grant_type(self, grant_type: str) -> bool:
        """The channel's policy decides, now (a policy change applies to existing clients)."""
        return self.policies.allows_grant(self.record.channel, grant_type)


class RefreshCredential(TokenMixin):  # type: ignore[misc]
    """A refresh-token record that was just (atomically) rotated."""

    def __init__(self, row: Token) -> None:
        self.row = row

    def check_client(self, client: OAuthClient) -> bool:
        return self.row.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return 0

    def is_expired(self) -> bool:
        expires = self.row.refresh_expires_at
        return expires is None or as_aware(expires).timestamp() <= 0

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None


class IssuedToken(TokenMixin):  # type: ignore[misc]
    """A token presented to the revocation or introspection endpoint (RFC 7009, RFC 7662)."""

    def __init__(self, found: PresentedToken) -> None:
        self.found = found

    @property
    def row(self) -> Token:
        return self.found.row

    def check_client(self, client: OAuthClient) -> bool:
        return self.found.row.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.found.row.scope

    def get_expires_in(self) -> int:
        return 0

    def is_expired(self) -> bool:
        return self.found.expired

    def is_revoked(self) -> bool:
        return self.found.revoked
