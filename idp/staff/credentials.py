"""What proves a request comes from a staff member: admin API tokens and console sessions.

**API tokens** (``idp staff token``, the console's "API tokens" page): 256 random bits, prefixed
``stk_`` so a leaked one is recognisable in a scan, stored as a SHA-256 digest (like client
secrets, DESIGN.md §4), with an expiry; each acts as its staff member with that member's role
*now* (a role change or a disabled account takes effect at the next request).

**Console sessions** live in the ephemeral store under the digest of their id, with an idle
and an absolute limit (``[staff]``); every session of a staff member is listed in a set so
disabling the account ends them all.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from idp.audit import AuditTrail
from idp.clock import Clock, as_aware, system_clock, to_datetime
from idp.errors import NotFound, ValidationError
from idp.staff.accounts import StaffRecord
from idp.store.ephemeral import EphemeralStore
from idp.store.models import StaffAccount, StaffApiToken

TOKEN_PREFIX = "stk_"  # noqa: S105 — a prefix, not a secret


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class ApiTokenInfo:
    id: int
    staff_id: str
    name: str
    created_at: float
    expires_at: float
    last_used_at: float | None
    revoked: bool


class StaffTokens:
    def __init__(self, sessions: sessionmaker[Session], *, audit: AuditTrail,
                 default_ttl: int, clock: Clock = system_clock) -> None:
        self._sessions = sessions
        self._audit = audit
        self.default_ttl = default_ttl
        self._clock = clock

    def issue(self, staff: StaffRecord, name: str, *, ttl: int | None = None,
              actor: str) -> tuple[str, ApiTokenInfo]:
        name = (name or "").strip()
        if not 0 < len(name) <= 100:
            raise ValidationError("token name must be 1-100 characters", code="staff.token_name")
        ttl = self.default_ttl if ttl is None else ttl
        if not 0 < ttl <= 366 * 86400:
            raise ValidationError("token lifetime must be between 1 second and 366 days",
                                  code="staff.token_ttl")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = to_datetime(self._clock())
        with self._sessions.begin() as session:
            row = StaffApiToken(staff_id=staff.id, name=name, digest=_digest(token),
                                created_at=now, expires_at=now + timedelta(seconds=ttl))
            session.add(row)
            session.flush()
            info = self._info(row)
        self._audit.record(actor, "staff:token:issue", subject=staff.actor,
                           extra={"token_id": info.id, "name": name})
        return token, info

    @staticmethod
    def _info(row: StaffApiToken) -> ApiTokenInfo:
        return ApiTokenInfo(id=row.id, staff_id=row.staff_id, name=row.name,
                            created_at=as_aware(row.created_at).timestamp(),
                            expires_at=as_aware(row.expires_at).timestamp(),
                            last_used_at=as_aware(row.last_used_at).timestamp()
                            if row.last_used_at else None,
                            revoked=row.revoked_at is not None)

    def list(self, staff_id: str) -> list[ApiTokenInfo]:
        with self._sessions() as session:
            rows = session.scalars(select(StaffApiToken).where(
                StaffApiToken.staff_id == staff_id).order_by(StaffApiToken.id))
            return [self._info(r) for r in rows]

    def revoke(self, token_id: int, *, staff_id: str | None, actor: str) -> None:
        """Revoke one token (of ``staff_id``'s, when given: staff revoke their own)."""
        with self._sessions.begin() as session:
            query = update(StaffApiToken).where(StaffApiToken.id == token_id,
                                                StaffApiToken.revoked_at.is_(None))
            if staff_id is not None:
                query = query.where(StaffApiToken.staff_id == staff_id)
            done = session.execute(query.values(revoked_at=to_datetime(self._clock()))
                                   ).rowcount  # type: ignore[attr-defined]
        if done != 1:
            raise NotFound("no such live API token", code="staff.token_not_found")
        self._audit.record(actor, "staff:token:revoke", extra={"token_id": token_id})

    def authenticate(self, token: str) -> StaffRecord | None:
        """The active staff member a live token acts for, or None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        now = to_datetime(self._clock())
        with self._sessions() as session:
            found = session.execute(
                select(StaffApiToken, StaffAccount)
                .join(StaffAccount, StaffAccount.id == StaffApiToken.staff_id)
                .where(StaffApiToken.digest == _digest(token))).first()
            if found is None:
                return None
            row, staff = found
            if (row.revoked_at is not None or as_aware(row.expires_at) <= now
                    or staff.status != "active"):
                return None
            record = StaffRecord.from_row(staff)
            last = row.last_used_at
            stale = last is None or (now - as_aware(last)).total_seconds() > 60
            token_id = row.id
        if stale:  # at most one write a minute per token
            with self._sessions.begin() as session:
                session.execute(update(StaffApiToken).where(StaffApiToken.id == token_id)
                                .values(last_used_at=now))
        return record


@dataclass(frozen=True)
class ConsoleSession:
    staff_id: str
    created_at: float
    csrf: str


class ConsoleSessions:
    def __init__(self, store: EphemeralStore, *, absolute_ttl: int, idle_ttl: int,
                 clock: Clock = system_clock) -> None:
        self._store = store
        self._absolute = absolute_ttl
        self._idle = idle_ttl
        self._clock = clock

    @staticmethod
    def _key(session_id: str) -> str:
        return "staff:session:" + _digest(session_id)

    @staticmethod
    def _index(staff_id: str) -> str:
        return "staff:sessions-of:" + staff_id

    def start(self, staff: StaffRecord) -> str:
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        self._store.put(self._key(session_id), {
            "staff_id": staff.id, "created_at": now, "seen_at": now,
            "csrf": secrets.token_urlsafe(24)}, min(self._idle, self._absolute))
        self._store.set_add(self._index(staff.id), self._key(session_id), self._absolute)
        return session_id

    def get(self, session_id: str) -> ConsoleSession | None:
        """The live session, its idle timer restarted; None once idle or past the limit.
        Both limits are checked against the clock and kept by the store's expiry too."""
        if not session_id or len(session_id) > 100:
            return None
        key = self._key(session_id)
        data = self._store.get(key)
        if not isinstance(data, dict):
            return None
        now = self._clock()
        created = float(data["created_at"])
        left = self._absolute - (now - created)
        if left <= 0 or now - float(data.get("seen_at") or created) > self._idle:
            self._store.delete(key)
            return None
        if self._store.replace(key, {**data, "seen_at": now}):
            self._store.expire(key, max(1, int(min(self._idle, left))))
        return ConsoleSession(staff_id=str(data["staff_id"]),
                              created_at=float(data["created_at"]), csrf=str(data["csrf"]))

    def end(self, session_id: str) -> None:
        self._store.delete(self._key(session_id))

    def end_all(self, staff_id: str) -> int:
        keys = self._store.set_members(self._index(staff_id))
        ended = sum(1 for key in keys if self._store.delete(key))
        self._store.delete(self._index(staff_id))
        return ended
