"""Synthetic citizens for load tests (``idp seed-bench``, docs/scale.md), in batches.

Citizen ``i`` of a seed (:class:`BenchCitizens`) always has the same account id (shaped like a
random version-4 UUID), the same valid ID number (:mod:`idp.identity.synthetic`), the same
mobile phone number (an affine bijection of ``i`` over the 7 × 10^9 numbers ``1[3-9]xxxxxxxxx``,
so no two citizens share one) and a name. Rows are those of a registration
(:func:`idp.accounts.services.account_columns`): the number sealed with the current data key,
its blind index and masked form, gender and birth date from the number. Only the password
hash is shared: argon2id costs ~50 ms a hash by design, so every synthetic citizen gets the
one hash of the bench password, made once — a real hash: signing in with it works.

:meth:`BenchSeeder.seed` adds citizens ``0 … target-1``. Batches commit in order, so the
citizens seeded before form a prefix, found with a binary search over the account ids
(:meth:`BenchSeeder.seeded`): a second run with a larger target adds only the missing ones.
Rows are inserted with ``INSERT … ON CONFLICT DO NOTHING`` — on PostgreSQL from a ``COPY``
into a temporary table, on SQLite by executemany — so an account already holding a number,
phone or id (a hole in the prefix, a concurrent run) is skipped, never duplicated, and the
count inserted is exact. While the database inserts one batch, the next is built (parsing,
AES-GCM, HMAC in Python): the two overlap on two cores.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from sqlalchemy import Connection, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, sessionmaker

from idp.accounts.services import account_columns
from idp.clock import Clock, system_clock, to_datetime
from idp.identity import IdNumberProtector, parse_id_number
from idp.identity.synthetic import Permutation, SyntheticIdNumbers
from idp.store.models import Account

PHONES = 7 * 10**9  # 1[3-9] and nine digits
_BATCH_TABLE = "seed_bench_batch"  # temporary, per connection, emptied at each commit
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国红玉萍文辉鹏飞"


class BenchCitizens:
    """What synthetic citizen ``i`` of ``seed`` is: account id, ID number, phone, name."""

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self._numbers = SyntheticIdNumbers(seed)
        self._phones = Permutation(PHONES, seed, "phone")

    def account_id(self, index: int) -> str:
        digest = hashlib.sha256(f"{self.seed}|account|{index}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def id_number(self, index: int) -> str:
        return self._numbers.number(index)

    def phone(self, index: int) -> str:
        high, low = divmod(self._phones(index), 10**9)
        return f"1{3 + high}{low:09d}"

    def name(self, index: int) -> str:
        surname = _SURNAMES[index % len(_SURNAMES)]
        given = _GIVEN[(index // len(_SURNAMES)) % len(_GIVEN)]
        second = index // (len(_SURNAMES) * len(_GIVEN)) % (len(_GIVEN) + 1)
        return surname + given + (_GIVEN[second - 1] if second else "")


@dataclass(frozen=True)
class SeedReport:
    target: int  # citizens 0 … target-1 wanted
    start: int  # citizens 0 … start-1 were seeded before this run
    inserted: int
    seconds: float

    @property
    def skipped(self) -> int:
        """Citizens not inserted: there already, or an account held their number or phone."""
        return self.target - self.inserted

    @property
    def rows_per_second(self) -> float:
        return self.inserted / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"citizens": self.target, "start": self.start, "inserted": self.inserted,
                "skipped": self.skipped, "seconds": round(self.seconds, 3),
                "rows_per_second": round(self.rows_per_second, 1)}


class BenchSeeder:
    def __init__(self, sessions: sessionmaker[Session], protector: IdNumberProtector,
                 citizens: BenchCitizens, *, clock: Clock = system_clock) -> None:
        self._sessions = sessions
        self._protector = protector
        self.citizens = citizens
        self._clock = clock

    def seeded(self, limit: int) -> int:
        """How many of citizens ``0 … limit-1`` are there already (the seeded prefix)."""
        low, high = 0, limit
        with self._sessions() as session:
            while low < high:
                middle = (low + high) // 2
                found = session.scalar(select(Account.id).where(
                    Account.id == self.citizens.account_id(middle)))
                low, high = (middle + 1, high) if found else (low, middle)
        return low

    def rows(self, start: int, stop: int, password_hash: str) -> list[dict[str, Any]]:
        """The account rows of citizens ``start … stop-1``."""
        now = to_datetime(self._clock())
        today = now.date()
        rows = []
        for index in range(start, stop):
            number = parse_id_number(self.citizens.id_number(index), today=today)
            rows.append(account_columns(
                self.citizens.account_id(index), number, self._protector.protect(number),
                name=self.citizens.name(index), phone=self.citizens.phone(index), email=None,
                password_hash=password_hash, now=now))
        return rows

    def insert(self, rows: list[dict[str, Any]]) -> int:
        """Insert in one transaction, skipping rows that conflict; how many were inserted."""
        if not rows:
            return 0
        with self._sessions.begin() as session:
            connection = session.connection()
            if connection.dialect.name == "postgresql":
                return _copy_insert(connection, rows)
            statement = sqlite.insert(Account).on_conflict_do_nothing()
            return int(connection.execute(statement, rows).rowcount)

    def seed(self, target: int, *, password_hash: str, batch: int = 10_000,
             start: int | None = None,
             progress: Callable[[int], None] | None = None) -> SeedReport:
        """Add the missing citizens of ``0 … target-1``, from ``start`` (default: after the
        :meth:`seeded` prefix); ``progress(n)`` after each batch of ``n`` citizens."""
        began = time.monotonic()
        start = self.seeded(target) if start is None else start
        inserted = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-bench") as pool:
            pending: tuple[Future[int], int] | None = None  # being inserted, its size
            for first in range(start, target, batch):
                rows = self.rows(first, min(first + batch, target), password_hash)
                if pending is not None:
                    inserted += self._finish(*pending, progress)
                pending = pool.submit(self.insert, rows), len(rows)
            if pending is not None:
                inserted += self._finish(*pending, progress)
        return SeedReport(target=target, start=start, inserted=inserted,
                          seconds=time.monotonic() - began)

    @staticmethod
    def _finish(insert: Future[int], size: int,
                progress: Callable[[int], None] | None) -> int:
        inserted = insert.result()
        if progress is not None:
            progress(size)
        return inserted


def _copy_insert(connection: Connection, rows: list[dict[str, Any]]) -> int:
    """PostgreSQL: ``COPY`` the rows into a temporary table, then ``INSERT … SELECT … ON
    CONFLICT DO NOTHING``. Measured (docs/scale.md): 15–20 µs of Python a row against ~40 µs
    for SQLAlchemy's executemany, whose rowcount psycopg leaves at -1; the seeding 1.3 times
    as fast end to end."""
    names = [column.name for column in Account.__table__.columns]
    columns = sql.SQL(", ").join(map(sql.Identifier, names))
    batch, accounts = sql.Identifier(_BATCH_TABLE), sql.Identifier(Account.__tablename__)
    driver = connection.connection.driver_connection  # psycopg, in this session's transaction
    assert driver is not None  # noqa: S101 — a checked-out connection
    with driver.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE TEMPORARY TABLE IF NOT EXISTS {} (LIKE {}) "
                               "ON COMMIT DELETE ROWS").format(batch, accounts))
        with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(batch, columns)) as copy:
            for row in rows:
                copy.write_row([row.get(name) for name in names])
        cursor.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING")
                       .format(accounts, columns, columns, batch))
        return int(cursor.rowcount)
