"""The state changes of one signing key, each a conditional UPDATE (issue 6 §3).

States: ``next`` (published, not signing) → ``active`` (signs; one per algorithm) → ``retired``
(published until every token it signed has expired) → ``removed``; and ``revoked`` (gone at
once). Each change names the key *and the state it must still be in*
(``… WHERE kid = ? AND state = 'next'``) and reports whether it changed a row, so when two nodes
run the same change at once exactly one of them acts — on SQLite (one writer at a time) and on
PostgreSQL (the second UPDATE waits for the first's row lock, then finds the state changed).
The partial unique indexes (one ``next`` and one ``active`` key per algorithm) refuse a second
key racing in. Leaving ``active``/``next`` drops nothing else; reaching ``removed`` or
``revoked`` drops the sealed private key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.clock import as_aware
from idp.store.models import SigningKey

PUBLISHED_STATES = ("next", "active", "retired")
SIGNING_STATE = "active"
GONE_STATES = ("removed", "revoked")


@dataclass(frozen=True)
class Timing:
    """Seconds: how long a next key is published before it signs (``[keys] overlap``), how
    long a key signs (``rotation_period``), and the longest life of anything a key signed
    (access, ID and logout tokens, plus clock skew) — how long a retired key stays published."""

    overlap: int = 172800
    rotation_period: int = 7776000
    max_token_ttl: int = 3600

    def activates(self, row: SigningKey) -> datetime:
        """When a next key starts signing (keys made before 0007: ``overlap`` after creation)."""
        if row.activates_at is not None:
            return as_aware(row.activates_at)
        return as_aware(row.created_at) + timedelta(seconds=self.overlap)

    def removes(self, row: SigningKey) -> datetime:
        """When a retired key leaves the JWKS."""
        if row.remove_after is not None:
            return as_aware(row.remove_after)
        since = row.retired_at or row.activated_at or row.created_at
        return as_aware(since) + timedelta(seconds=self.max_token_ttl)

    def rotation_due(self, active: SigningKey) -> datetime:
        """When the next key of an active key's algorithm is published: ``overlap`` before
        the rotation period ends, so it signs from the end of the period."""
        since = as_aware(active.activated_at or active.created_at)
        return since + timedelta(seconds=self.rotation_period - self.overlap)

    def due(self, row: SigningKey) -> datetime | None:
        """When this key's next automatic change is due (None: never by itself)."""
        if row.state == "next":
            return self.activates(row)
        if row.state == "retired":
            return self.removes(row)
        return None


def _changed(session: Session, kid: str, was: str, /, **values: object) -> bool:
    result = session.execute(
        update(SigningKey).where(SigningKey.kid == kid, SigningKey.state == was)
        .values(**values).execution_options(synchronize_session=False))
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def retire(session: Session, kid: str, now: datetime, remove_after: datetime) -> bool:
    """active → retired: stops signing, stays published until ``remove_after``."""
    return _changed(session, kid, "active", state="retired", retired_at=now,
                    remove_after=remove_after)


def promote(session: Session, kid: str, now: datetime) -> bool:
    """next → active: signs from now on (retire the old active key first: one per alg)."""
    return _changed(session, kid, "next", state="active", activated_at=now)


def remove(session: Session, kid: str, state: str, now: datetime) -> bool:
    """retired (or a next key that never signed) → removed: out of the JWKS, private key
    dropped."""
    return _changed(session, kid, state, state="removed", removed_at=now, private_enc=None)


def revoke(session: Session, kid: str, state: str, now: datetime) -> bool:
    """any published state → revoked: out of the JWKS at once, private key dropped."""
    return _changed(session, kid, state, state="revoked", revoked_at=now, private_enc=None)


def seal_legacy(session: Session, kid: str, sealed: bytes) -> bool:
    """Store the sealed private key of a key made before 0007 (its PEM file), once."""
    result = session.execute(
        update(SigningKey).where(SigningKey.kid == kid, SigningKey.private_enc.is_(None),
                                 SigningKey.state.in_(PUBLISHED_STATES))
        .values(private_enc=sealed).execution_options(synchronize_session=False))
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def in_state(session: Session, alg: str, state: str) -> SigningKey | None:
    """The one key of ``alg`` in ``next`` or ``active`` (unique per algorithm)."""
    return session.scalar(select(SigningKey).where(SigningKey.alg == alg,
                                                   SigningKey.state == state))
