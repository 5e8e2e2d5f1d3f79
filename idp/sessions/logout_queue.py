"""The durable back-channel logout queue (DESIGN.md §2: ending a session "sends a back-channel
logout token to every client that took part").

Rows of ``logout_deliveries`` are written in the database before the sign-out answers, so a
restart of the IdP loses none, whichever ephemeral store is configured. Any number of workers
(processes, nodes) take due rows through a lease: a conditional UPDATE that only one of
them can win, so one row is posted by one worker at a time. A worker that dies mid-post leaves
the lease to run out and the row is posted again with the same ``jti`` — delivery is at least
once, and the client's ``jti`` replay check makes its effect exactly once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from idp.clock import Clock, as_aware, system_clock, to_datetime
from idp.sessions.service import SsoSession
from idp.store.models import LogoutDelivery

PENDING, DELIVERED, REJECTED, FAILED = "pending", "delivered", "rejected", "failed"
STATUSES = (PENDING, DELIVERED, REJECTED, FAILED)


class _ClientRecord(Protocol):
    @property
    def backchannel_logout_uri(self) -> str | None: ...


class _Clients(Protocol):
    def get(self, client_id: str) -> _ClientRecord | None: ...


@dataclass(frozen=True)
class Delivery:
    """One queued logout: what a worker needs to sign and post it, and what happened so far."""

    id: int
    jti: str
    client_id: str
    sid: str
    sub: str  # the account id (internal); the token's ``sub`` is the client's view of it
    uri: str
    status: str
    attempts: int
    created_at: int
    next_attempt_at: int
    finished_at: int | None
    last_status: int | None
    last_error: str | None

    @classmethod
    def from_row(cls, row: LogoutDelivery) -> Delivery:
        def ts(value: object) -> int | None:
            return int(as_aware(value).timestamp()) if value is not None else None  # type: ignore[arg-type]

        return cls(id=row.id, jti=row.jti, client_id=row.client_id, sid=row.sid, sub=row.sub,
                   uri=row.uri, status=row.status, attempts=row.attempts,
                   created_at=ts(row.created_at) or 0,
                   next_attempt_at=ts(row.next_attempt_at) or 0,
                   finished_at=ts(row.finished_at), last_status=row.last_status,
                   last_error=row.last_error)


class LogoutQueue:
    def __init__(self, sessions: sessionmaker[Session], *, clock: Clock = system_clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def enqueue(self, ended: SsoSession, clients: _Clients, *, only: str | None = None) -> int:
        """Queue one logout per client of the ended session (or just ``only``) that registered
        a ``backchannel_logout_uri``. Returns how many were queued. A logout of the same client
        and ``sid`` still pending is that same logout; one already finished means the client
        took part again since (the citizen signed in to it anew under this session after a
        withdrawal notice): it is queued afresh, with a new ``jti``."""
        now = to_datetime(self._clock())
        queued = 0
        for client_id in sorted(ended.clients if only is None else {only}):
            record = clients.get(client_id)
            uri = record.backchannel_logout_uri if record is not None else None
            if not uri:
                continue
            row = LogoutDelivery(jti=uuid.uuid4().hex, client_id=client_id, sid=ended.sid,
                                 sub=ended.account_id, uri=uri, status=PENDING, attempts=0,
                                 created_at=now, next_attempt_at=now)
            try:
                with self._sessions.begin() as session:
                    session.add(row)
            except IntegrityError:  # already queued for this client and sid
                if not self._requeue_finished(client_id, ended.sid, uri, now):
                    continue
            queued += 1
        return queued

    def _requeue_finished(self, client_id: str, sid: str, uri: str, now: datetime) -> bool:
        with self._sessions.begin() as session:
            done = session.execute(
                update(LogoutDelivery)
                .where(LogoutDelivery.client_id == client_id, LogoutDelivery.sid == sid,
                       LogoutDelivery.status != PENDING)
                .values(status=PENDING, jti=uuid.uuid4().hex, uri=uri, attempts=0,
                        created_at=now, next_attempt_at=now, claimed_until=None,
                        finished_at=None, last_status=None, last_error=None)
            ).rowcount  # type: ignore[attr-defined]
        return bool(done)

    def claim_due(self, *, limit: int, lease: float) -> list[Delivery]:
        """Take up to ``limit`` due deliveries for this worker, each leased for ``lease`` s
        (counted as an attempt now, so a crash mid-post still counts)."""
        now = self._clock()
        at = to_datetime(now)
        free = or_(LogoutDelivery.claimed_until.is_(None), LogoutDelivery.claimed_until < at)
        with self._sessions() as session:
            ids = list(session.scalars(
                select(LogoutDelivery.id)
                .where(LogoutDelivery.status == PENDING, LogoutDelivery.next_attempt_at <= at,
                       free)
                .order_by(LogoutDelivery.next_attempt_at).limit(limit)))
        claimed = []
        for row_id in ids:
            with self._sessions.begin() as session:
                won = session.execute(
                    update(LogoutDelivery)
                    .where(LogoutDelivery.id == row_id, LogoutDelivery.status == PENDING, free)
                    .values(claimed_until=to_datetime(now + lease),
                            attempts=LogoutDelivery.attempts + 1))
                if won.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another worker took it
                row = session.get(LogoutDelivery, row_id)
                if row is not None:
                    claimed.append(Delivery.from_row(row))
        return claimed

    def finish(self, delivery: Delivery, status: str, *, http_status: int | None = None,
               error: str | None = None) -> None:
        """Record the final outcome: delivered, rejected by the client, or given up."""
        self._update(delivery, status=status, finished_at=to_datetime(self._clock()),
                     claimed_until=None, last_status=http_status,
                     last_error=(error or None) and error[:200])

    def retry_at(self, delivery: Delivery, when: float, *, http_status: int | None = None,
                 error: str | None = None) -> None:
        """The attempt failed in a way worth retrying: due again at ``when``."""
        self._update(delivery, next_attempt_at=to_datetime(when), claimed_until=None,
                     last_status=http_status, last_error=(error or None) and error[:200])

    def _update(self, delivery: Delivery, **values: object) -> None:
        with self._sessions.begin() as session:
            session.execute(update(LogoutDelivery).where(
                LogoutDelivery.id == delivery.id, LogoutDelivery.status == PENDING)
                .values(**values))

    def list(self, *, status: str | None = None, sid: str | None = None,
             client_id: str | None = None, limit: int = 100) -> list[Delivery]:
        """Newest first: what staff and tests read to see each delivery's outcome."""
        query = select(LogoutDelivery).order_by(LogoutDelivery.id.desc()).limit(limit)
        if status is not None:
            query = query.where(LogoutDelivery.status == status)
        if sid is not None:
            query = query.where(LogoutDelivery.sid == sid)
        if client_id is not None:
            query = query.where(LogoutDelivery.client_id == client_id)
        with self._sessions() as session:
            return [Delivery.from_row(row) for row in session.scalars(query)]
