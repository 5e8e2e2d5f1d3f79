"""Grants: Authlib's, with only the storage and policy hooks supplied.

- Authorization code (RFC 6749 §4.1) + PKCE (RFC 7636, S256 only; required for public clients)
  + OpenID Connect (Core §3.1): codes come from :class:`idp.tokens.CodeStore` (atomic
  single-use); a replayed code revokes what it issued (RFC 6749 §4.1.2, RFC 9700 §4.2.1).
- Refresh token (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2); a refresh
  past the channel's ``session_absolute`` is ``invalid_grant`` saying the citizen must sign in
  again (the limits themselves are kept by :class:`idp.tokens.TokenService`).
- Client credentials (RFC 6749 §4.4) for department back-end services.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode as _OpenIDCode
from authlib.oidc.core import OpenIDToken as _OpenIDToken

from idp.clock import as_aware
from idp.oidc.acr import AcrNames
from idp.oidc.claims_request import from_code
from idp.oidc.id_card import release_claims
from idp.oidc.id_tokens import IdTokenSigner
from idp.oidc.models import OAuthClient, Principal, RefreshCredential
from idp.store.models import Account
from idp.tokens import AuthorizationCode, IssueContext

SESSION_LIMIT_REACHED = ("the session reached its maximum length for this channel: "
                         "the citizen must sign in again")


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only (``plain`` offers no protection against a leaked challenge).

    A code bound to a challenge and redeemed without a verifier is ``invalid_grant``, as with a
    wrong verifier (RFC 7636 §4.6): the grant cannot be verified.
    """

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        code = grant.request.authorization_code
        if (code is not None and self.get_authorization_code_challenge(code)
                and not grant.request.form.get("code_verifier")):
            raise InvalidGrantError("this code was requested with a code_challenge: "
                                    "send its code_verifier")
        super().validate_code_verifier(grant, result)


class _IssuesTokens:
    """Mint tokens through :class:`idp.tokens.TokenService` with the grant's full context."""

    request: Any
    server: Any
    GRANT_TYPE: str

    def _context(self, user: Account | None, scope: str, include_refresh: bool) -> IssueContext:
        client: OAuthClient = self.request.client
        code: AuthorizationCode | None = getattr(self.request, "authorization_code", None)
        refresh: RefreshCredential | None = getattr(self.request, "refresh_token", None)
        ctx: dict[str, Any] = {}
        if code is not None:
            ctx = {"sid": code.sid, "auth_time": code.auth_time, "acr": code.acr,
                   "amr": tuple(code.amr), "code_digest": code.code_digest}
            userinfo_claims = from_code(getattr(code, "claims", None)).userinfo
            if userinfo_claims:
                ctx["userinfo_claims"] = userinfo_claims
        elif refresh is not None:
            row = refresh.row
            ctx = {"sid": row.sid, "auth_time": row.auth_time, "acr": row.acr,
                   "amr": tuple(row.amr or ()), "family_id": row.family_id,
                   "code_digest": row.code_digest}
            if row.session_expires_at is not None:
                ctx["session_expires_at"] = int(as_aware(row.session_expires_at).timestamp())
        return IssueContext(client=client.record, account_id=user.id if user else None,
                            scope=scope or "", grant_type=self.GRANT_TYPE,
                            include_refresh=include_refresh, **ctx)

    def generate_token(self, user: Account | None = None, scope: str | None = None,
                       grant_type: str | None = None, expires_in: int | None = None,
                       include_refresh_token: bool = True) -> dict[str, Any]:
        ctx = self._context(user, scope or "", include_refresh_token)
        token: dict[str, Any] = self.server.services.tokens.issue(ctx)
        return token


