"""Issue, validate, rotate and revoke tokens.

Access tokens are JWTs per RFC 9068 (header ``typ: at+jwt``; claims ``iss sub aud exp iat jti
client_id scope channel sid auth_time acr``, and ``act`` when someone acts for the subject,
RFC 8693 §4.1), verifiable by any resource server from the JWKS alone; the
IdP also keeps a row per issuance (by ``jti``) so it can revoke them. Refresh tokens are opaque,
stored as SHA-256 digests, and rotate on every use: presenting a rotated one again is reuse and
revokes the whole family (RFC 9700 §4.14.2). :meth:`TokenService.find` matches a presented token
to its record whatever its state, for revocation (RFC 7009) and introspection (RFC 7662).

Session limits per channel (``[channels.*]``): a refresh token expires ``refresh_token_ttl``
after its issuance (the idle timeout; every rotation starts it again), and no token of a family
lives beyond the channel's ``session_absolute`` counted from the family's first issuance (the
channel's sign-in), kept in ``session_expires_at`` through every rotation.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from idp.accounts.subjects import SubjectService
from idp.audit import AuditTrail
from idp.clients import ChannelPolicies, ClientRecord
from idp.clock import Clock, as_aware, system_clock, to_datetime
from idp.errors import ClientGone, KeyMaterialError
from idp.keys import KeyService
from idp.store.lookup import OneRow, RowInsert, RowLookup
from idp.store.models import Client, Token

# The columns an issuance writes (the rest start NULL).
_ISSUED = ("access_jti", "refresh_digest", "family_id", "code_digest", "client_id", "account_id",
           "scope", "sid", "auth_time", "acr", "amr", "issued_at", "access_expires_at",
           "refresh_expires_at", "session_expires_at", "purge_after", "kid")
# Mark a refresh token used, if it is still usable, and return its record (UPDATE … RETURNING:
# PostgreSQL, and SQLite since 3.35). Two redemptions racing: only one UPDATE matches.
_ROTATE = (
    update(Token)
    .where(Token.refresh_digest == bindparam("digest"), Token.client_id == bindparam("client"),
           Token.rotated_at.is_(None), Token.revoked_at.is_(None),
           Token.refresh_expires_at > bindparam("now"))
    .values(rotated_at=bindparam("now"))
    .returning(*Token.__table__.columns)
)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class IssueContext:
    client: ClientRecord
    account_id: str | None
    scope: str
    grant_type: str
    include_refresh: bool
    sid: str | None = None
    auth_time: int | None = None
    acr: str | None = None
    amr: tuple[str, ...] = ()
    family_id: str | None = None
    code_digest: str | None = None
    act: dict[str, Any] | None = None  # RFC 8693 §4.1: who acts for the subject (代办)
    session_expires_at: int | None = None  # the family's session limit, kept on rotation
    # The ``userinfo`` member of the authorization request's ``claims`` parameter (OIDC Core
    # §5.5), carried in the access token for the userinfo endpoint; not kept on refresh.
    userinfo_claims: dict[str, Any] | None = None


@dataclass(frozen=True)
class AccessTokenInfo:
    """A validated access token, as the userinfo endpoint and resource servers see it."""

    jti: str
    client_id: str
    account_id: str | None
    scope: str
    sid: str | None
    claims: dict[str, Any]


@dataclass(frozen=True)
class PresentedToken:
    """A token presented back to the IdP (RFC 7009, RFC 7662), matched to its issuance record
    whatever its state. ``claims`` are a verified access token's; empty for a refresh token."""

    kind: str  # "access_token" | "refresh_token" (the RFC 7009 §2.1 token type hint values)
    row: Token
    claims: dict[str, Any]
    expires_at: int
    expired: bool

    @property
    def revoked(self) -> bool:
        """Revoked, or — a refresh token — already rotated: used once, it is spent."""
        return self.row.revoked_at is not None or (
            self.kind == "refresh_token" and self.row.rotated_at is not None)


