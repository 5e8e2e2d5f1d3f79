"""Audit trail service: ``record(actor, "tag:verb:outcome", subject=…, extra=…)`` and ``verify``.

Tags are stable public names (``account:login:failure``, ``key:create:success``,
``client:create:success``, ``token:code:reuse`` …). Writers serialise on the single
``audit_head`` row, so the chain never forks, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from idp.audit.chain import GENESIS_HASH, link_hash, micros, scrub
from idp.clock import Clock, system_clock, to_datetime
from idp.store.models import AuditEvent, AuditHead


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    head: str
    broken_at: int | None = None
    reason: str | None = None


def _entry(row: AuditEvent) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "ts": micros(row.ts),
        "tag": row.tag,
        "actor": row.actor,
        "subject": row.subject,
        "client_id": row.client_id,
        "ip": row.ip,
        "extra": row.extra or {},
    }


class AuditTrail:
    def __init__(self, sessions: sessionmaker[Session], *, clock: Clock = system_clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def record(
        self,
        actor: str,
        tag: str,
        *,
        subject: str | None = None,
        client_id: str | None = None,
        ip: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Append one event; returns its sequence number."""
        with self._sessions.begin() as session:
            # Lock the head row first: the write lock serialises appenders.
            session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
            head = session.get(AuditHead, 1)
            if head is None:
                head = AuditHead(id=1, seq=0, hash=GENESIS_HASH)
                session.add(head)
            row = AuditEvent(
                ts=to_datetime(self._clock()),
                tag=tag,
                actor=str(scrub(actor))[:100],
                subject=None if subject is None else str(scrub(subject))[:100],
                client_id=client_id,
                ip=ip,
                extra=scrub(extra or {}),
                prev_hash=head.hash,
                hash="pending",
            )
            session.add(row)
            session.flush()
            row.hash = link_hash(head.hash, _entry(row))
            head.seq = row.seq
            head.hash = row.hash
            return row.seq

    def events(
        self, *, tag: str | None = None, subject: str | None = None, limit: int = 100
    ) -> list[AuditEvent]:
        query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
        if tag:
            query = query.where(AuditEvent.tag.startswith(tag))
        if subject:
            query = query.where(AuditEvent.subject == subject)
        with self._sessions() as session:
            return list(session.scalars(query))

    def verify(self) -> VerifyResult:
        """Walk the chain from the genesis; report the first broken link."""
        prev = GENESIS_HASH
        checked = 0
        last_seq = 0
        with self._sessions() as session:
            head = session.get(AuditHead, 1)
            for row in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
                if row.prev_hash != prev:
                    return VerifyResult(False, checked, prev, row.seq,
                                        "entry does not follow the one before it "
                                        "(an entry was removed or reordered)")
                if link_hash(prev, _entry(row)) != row.hash:
                    return VerifyResult(False, checked, prev, row.seq,
                                        "entry content does not match its hash (altered)")
                prev = row.hash
                last_seq = row.seq
                checked += 1
        if head is not None and (head.hash != prev or head.seq != last_seq):
            return VerifyResult(False, checked, prev, last_seq + 1,
                                "chain ends before the recorded head (entries were truncated)")
        return VerifyResult(True, checked, prev)