class AuthorizationCodeGrant(_IssuesTokens, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    @staticmethod
    def validate_authorization_redirect_uri(request: Any, client: OAuthClient) -> str:
        """Required, and exactly a registered one (OIDC Core §3.1.2.1, RFC 9700 §4.1.3). The
        error does not echo the URI: it is the requester's text, and Authlib refuses quotes or
        non-ASCII in an error_description (which would end as a server error)."""
        redirect_uri = request.payload.redirect_uri
        if not redirect_uri:
            raise InvalidRequestError("redirect_uri is required")
        if not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError("redirect_uri is not registered for this client "
                                      "(it must match a registered redirect URI exactly)")
        return str(redirect_uri)

    def generate_authorization_code(self) -> str:
        return str(self.server.services.codes.new_value())

    def save_authorization_code(self, code: str, request: Any) -> None:
        principal: Principal = request.user
        payload = request.payload
        claims = payload.data.get("claims")
        self.server.services.codes.save(code, AuthorizationCode(
            client_id=request.client.get_client_id(),
            account_id=principal.account.id,
            redirect_uri=payload.redirect_uri,
            scope=request.client.get_allowed_scope(payload.scope),
            sid=principal.session.sid,
            auth_time=principal.session.auth_time,
            acr=principal.session.acr,
            amr=list(principal.session.amr),
            nonce=payload.data.get("nonce"),
            code_challenge=payload.data.get("code_challenge"),
            code_challenge_method=payload.data.get("code_challenge_method"),
            claims={"raw": claims} if claims else None,
        ))

    def query_authorization_code(self, code: str, client: OAuthClient) -> Any:
        services = self.server.services
        found = services.codes.redeem(code)
        if found is None:
            digest = services.codes.mark_replayed(code)
            if digest is not None:
                revoked = services.tokens.revoke_by_code(digest)
                services.audit.record(client.get_client_id(), "token:code:reuse",
                                      client_id=client.get_client_id(),
                                      extra={"revoked": revoked})
            return None
        if found.client_id != client.get_client_id():
            return None
        return found

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # Already consumed atomically in query_authorization_code. A replay that raced this
        # redemption marked the code: revoke what we just issued.
        services = self.server.services
        if services.codes.was_replayed(authorization_code.code_digest):
            services.tokens.revoke_by_code(authorization_code.code_digest)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Account | None:
        account: Account | None = self.server.services.accounts.get(
            authorization_code.account_id)
        if account is None or account.status != "active":
            return None
        return account

    def generate_token(self, user: Account | None = None, scope: str | None = None,
                       grant_type: str | None = None, expires_in: int | None = None,
                       include_refresh_token: bool = True) -> dict[str, Any]:
        include = include_refresh_token and "offline_access" in (scope or "").split()
        return super().generate_token(user, scope, grant_type, expires_in, include)


class RefreshTokenGrant(_IssuesTokens, grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    @property
    def INCLUDE_NEW_REFRESH_TOKEN(self) -> bool:  # noqa: N802 — Authlib's attribute name
        """A new refresh token on every use, unless the channel's policy turns rotation off."""
        return self._rotates()

    def _rotates(self) -> bool:
        client: OAuthClient = self.request.client
        return bool(client.policies.policy(client.record.channel).refresh_rotation)

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshCredential:
        client: OAuthClient = self.request.client
        services = self.server.services
        row = services.tokens.rotate_refresh(
            refresh_token, client.get_client_id(), rotate=self._rotates())
        if row is None:
            if services.tokens.session_limit_reached(refresh_token, client.get_client_id()):
                raise InvalidGrantError(SESSION_LIMIT_REACHED)
            raise InvalidGrantError("the refresh token is invalid, expired or revoked, "
                                    "or was issued to another client")
        channel = client.record.channel
        if row.sid and client.policies.policy(channel).session_absolute == 0:
            # No session limit: the SSO record must outlive this refresh token, so that ending
            # the session still finds and revokes it (idp.sessions.service, record expiry).
            session = services.sso.get(row.sid)
            if session is not None:
                services.sso.add_client(session, client.get_client_id(), channel)
        return RefreshCredential(row)

    def authenticate_user(self, refresh_token: RefreshCredential) -> Account | None:
        account_id = refresh_token.row.account_id
        account: Account | None = (
            self.server.services.accounts.get(account_id) if account_id else None)
        if account is None or account.status != "active":
            return None
        return account

    def revoke_old_credential(self, refresh_token: RefreshCredential) -> None:
        # Rotation already marked the old token used (atomically) before issuing.
        return None


class ClientCredentialsGrant(_IssuesTokens, grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class OpenIDToken(_OpenIDToken):  # type: ignore[misc]
    """ID tokens, ``iss sub aud exp iat auth_time nonce acr amr sid azp``, for every grant whose
    request carries the citizen's sign-in as ``request.authorization_code`` (Authlib's hook
    reads it there): the code flow, and the device grant (:mod:`idp.oidc.device_grant`)."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self._id_tokens = IdTokenSigner(server.services)

    def resolve_client_private_key(self, client: OAuthClient) -> Any:
        return self._id_tokens.signer(client).key

    def get_encode_header(self, client: OAuthClient) -> dict[str, str]:
        return self._id_tokens.header(client)

    def get_client_claims(self, client: OAuthClient) -> dict[str, Any]:
        return self._id_tokens.client_claims(client)

    def get_authorization_code_claims(self, authorization_code: AuthorizationCode
                                      ) -> dict[str, Any]:
        claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
        claims["sid"] = authorization_code.sid
        claims["auth_time"] = authorization_code.auth_time
        if claims.get("acr"):  # the configured name of the level ([assurance])
            claims["acr"] = AcrNames.of(self._server.services.settings.assurance).external(
                claims["acr"])
        claims.update(self._id_card_claims(authorization_code))
        return claims

    def _id_card_claims(self, code: Any) -> dict[str, Any]:
        """``id_number`` / ``verified_claims`` when the ``claims`` parameter's ``id_token``
        member asks for them (:mod:`idp.oidc.id_card`); device authorizations have none."""
        requested = from_code(getattr(code, "claims", None)).id_token
        if not requested or not isinstance(code, AuthorizationCode):
            return {}
        services = self._server.services
        account = services.accounts.get(code.account_id)
        record = services.clients.get(code.client_id)
        if account is None or record is None:
            return {}
        return release_claims(services, account, client_id=code.client_id, scope=code.scope,
                              acr=AcrNames.of(services.settings.assurance).external(code.acr),
                              requested=requested, endpoint="id_token",
                              channel=record.channel)

    def get_compatible_claims(self, request: Any) -> dict[str, Any]:
        # ``sub`` depends on the client (public or pairwise, Core §8): set here, where both
        # the citizen and the client are known.
        claims: dict[str, Any] = super().get_compatible_claims(request)
        claims["sub"] = self._server.services.subjects.sub_for(request.user.id,
                                                               request.client.record)
        return claims

    def generate_user_info(self, user: Account, scope: str) -> dict[str, Any]:
        # Scope claims are served by userinfo (Core §5.4); the ID token carries `sub` only,
        # from get_compatible_claims (Authlib merges this dict last: it must not hold `sub`).
        return {}


class OpenIDCode(OpenIDToken, _OpenIDCode):  # type: ignore[misc]
    """The code flow's ID tokens: :class:`OpenIDToken` plus the authorization request's
    ``nonce`` and ``prompt`` checks (Authlib's OpenIDCode hooks)."""

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        self.require_nonce = False

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return False  # nonces are bound to the code and checked by the client (Core §3.1.3.7)
