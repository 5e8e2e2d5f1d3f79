"""Re-keying: move every ``accounts`` ID number and every TOTP secret — citizens'
(``mfa_factors``, associated data ``mfa:totp:<account id>``) and staff's (``staff_accounts``,
``staff:totp:<staff id>``), sealed by the same vault — to the current data key.

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
3. Then the same walk over ``mfa_factors``. That table has no key-id column: the key id is
   read from the blob's header (in SQL, a prefix comparison), and the conditional UPDATE
   compares the whole old blob (``WHERE id = … AND secret_enc = <old blob>``), so a factor
   re-enrolled meanwhile is left alone.

Old data keys are never deleted or unloaded, so every node keeps reading rows under either key
during and after the walk. The blind-index key is not rotated here: it is the lookup and
uniqueness key, and a new one would need every index recomputed in one step.
Audit: ``identity:rekey:start`` and ``identity:rekey:success`` (or ``…:failure`` when the walk
is interrupted), with key ids and counts — never a number, masked or not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from idp.accounts.mfa import totp_associated_data
from idp.errors import KeyMaterialError
from idp.identity.keyring import add_data_key, reload_data_keys
from idp.identity.protector import IdNumberProtector
from idp.identity.vault import key_header
from idp.staff.accounts import totp_associated_data as staff_totp_data
from idp.store.models import Account, MfaFactor, StaffAccount

DEFAULT_BATCH = 200
NOT_LOADED = "(not loaded)"  # KeyStatus.secrets_per_key: TOTP secrets under no loaded key


class Auditor(Protocol):
    def record(self, actor: str, tag: str, *, extra: dict[str, Any] | None = None) -> int: ...


@dataclass(frozen=True)
class KeyStatus:
    """Which data key is current, which are loaded, and how many accounts (ID numbers) and
    second factors (TOTP secrets) each one seals. TOTP secrets under a key that is not loaded
    are counted under ``"unknown"``."""

    current_key: str
    loaded_keys: tuple[str, ...]
    rows_per_key: dict[str, int]
    secrets_per_key: dict[str, int] = field(default_factory=dict)

    @property
    def accounts_pending(self) -> int:
        return sum(n for key, n in self.rows_per_key.items() if key != self.current_key)

    @property
    def secrets_pending(self) -> int:
        return sum(n for key, n in self.secrets_per_key.items() if key != self.current_key)

    @property
    def pending(self) -> int:
        """Rows (both tables) not yet under the current key."""
        return self.accounts_pending + self.secrets_pending


@dataclass(frozen=True)
class RekeyReport:
    target_key: str  # the data key every row is moved to
    created_key: bool  # this run created it
    pending_at_start: int  # ID numbers + TOTP secrets
    rewrapped: int  # ID numbers (accounts) moved by this run
    skipped: int  # accounts changed by someone else meanwhile (left alone)
    batches: int
    remaining: int  # rows (both tables) still under other keys when the run ended
    secrets_rewrapped: int = 0  # TOTP secrets (mfa_factors) moved by this run
    secrets_skipped: int = 0  # factors re-enrolled or removed meanwhile (left alone)

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
        loaded = tuple(sorted(self._vault.key_ids))
        secrets: dict[str, int] = {}
        with self._sessions() as session:
            rows = session.execute(
                select(Account.id_number_key, func.count()).group_by(Account.id_number_key)
            ).all()
            staff_secret = StaffAccount.totp_secret_enc
            for key in loaded:  # a handful of keys: one indexed-free count each
                n = int(session.scalar(select(func.count()).select_from(MfaFactor)
                                       .where(_sealed_with(key))) or 0)
                n += int(session.scalar(select(func.count()).select_from(StaffAccount)
                                        .where(_sealed_with(key, staff_secret))) or 0)
                if n:
                    secrets[key] = n
            total = int(session.scalar(select(func.count()).select_from(MfaFactor)) or 0)
            total += int(session.scalar(select(func.count()).select_from(StaffAccount)
                                        .where(staff_secret.is_not(None))) or 0)
        if total > sum(secrets.values()):
            secrets[NOT_LOADED] = total - sum(secrets.values())
        return KeyStatus(current_key=self._vault.current_key_id, loaded_keys=loaded,
                         rows_per_key={key: int(n) for key, n in rows},
                         secrets_per_key=secrets)

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
        if before.secrets_per_key.get(NOT_LOADED):
            raise KeyMaterialError(
                f"{before.secrets_per_key[NOT_LOADED]} TOTP secret(s) are sealed with a data "
                "key that is not loaded — restore that key file first")
        pending = before.pending
        self._audit.record(actor, "identity:rekey:start", extra={
            "target_key": target, "created_key": created, "pending": pending,
            "rows_per_key": before.rows_per_key})
        if on_start is not None:
            on_start(pending)
        rewrapped = skipped = secrets_rewrapped = secrets_skipped = batches = 0
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
            after_factor = 0
            while max_batches is None or batches < max_batches:
                factors = self._next_factors(target, after_factor, batch_size)
                if not factors:
                    break
                moved = self._write_factors(factors)
                secrets_rewrapped += moved
                secrets_skipped += len(factors) - moved
                batches += 1
                after_factor = factors[-1][0]
                if on_batch is not None:
                    on_batch(len(factors))
            if max_batches is None or batches < max_batches:  # staff: a small table, one pass
                staff_rows = self._next_staff(target)
                moved = self._write_staff(staff_rows)
                secrets_rewrapped += moved
                secrets_skipped += len(staff_rows) - moved
        except BaseException as exc:
            self._audit.record(actor, "identity:rekey:failure", extra={
                "target_key": target, "rewrapped": rewrapped, "skipped": skipped,
                "secrets_rewrapped": secrets_rewrapped, "secrets_skipped": secrets_skipped,
                "batches": batches, "reason": type(exc).__name__})
            raise
        remaining = self.status().pending
        report = RekeyReport(target_key=target, created_key=created, pending_at_start=pending,
                             rewrapped=rewrapped, skipped=skipped, batches=batches,
                             remaining=remaining, secrets_rewrapped=secrets_rewrapped,
                             secrets_skipped=secrets_skipped)
        self._audit.record(actor, "identity:rekey:success", extra={
            "target_key": target, "created_key": created, "rewrapped": rewrapped,
            "skipped": skipped, "secrets_rewrapped": secrets_rewrapped,
            "secrets_skipped": secrets_skipped, "batches": batches, "remaining": remaining})
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

    def _next_factors(self, target: str, after_id: int,
                      size: int) -> list[tuple[int, bytes, bytes]]:
        """(id, old blob, new blob) of the next TOTP secrets not under ``target``, by id."""
        with self._sessions() as session:
            rows = session.execute(
                select(MfaFactor.id, MfaFactor.account_id, MfaFactor.secret_enc)
                .where(~_sealed_with(target), MfaFactor.id > after_id)
                .order_by(MfaFactor.id).limit(size)
            ).all()
        out = []
        for factor_id, account_id, blob in rows:
            new_blob = self._vault.rewrap(blob, associated_data=totp_associated_data(account_id))
            if self._vault.key_id_of(new_blob) != target:
                raise KeyMaterialError("re-keying did not reach the current data key")
            out.append((factor_id, blob, new_blob))
        return out

    def _next_staff(self, target: str) -> list[tuple[str, bytes, bytes]]:
        """(id, old blob, new blob) of every staff TOTP secret not under ``target``."""
        column = StaffAccount.totp_secret_enc
        with self._sessions() as session:
            rows = session.execute(select(StaffAccount.id, column).where(
                column.is_not(None), ~_sealed_with(target, column))).all()
        out: list[tuple[str, bytes, bytes]] = []
        for staff_id, blob in rows:
            assert blob is not None  # noqa: S101 — selected IS NOT NULL
            new_blob = self._vault.rewrap(blob, associated_data=staff_totp_data(staff_id))
            out.append((staff_id, blob, new_blob))
        return out

    def _write_staff(self, rows: list[tuple[str, bytes, bytes]]) -> int:
        moved = 0
        with self._sessions.begin() as session:
            for staff_id, old_blob, new_blob in rows:
                result = session.execute(
                    update(StaffAccount)
                    .where(StaffAccount.id == staff_id, StaffAccount.totp_secret_enc == old_blob)
                    .values(totp_secret_enc=new_blob)
                    .execution_options(synchronize_session=False))
                moved += int(getattr(result, "rowcount", 0) or 0)
        return moved

    def _write_factors(self, rows: list[tuple[int, bytes, bytes]]) -> int:
        """One short transaction; a factor whose secret changed meanwhile is left alone."""
        moved = 0
        with self._sessions.begin() as session:
            for factor_id, old_blob, new_blob in rows:
                result = session.execute(
                    update(MfaFactor)
                    .where(MfaFactor.id == factor_id, MfaFactor.secret_enc == old_blob)
                    .values(secret_enc=new_blob)
                    .execution_options(synchronize_session=False))
                moved += int(getattr(result, "rowcount", 0) or 0)
        return moved


def _sealed_with(key_id: str, column: Any = MfaFactor.secret_enc) -> ColumnElement[bool]:
    """``column`` (a TOTP secret) was sealed with ``key_id``: its blob starts with that key's
    header (``substr`` on a BLOB / bytea counts bytes in SQLite and PostgreSQL alike)."""
    header = key_header(key_id)
    return func.substr(column, 1, len(header)) == header