class TokenService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        keys: KeyService,
        audit: AuditTrail,
        *,
        issuer: str,
        access_alg: str,
        policies: ChannelPolicies,
        subjects: SubjectService,
        acr_name: Callable[[str], str | None] = lambda level: level,
        clock: Clock = system_clock,
    ) -> None:
        self._sessions = sessions
        self._engine = sessions.kw["bind"]
        self._insert = RowInsert(self._engine, Token, _ISSUED)
        self._rotate = OneRow(self._engine, _ROTATE)
        self._by_jti = RowLookup(self._engine, Token, Token.access_jti)
        self._by_refresh = RowLookup(self._engine, Token, Token.refresh_digest)
        self._acr_name = acr_name  # internal level → the configured name ([assurance])
        self._subjects = subjects
        self._keys = keys
        self._audit = audit
        self._issuer = issuer
        self._alg = access_alg
        self._policies = policies
        self._clock = clock
        self._verify_keys: tuple[object, KeySet] | None = None  # (the ring it came from, keys)
        self._on_issued: list[Callable[[IssueContext], None]] = []

    def subscribe(self, listener: Callable[[IssueContext], None]) -> None:
        """Call ``listener(ctx)`` after each issuance is stored (metrics, the access log)."""
        self._on_issued.append(listener)

    # -- issuing ------------------------------------------------------------------------
    def issue(self, ctx: IssueContext) -> dict[str, Any]:
        now = int(self._clock())
        policy = self._policies.policy(ctx.client.channel)
        session_end = ctx.session_expires_at
        if session_end is None and policy.session_absolute > 0 and ctx.account_id is not None:
            session_end = now + policy.session_absolute  # the channel's sign-in starts now
        access_exp, refresh_exp = now + policy.access_token_ttl, now + policy.refresh_token_ttl
        if session_end is not None:
            access_exp, refresh_exp = min(access_exp, session_end), min(refresh_exp, session_end)
        jti = uuid.uuid4().hex
        claims: dict[str, Any] = {
            "iss": self._issuer,
            # The citizen as this client sees them (public or pairwise, OIDC Core §8); the
            # client itself for client credentials. The row keeps the account id.
            "sub": (self._subjects.sub_for(ctx.account_id, ctx.client)
                    if ctx.account_id else ctx.client.client_id),
            "aud": ctx.client.client_id,
            "client_id": ctx.client.client_id,
            "iat": now,
            "exp": access_exp,
            "jti": jti,
            "channel": ctx.client.channel,
        }
        if ctx.scope:  # a client credentials grant without scopes has none to state
            claims["scope"] = ctx.scope
        if ctx.sid:
            claims["sid"] = ctx.sid
        if ctx.auth_time is not None:
            claims["auth_time"] = ctx.auth_time
        if ctx.acr:
            claims["acr"] = self._acr_name(ctx.acr)
        if ctx.act:
            claims["act"] = dict(ctx.act)
        if ctx.userinfo_claims:
            claims["userinfo_claims"] = dict(ctx.userinfo_claims)
        signer = self._keys.ring().signer(self._alg)
        if signer is None:
            raise KeyMaterialError(f"no active {self._alg} signing key: run `idp init`")
        header = {"alg": self._alg, "typ": "at+jwt", "kid": signer.kid}
        access_token = jwt.encode(header, claims, signer.key, algorithms=[self._alg])
        token: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": access_exp - now,
        }
        if ctx.scope:
            token["scope"] = ctx.scope
        include_refresh = ctx.include_refresh and self._policies.issues_refresh_tokens(
            ctx.client.channel)
        refresh = secrets.token_urlsafe(32) if include_refresh else None
        if refresh:
            token["refresh_token"] = refresh
        row = dict(
            access_jti=jti,
            refresh_digest=_digest(refresh) if refresh else None,
            family_id=ctx.family_id or uuid.uuid4().hex,
            code_digest=ctx.code_digest,
            client_id=ctx.client.client_id,
            account_id=ctx.account_id,
            scope=ctx.scope,
            sid=ctx.sid,
            auth_time=ctx.auth_time,
            acr=ctx.acr,
            amr=list(ctx.amr),
            issued_at=to_datetime(now),
            access_expires_at=to_datetime(access_exp),
            refresh_expires_at=to_datetime(refresh_exp) if refresh else None,
            session_expires_at=to_datetime(session_end) if session_end is not None else None,
            purge_after=to_datetime(max(access_exp, refresh_exp) if refresh else access_exp),
            kid=signer.kid,  # an emergency revoke of this key revokes this issuance
        )
        try:
            # One compiled INSERT, committed by itself: no ORM unit of work, no BEGIN and
            # COMMIT round trips (measured: together most of a client_credentials request).
            self._insert(row)
        except IntegrityError:  # the client row is gone (deleted; this node cached it)
            if self._client_exists(ctx.client.client_id):
                raise
            raise ClientGone("this client no longer exists") from None
        for listener in self._on_issued:
            listener(ctx)
        return token

    def _client_exists(self, client_id: str) -> bool:
        with self._sessions() as session:
            return session.get(Client, client_id) is not None

    # -- validating ---------------------------------------------------------------------
    def verification_keys(self) -> KeySet:
        ring = self._keys.ring()
        cached = self._verify_keys
        if cached is None or cached[0] is not ring:
            cached = (ring, KeySet.import_key_set(ring.jwks))  # type: ignore[arg-type]
            self._verify_keys = cached
        return cached[1]

    def _access_claims(self, value: str) -> dict[str, Any] | None:
        """The claims of one of our access tokens (signature, type, issuer), expired or not."""
        if not value or len(value) > 4096:
            return None
        try:
            decoded = jwt.decode(value, self.verification_keys(), algorithms=["RS256", "ES256"])
        except (JoseError, ValueError):
            return None
        if decoded.header.get("typ") != "at+jwt":
            return None
        claims = dict(decoded.claims)
        if claims.get("iss") != self._issuer or not isinstance(claims.get("exp"), int):
            return None
        if not isinstance(claims.get("jti"), str):
            return None
        return claims

    def validate_access_token(self, value: str) -> AccessTokenInfo | None:
        """Signature, issuer, type and expiry, then the revocation record. None if invalid."""
        claims = self._access_claims(value)
        if claims is None or claims["exp"] <= self._clock():
            return None
        row = self._by_jti(claims["jti"])
        if row is None or row.revoked_at is not None:
            return None
        return AccessTokenInfo(jti=row.access_jti, client_id=row.client_id,
                               account_id=row.account_id, scope=row.scope, sid=row.sid,
                               claims=claims)

    def find(self, value: str, hint: str | None = None) -> PresentedToken | None:
        """The issuance a presented token belongs to — revoked, rotated or expired alike — or
        None when it is not one of ours. The hint only orders the look-ups (RFC 7009 §2.1)."""
        kinds = ("refresh_token", "access_token") if hint == "refresh_token" else (
            "access_token", "refresh_token")
        for kind in kinds:
            found = self._find_access(value) if kind == "access_token" else \
                self._find_refresh(value)
            if found is not None:
                return found
        return None

    def _find_access(self, value: str) -> PresentedToken | None:
        claims = self._access_claims(value)
        if claims is None:
            return None
        row = self._by_jti(claims["jti"])
        if row is None:
            return None
        exp = int(claims["exp"])
        return PresentedToken("access_token", row, claims, exp, exp <= self._clock())

    def _find_refresh(self, value: str) -> PresentedToken | None:
        if not value or len(value) > 256:
            return None
        row = self._by_refresh(_digest(value))
        if row is None or row.refresh_expires_at is None:
            return None
        exp = int(as_aware(row.refresh_expires_at).timestamp())
        return PresentedToken("refresh_token", row, {}, exp, exp <= self._clock())

    # -- refresh rotation ---------------------------------------------------------------
    def rotate_refresh(self, value: str, client_id: str, *, rotate: bool = True) -> Token | None:
        """Atomically mark a refresh token used and return its record; None when invalid.

        A second use of a rotated token is reuse: the family is revoked and audited. With
        ``rotate=False`` (a channel whose policy turns rotation off) the token is only checked
        and stays usable until it expires or is revoked.
        """
        if not value or len(value) > 256:
            return None
        digest = _digest(value)
        now = to_datetime(self._clock())
        if not rotate:
            with self._sessions() as session:
                return session.scalar(select(Token).where(
                    Token.refresh_digest == digest, Token.client_id == client_id,
                    Token.rotated_at.is_(None), Token.revoked_at.is_(None),
                    Token.refresh_expires_at > now))
        rotated = self._rotate({"digest": digest, "client": client_id, "now": now})
        if rotated is not None:  # one statement marked it used and returned its record
            return self._by_refresh.build(rotated)
        row = self._by_refresh(digest)
        if row is not None and row.client_id == client_id and row.rotated_at is not None:
            revoked = self.revoke_family(row.family_id, reason="refresh_reuse")
            self._audit.record(row.account_id or client_id, "token:refresh:reuse",
                               subject=row.account_id, client_id=client_id,
                               extra={"family": row.family_id, "revoked": revoked})
        return None

    def session_limit_reached(self, value: str, client_id: str) -> bool:
        """Was this refresh token refused because its channel's session reached
        ``session_absolute``? (Not when it was rotated, revoked or another client's.)"""
        found = self._find_refresh(value)
        if found is None or found.revoked or found.row.client_id != client_id:
            return False
        end = found.row.session_expires_at
        return end is not None and as_aware(end).timestamp() <= self._clock()

    # -- revocation ---------------------------------------------------------------------
    def _revoke_where(self, *conditions: Any, reason: str) -> int:
        now = to_datetime(self._clock())
        with self._sessions.begin() as session:
            result = session.execute(
                update(Token).where(*conditions, Token.revoked_at.is_(None))
                .values(revoked_at=now, revoked_reason=reason)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def revoke_issuance(self, access_jti: str, *, reason: str) -> int:
        """Revoke one issuance: its access token and the refresh token issued with it."""
        return self._revoke_where(Token.access_jti == access_jti, reason=reason)

    def revoke_family(self, family_id: str, *, reason: str) -> int:
        return self._revoke_where(Token.family_id == family_id, reason=reason)

    def revoke_by_code(self, code_digest: str, *, reason: str = "code_reuse") -> int:
        """Revoke everything issued from one authorization code, including later rotations."""
        with self._sessions() as session:
            families = list(session.scalars(
                select(Token.family_id).where(Token.code_digest == code_digest).distinct()))
        if not families:
            return 0
        return self._revoke_where(or_(*(Token.family_id == f for f in families)), reason=reason)

    def revoke_by_kid(self, kid: str, reason: str = "key_revoked") -> int:
        """Every issuance whose access token ``kid`` signed, with its refresh token (an
        emergency key revoke, idp.keys.lifecycle)."""
        return self._revoke_where(Token.kid == kid, reason=reason)

    def revoke_sid(self, sid: str, *, reason: str = "logout") -> int:
        return self._revoke_where(Token.sid == sid, reason=reason)

    def revoke_for_client(self, account_id: str, client_id: str, *, reason: str) -> int:
        """Every token one client holds for one citizen (consent withdrawn)."""
        return self._revoke_where(Token.account_id == account_id, Token.client_id == client_id,
                                  reason=reason)

    def is_expired(self, row: Token) -> bool:
        return as_aware(row.access_expires_at).timestamp() <= self._clock()
