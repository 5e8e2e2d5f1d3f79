"""Audit trail service: ``record(actor, "tag:verb:outcome", subject=…, extra=…)`` and ``verify``.

Tags are stable public names (``account:login:failure``, ``key:rotate``,
``client:create:success``, ``token:code:reuse`` …). Writers serialise on the single
``audit_head`` row, so the chain never forks, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from idp.audit.anchors import Anchor, AnchorLog
from idp.audit.chain import GENESIS_HASH, link_hash, micros, scrub
from idp.audit.context import request_ip
from idp.clock import Clock, system_clock, to_datetime
from idp.errors import Conflict
from idp.store.models import AuditEvent, AuditHead

log = logging.getLogger("idp.audit")


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
        self._listeners: list[Callable[[str], None]] = []

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(tag)`` after each event is committed (the metrics count sign-ins
        this way, :mod:`idp.observability.metrics`). A failing listener is logged, never
        raised: the action is done and recorded by then."""
        self._listeners.append(listener)

    def _notify(self, tag: str) -> None:
        for listener in self._listeners:
            try:
                listener(tag)
            except Exception:  # see subscribe
                log.exception("audit listener failed on %s", tag)

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
                ip=ip if ip is not None else request_ip.get(),
                extra=scrub(extra or {}),
                prev_hash=head.hash,
                hash="pending",
            )
            session.add(row)
            session.flush()
            row.hash = link_hash(head.hash, _entry(row))
            head.seq = row.seq
            head.hash = row.hash
        self._notify(tag)
        return row.seq

    def events(
        self, *, tag: str | None = None, subject: str | None = None, actor: str | None = None,
        client_id: str | None = None, since: datetime | None = None,
        until: datetime | None = None, before_seq: int | None = None, limit: int = 100
    ) -> list[AuditEvent]:
        """Newest first. ``tag`` matches as a prefix (``account:login`` finds ``…:failure``);
        ``since``/``until`` bound the time; ``before_seq`` pages back (entries older than it)."""
        query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(max(1, min(limit, 1000)))
        if tag:
            query = query.where(AuditEvent.tag.startswith(tag, autoescape=True))
        if subject:
            query = query.where(AuditEvent.subject == subject)
        if actor:
            query = query.where(AuditEvent.actor == actor)
        if client_id:
            query = query.where(AuditEvent.client_id == client_id)
        if since is not None:
            query = query.where(AuditEvent.ts >= since)
        if until is not None:
            query = query.where(AuditEvent.ts < until)
        if before_seq is not None:
            query = query.where(AuditEvent.seq < before_seq)
        with self._sessions() as session:
            return list(session.scalars(query))

    def anchor(self) -> Anchor:
        """The chain's head now, to be kept outside the database (:mod:`idp.audit.anchors`)."""
        with self._sessions() as session:
            head = session.get(AuditHead, 1)
        seq, digest = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
        return Anchor(seq=seq, hash=digest, ts=int(self._clock()))

    def take_anchor(self, log: AnchorLog, *, actor: str) -> Anchor:
        """Write the chain's head to ``log`` (outside the database) and record who did it
        (``audit:anchor``); the one way the CLI, the console and the API take an anchor.
        :class:`Conflict` when the anchor file cannot be written."""
        anchor = self.anchor()
        try:
            log.append(anchor)
        except OSError as exc:
            raise Conflict(f"cannot write the anchor file {log.path}: {exc.strerror}",
                           code="audit.anchor_file") from None
        self.record(actor, "audit:anchor", extra={"seq": anchor.seq})
        return anchor

    def export(self, *, since: int = 0, tag: str | None = None,
               batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Entries after ``since`` in order, as plain dicts (what ``idp audit export`` writes as
        JSON Lines): everything the hash covers, plus ``prev_hash`` and ``hash``, so a copy can
        be checked without the database. Read in batches: the trail may be long."""
        last = since
        while True:
            query = select(AuditEvent).where(AuditEvent.seq > last) \
                .order_by(AuditEvent.seq).limit(batch)
            if tag:
                query = query.where(AuditEvent.tag.startswith(tag))
            with self._sessions() as session:
                rows = list(session.scalars(query))
            for row in rows:
                yield {**_entry(row), "ts": datetime.fromtimestamp(
                    micros(row.ts) / 1_000_000, UTC).isoformat(),
                    "prev_hash": row.prev_hash, "hash": row.hash}
            if len(rows) < batch:
                return
            last = rows[-1].seq

    def verify(self, anchors: Sequence[Anchor] = ()) -> VerifyResult:
        """Walk the chain from the genesis; report the first broken link, then check the
        ``anchors`` taken earlier (truncation, a rewritten chain)."""
        prev = GENESIS_HASH
        checked = 0
        last_seq = 0
        wanted = {a.seq for a in anchors}
        seen: dict[int, str] = {0: GENESIS_HASH}
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
                if row.seq in wanted:
                    seen[row.seq] = row.hash
        for anchor in sorted(anchors, key=lambda a: a.seq):
            taken = datetime.fromtimestamp(anchor.ts, UTC).isoformat(timespec="seconds")
            if anchor.seq > last_seq:
                return VerifyResult(False, checked, prev, last_seq + 1,
                                    f"the chain ends at entry {last_seq} but the anchor taken "
                                    f"{taken} recorded entry {anchor.seq} (entries were "
                                    f"truncated)")
            if seen.get(anchor.seq) != anchor.hash:
                return VerifyResult(False, checked, prev, anchor.seq,
                                    f"entry {anchor.seq} differs from the anchor taken {taken} "
                                    f"(the chain was rewritten from there)")
        if head is not None and (head.hash != prev or head.seq != last_seq):
            return VerifyResult(False, checked, prev, last_seq + 1,
                                "chain ends before the recorded head (entries were truncated)")
        return VerifyResult(True, checked, prev)
