"""The embedded ephemeral store: one SQLite file for a single node (DESIGN.md §4).

Used when ``IDP_REDIS_URL`` is empty. Several processes (server workers) and threads may share
the file safely:

* WAL mode and a busy timeout, and one connection per thread per process (a connection is never
  carried across ``fork``: a process that inherits one opens its own).
* Every write runs in a transaction started with ``BEGIN IMMEDIATE``, which takes the database's
  write lock up front, so there is no read-then-upgrade race. :meth:`SqliteStore.consume` is
  ``DELETE … RETURNING`` inside such a transaction: of any number of concurrent redemptions of
  one authorization code, threads or processes, exactly one receives it.
* Expired rows are treated as absent by every query and purged every ``purge_every`` writes.

One table holds everything, so ``ttl``, ``expire``, ``delete`` work alike on values, counters
and sets, as they do on Redis. A counter's value is an integer; a set's is a sorted JSON array.
Time comes from ``clock`` so tests can expire items without sleeping.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from idp.store.ephemeral.base import Value

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expires_at ON kv (expires_at);
"""

_UPSERT = (
    "INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
)

# The first increment (or the first after expiry) starts a new window; later ones keep it.
_INCR = """
INSERT INTO kv (key, value, expires_at) VALUES (:key, 1, :expires_at)
ON CONFLICT (key) DO UPDATE SET
    value = CASE WHEN kv.expires_at > :now THEN CAST(kv.value AS INTEGER) + 1 ELSE 1 END,
    expires_at = CASE WHEN kv.expires_at > :now THEN kv.expires_at ELSE excluded.expires_at END
RETURNING value
"""


def _encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class SqliteStore:
    """:class:`~idp.store.ephemeral.base.EphemeralStore` on a local SQLite file."""

    def __init__(
        self,
        path: pathlib.Path,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_ms: int = 10_000,
        purge_every: int = 500,
    ) -> None:
        self.path = pathlib.Path(path)
        self._clock = clock
        self._busy_timeout_ms = busy_timeout_ms
        self._purge_every = purge_every
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[tuple[int, sqlite3.Connection]] = []
        self._writes = 0

    # -- connections and transactions -------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_ms / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._lock:
            self._connections.append((os.getpid(), conn))
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL and create the table, retrying while another process does.

        Changing the journal mode fails at once with "database is locked" instead of waiting
        for the busy timeout, so several workers opening a new file together must retry.
        """
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's write lock from its first statement."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._after_write()

    def _after_write(self) -> None:
        with self._lock:
            self._writes += 1
            due = self._purge_every > 0 and self._writes % self._purge_every == 0
        if due:
            self.purge_expired()

    def purge_expired(self) -> int:
        """Delete every expired row now; the number removed."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            removed = conn.execute("DELETE FROM kv WHERE expires_at <= ?", (self._clock(),))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return removed.rowcount

    def _live(self, key: str) -> str | None:
        row = (
            self._conn()
            .execute("SELECT value FROM kv WHERE key = ? AND expires_at > ?", (key, self._clock()))
            .fetchone()
        )
        return None if row is None else str(row[0])

    # -- values ------------------------------------------------------------------------------

    def put(self, key: str, value: Value, ttl: int) -> None:
        with self._write() as conn:
            conn.execute(_UPSERT, (key, _encode(value), self._clock() + ttl))

    def add(self, key: str, value: Value, ttl: int) -> bool:
        now = self._clock()
        with self._write() as conn:
            row = conn.execute(
                _UPSERT + " WHERE kv.expires_at <= ? RETURNING 1",
                (key, _encode(value), now + ttl, now),
            ).fetchone()
        return row is not None

    def replace(self, key: str, value: Value) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE kv SET value = ? WHERE key = ? AND expires_at > ?",
                (_encode(value), key, self._clock()),
            )
        return cur.rowcount > 0

    def get(self, key: str) -> Value | None:
        raw = self._live(key)
        return None if raw is None else cast(Value, json.loads(raw))

    def consume(self, key: str) -> Value | None:
        with self._write() as conn:
            row = conn.execute(
                "DELETE FROM kv WHERE key = ? AND expires_at > ? RETURNING value",
                (key, self._clock()),
            ).fetchone()
        return None if row is None else cast(Value, json.loads(row[0]))

    def delete(self, key: str) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM kv WHERE key = ? AND expires_at > ?", (key, self._clock())
            )
        return cur.rowcount > 0

    def ttl(self, key: str) -> int | None:
        now = self._clock()
        row = (
            self._conn()
            .execute("SELECT expires_at FROM kv WHERE key = ? AND expires_at > ?", (key, now))
            .fetchone()
        )
        return None if row is None else max(1, math.ceil(float(row[0]) - now))

    def expire(self, key: str, ttl: int) -> bool:
        now = self._clock()
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE kv SET expires_at = ? WHERE key = ? AND expires_at > ?",
                (now + ttl, key, now),
            )
        return cur.rowcount > 0

    # -- counters ----------------------------------------------------------------------------

    def incr(self, key: str, ttl: int) -> int:
        now = self._clock()
        with self._write() as conn:
            row = conn.execute(_INCR, {"key": key, "expires_at": now + ttl, "now": now}).fetchone()
        return int(row[0])

    def count(self, key: str) -> int:
        raw = self._live(key)
        return 0 if raw is None else int(json.loads(raw))

    # -- sets --------------------------------------------------------------------------------

    def _members(self, conn: sqlite3.Connection, key: str, now: float) -> set[str]:
        row = conn.execute(
            "SELECT value FROM kv WHERE key = ? AND expires_at > ?", (key, now)
        ).fetchone()
        return set() if row is None else set(json.loads(row[0]))

    def set_add(self, key: str, member: str, ttl: int) -> None:
        now = self._clock()
        with self._write() as conn:
            members = self._members(conn, key, now) | {member}
            conn.execute(_UPSERT, (key, _encode(sorted(members)), now + ttl))

    def set_remove(self, key: str, member: str) -> None:
        now = self._clock()
        with self._write() as conn:
            members = self._members(conn, key, now)
            if member not in members:
                return
            members.discard(member)
            if members:  # keep the set's expiry, as SREM does
                conn.execute(
                    "UPDATE kv SET value = ? WHERE key = ?", (_encode(sorted(members)), key)
                )
            else:  # an empty set does not exist, as in Redis
                conn.execute("DELETE FROM kv WHERE key = ?", (key,))

    def set_members(self, key: str) -> set[str]:
        return self._members(self._conn(), key, self._clock())

    # -- lifecycle ---------------------------------------------------------------------------

    def ping(self) -> bool:
        try:
            return bool(self._conn().execute("SELECT 1").fetchone() == (1,))
        except sqlite3.Error:
            return False

    def close(self) -> None:
        """Close every connection this store opened in this process, in any thread.

        Connections inherited through ``fork`` are forgotten, not closed: SQLite forbids using
        a connection across ``fork`` (closing it would release this process's POSIX locks on
        the file, held by its own connections).
        """
        with self._lock:
            connections, self._connections = self._connections, []
        pid = os.getpid()
        for owner, conn in connections:
            if owner == pid:
                conn.close()
        self._local = threading.local()
