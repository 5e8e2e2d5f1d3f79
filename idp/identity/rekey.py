"""Re-keying stored ID numbers: move every ``accounts`` ciphertext to the current data key.

The vault (:mod:`idp.identity.vault`) names its data key in every blob, and ``accounts`` keeps
that key id in ``id_number_key``. Re-keying is therefore a walk over the rows whose key id is
not the current one — the state of an interrupted run is in the data itself, so running again
simply continues:

1. ``new_key=True`` first creates a data key and makes it current (on disk and in this
   process), unless a rotation is still pending (rows remain under other keys): then it
   continues that one instead of adding yet another key.
2. Rows are read in primary-key batches, each blob decrypted with the key it names and sealed
   again with the current key outside any transaction, then written in one short transaction
   per batch by a *conditional* UPDATE (``WHERE id = … AND id_number_key = <old key>``): a row
   that changed meanwhile is skipped, never overwritten, and nobody waits long for a lock.

Old data keys are never deleted or unloaded, so every node keeps reading rows under either key
during and after the walk. The blind-index key is not rotated here: it is the lookup and
uniqueness key, and a new one would need every index recomputed in one step.
Audit: ``identity:rekey:start`` and ``identity:rekey:success`` (or ``…:failure`` when the walk
is interrupted), with key ids and counts — never a number, masked or not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from idp.errors import KeyMaterialError
from idp.identity.keyring import add_data_key, reload_data_keys
from idp.identity.protector import IdNumberProtector
from idp.store.models import Account

DEFAULT_BATCH = 200


class Auditor(Protocol):
    def record(self, actor: str, tag: str, *, extra: dict[str, Any] | None = None) -> int: ...


@dataclass(frozen=True)
class KeyStatus:
    """Which data key is current, which are loaded, and how many accounts each one seals."""

    current_key: str
    loaded_keys: tuple[str, ...]
    rows_per_key: dict[str, int]

    @property
    def pending(self) -> int:
        """Rows not yet under the current key."""
        return sum(n for key, n in self.rows_per_key.items() if key != self.current_key)


@dataclass(frozen=True)
class RekeyReport:
    target_key: str  # the data key every row is moved to
    created_key: bool  # this run created it
    pending_at_start: int
    rewrapped: int  # rows moved by this run
    skipped: int  # rows changed by someone else meanwhile (left alone)
    batches: int
    remaining: int  # rows still under other keys when the run ended

    @property
    def complete(self) -> bool:
        return self.remaining == 0


class IdentityRekey:
    """Re-encrypt stored ID numbers under the current (optionally a new) data key."""

    def __init__(self, sessions: sessionmaker[Session], protector: IdNumberProtector, *,
                 keys_dir: Path, audit: Auditor) -> None:
        self._sessions = sessions
        self._vault = protector.vault
        self._keys_dir = keys_dir
        self._audit = audit

    def status(self) -> KeyStatus:
        with self._sessions() as session:
            rows = session.execute(
                select(Account.id_number_key, func.count()).group_by(Account.id_number_key)
            ).all()
        return KeyStatus(current_key=self._vault.current_key_id,
                         loaded_keys=tuple(sorted(self._vault.key_ids)),
                         rows_per_key={key: int(n) for key, n in rows})

    def rekey(self, *, new_key: bool = False, batch_size: int = DEFAULT_BATCH,
              max_batches: int | None = None, actor: str = "system",
              on_start: Callable[[int], None] | None = None,
              on_batch: Callable[[int], None] | None = None) -> RekeyReport:
        """Move rows to the current key; ``on_start(pending)``, then ``on_batch(rows done)``.

        ``max_batches`` stops early (the rest stays for the next run); an exception raised by
        ``on_batch`` (e.g. ``KeyboardInterrupt``) ends the walk after the batch just written.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        created = False
        if new_key and self.status().pending == 0:
            add_data_key(self._keys_dir)
            reload_data_keys(self._keys_dir, self._vault)
            created = True
        before = self.status()
        target = before.current_key
        unknown = sorted(k for k, n in before.rows_per_key.items()
                         if n and k not in self._vault.key_ids)
        if unknown:
            raise KeyMaterialError(
                f"rows are sealed with data key(s) {', '.join(unknown)}, which are not loaded "
                "— restore those key files first")
        pending = before.pending
        self._audit.record(actor, "identity:rekey:start", extra={
            "target_key": target, "created_key": created, "pending": pending,
            "rows_per_key": before.rows_per_key})
        if on_start is not None:
            on_start(pending)
        rewrapped = skipped = batches = 0
        try:
            after_id = ""
            while max_batches is None or batches < max_batches:
                rows = self._next_batch(target, after_id, batch_size)
                if not rows:
                    break
                moved = self._write_batch(target, rows)
                rewrapped += moved
                skipped += len(rows) - moved
                batches += 1
                after_id = rows[-1][0]
                if on_batch is not None:
                    on_batch(len(rows))
        except BaseException as exc:
            self._audit.record(actor, "identity:rekey:failure", extra={
                "target_key": target, "rewrapped": rewrapped, "skipped": skipped,
                "batches": batches, "reason": type(exc).__name__})
            raise
        remaining = self.status().pending
        report = RekeyReport(target_key=target, created_key=created, pending_at_start=pending,
                             rewrapped=rewrapped, skipped=skipped, batches=batches,
                             remaining=remaining)
        self._audit.record(actor, "identity:rekey:success", extra={
            "target_key": target, "created_key": created, "rewrapped": rewrapped,
            "skipped": skipped, "batches": batches, "remaining": remaining})
        return report

    def _next_batch(self, target: str, after_id: str,
                    size: int) -> list[tuple[str, str, bytes]]:
        """(id, old key id, new blob) of the next rows not under ``target``, by primary key."""
        with self._sessions() as session:
            rows = session.execute(
                select(Account.id, Account.id_number_key, Account.id_number_enc)
                .where(Account.id_number_key != target, Account.id > after_id)
                .order_by(Account.id).limit(size)
            ).all()
        return [(account_id, old_key, self._reseal(old_key, blob))
                for account_id, old_key, blob in rows]

    def _reseal(self, old_key: str, blob: bytes) -> bytes:
        if self._vault.key_id_of(blob) != old_key:
            raise KeyMaterialError(
                f"an account's ciphertext names another data key than id_number_key {old_key!r}")
        new_blob = self._vault.rewrap(blob)
        if self._vault.key_id_of(new_blob) != self._vault.current_key_id:
            raise KeyMaterialError("re-keying did not reach the current data key")
        return new_blob

    def _write_batch(self, target: str, rows: list[tuple[str, str, bytes]]) -> int:
        """One short transaction; a row no longer under its old key is left alone."""
        moved = 0
        with self._sessions.begin() as session:
            for account_id, old_key, new_blob in rows:
                result = session.execute(
                    update(Account)
                    .where(Account.id == account_id, Account.id_number_key == old_key)
                    .values(id_number_enc=new_blob, id_number_key=target)
                    .execution_options(synchronize_session=False))
                moved += int(getattr(result, "rowcount", 0) or 0)
        return moved
