"""Initial access tokens (RFC 7591 §3, §1.2 "Initial Access Token"): what a department presents,
as ``Authorization: Bearer``, to register a client dynamically.

Staff issue one (``idp clients initial-token``, the admin API); it is shown once and only its
SHA-256 digest is kept — it is a generated secret, not a password (DESIGN.md §4). A token serves
at most ``max_uses`` registrations until ``expires_at``, unless revoked. A use is counted by one
conditional UPDATE (``uses < max_uses``, not revoked, not expired) in the registration's own
transaction (:meth:`InitialAccessTokens.consume` with ``session``): concurrent registrations can
never use it more often than allowed, and a refused registration uses nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from idp.audit import AuditTrail
from idp.clock import Clock, as_aware, system_clock, to_datetime
from idp.errors import AuthenticationFailed, NotFound, ValidationError
from idp.store.models import InitialAccessToken

MAX_TTL = 90 * 86400  # seconds
MAX_USES = 100


class InitialTokenRefused(AuthenticationFailed):
    """The initial access token is unknown, expired, revoked or used up (the message says
    which: a 256-bit token cannot be guessed, so naming the reason leaks nothing)."""

    code = "initial_token.invalid"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _refusal(row: InitialAccessToken | None, now: datetime) -> InitialTokenRefused:
    if row is None:
        return InitialTokenRefused("the initial access token is not known here")
    if row.revoked_at is not None:
        return InitialTokenRefused("the initial access token was revoked")
    if as_aware(row.expires_at) <= now:
        return InitialTokenRefused("the initial access token has expired")
    return InitialTokenRefused(f"the initial access token is used up ({row.max_uses} "
                               "registrations)")


class InitialAccessTokens:
    def __init__(self, sessions: sessionmaker[Session], *, audit: AuditTrail,
                 clock: Clock = system_clock) -> None:
        self._sessions = sessions
        self._audit = audit
        self._clock = clock

    def issue(self, *, label: str, ttl: int, max_uses: int,
              actor: str) -> tuple[str, InitialAccessToken]:
        """A new token (returned once) for ``max_uses`` registrations within ``ttl`` seconds."""
        label = (label or "").strip()
        if not 0 < len(label) <= 200:
            raise ValidationError("the label must be 1-200 characters", code="initial_token.label")
        if not 60 <= ttl <= MAX_TTL:
            raise ValidationError(f"the lifetime must be 60-{MAX_TTL} seconds (90 days)",
                                  code="initial_token.ttl")
        if not 1 <= max_uses <= MAX_USES:
            raise ValidationError(f"the number of uses must be 1-{MAX_USES}",
                                  code="initial_token.uses")
        token = secrets.token_urlsafe(32)
        now = to_datetime(self._clock())
        row = InitialAccessToken(digest=_digest(token), label=label, created_by=actor[:100],
                                 created_at=now, expires_at=now + timedelta(seconds=ttl),
                                 max_uses=max_uses, uses=0)
        with self._sessions.begin() as session:
            session.add(row)
        self._audit.record(actor, "client:initial-token:issue",
                           extra={"token_id": row.id, "label": label, "ttl": ttl,
                                  "max_uses": max_uses})
        return token, row

    def verify(self, token: str) -> InitialAccessToken:
        """The live token ``token`` is, without using it; else :class:`InitialTokenRefused`."""
        now = to_datetime(self._clock())
        row = self._find(token)
        if row is None or row.revoked_at is not None or as_aware(row.expires_at) <= now \
                or row.uses >= row.max_uses:
            raise _refusal(row, now)
        return row

    def consume(self, token: str, *, session: Session | None = None) -> InitialAccessToken:
        """Count one use of a live token, atomically; in ``session``'s transaction when given
        (a rollback there gives the use back). Else :class:`InitialTokenRefused`."""
        if session is None:
            with self._sessions.begin() as own:
                return self.consume(token, session=own)
        now = to_datetime(self._clock())
        if not token or len(token) > 200:
            raise _refusal(None, now)
        digest = _digest(token)
        counted = session.execute(
            update(InitialAccessToken)
            .where(InitialAccessToken.digest == digest,
                   InitialAccessToken.uses < InitialAccessToken.max_uses,
                   InitialAccessToken.revoked_at.is_(None),
                   InitialAccessToken.expires_at > now)
            .values(uses=InitialAccessToken.uses + 1)
            .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        row = session.scalar(select(InitialAccessToken)
                             .where(InitialAccessToken.digest == digest)
                             .execution_options(populate_existing=True))
        if counted != 1 or row is None:
            raise _refusal(row, now)
        return row

    def list(self) -> list[InitialAccessToken]:
        """Every token, newest first (digests only: the tokens themselves are not kept)."""
        with self._sessions() as session:
            return list(session.scalars(select(InitialAccessToken)
                                        .order_by(InitialAccessToken.id.desc())))

    def revoke(self, token_id: int, *, actor: str) -> InitialAccessToken:
        """Stop a token from serving further registrations (clients it registered stay)."""
        with self._sessions.begin() as session:
            row = session.get(InitialAccessToken, token_id) if 0 < token_id < 2**63 else None
            if row is None:
                raise NotFound(f"no initial access token {token_id}",
                               code="initial_token.not_found")
            newly = row.revoked_at is None
            if newly:
                row.revoked_at = to_datetime(self._clock())
        if newly:
            self._audit.record(actor, "client:initial-token:revoke",
                               extra={"token_id": token_id, "label": row.label})
        return row

    def _find(self, token: str) -> InitialAccessToken | None:
        if not token or len(token) > 200:
            return None
        with self._sessions() as session:
            return session.scalar(select(InitialAccessToken)
                                  .where(InitialAccessToken.digest == _digest(token)))
