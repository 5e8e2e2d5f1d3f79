"""Delete the records of issuances that can no longer be used (``idp tokens purge``, from cron).

Every token issuance is a row (``tokens``: revocation, introspection, reuse detection). A row is
useless once both its access token and its refresh token have expired: a refresh token
presented after that is refused as expired whether its row exists or not, and a replayed code
cannot revoke anything live. Without a purge the table grows with every token (a national IdP
issues millions a day); with it, it holds about one refresh-token lifetime of issuances.

Rows go in batches (each its own short transaction, through the ``purge_after`` index), so a
purge never holds long locks and can run beside traffic on every node at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, delete, select

from idp.audit import AuditTrail
from idp.clock import Clock, system_clock, to_datetime
from idp.store.models import Token


@dataclass(frozen=True)
class PurgeResult:
    deleted: int
    batches: int
    cutoff: int  # rows whose tokens all expired before this time (Unix seconds) went


class TokenPurge:
    def __init__(self, engine: Engine, audit: AuditTrail, *, clock: Clock = system_clock) -> None:
        self._engine = engine
        self._audit = audit
        self._clock = clock

    def run(self, *, grace: int, batch: int = 10_000, actor: str = "system") -> PurgeResult:
        """Delete rows whose tokens all expired more than ``grace`` seconds ago."""
        if grace < 0 or batch < 1:
            raise ValueError("grace must be >= 0 and batch >= 1")
        cutoff = int(self._clock()) - grace
        when = to_datetime(cutoff)
        deleted = batches = 0
        while True:
            ids = (select(Token.id).where(Token.purge_after < when)
                   .order_by(Token.purge_after).limit(batch).scalar_subquery())
            with self._engine.begin() as conn:
                count = conn.execute(delete(Token).where(Token.id.in_(ids))).rowcount
            batches += 1
            deleted += count
            if count < batch:
                break
        self._audit.record(actor, "token:purge:success",
                           extra={"deleted": deleted, "batches": batches, "grace": grace})
        return PurgeResult(deleted, batches, cutoff)
