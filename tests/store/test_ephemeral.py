"""The ephemeral store's contract, on real Redis and on the embedded SQLite file (DESIGN.md §4).

Every test that takes ``ephemeral_store`` runs once per backend. The headline is the race: of
many concurrent redemptions of one authorization code, exactly one succeeds — with OS processes
and threads on one SQLite file, and with threads on separate Redis connections.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from idp.errors import ConfigError
from idp.store.ephemeral import (
    EphemeralStore,
    RedisStore,
    SqliteStore,
    create_ephemeral_store,
)
from tests.fixtures.services import FakeClock, RedisServer

VALUE = {
    "sub": "acc_1",
    "name": "中文 张三",
    "amr": ["pwd", "otp"],
    "n": 2.5,
    "ok": True,
    "x": None,
}


def test_satisfies_the_protocol(ephemeral_store: EphemeralStore) -> None:
    assert isinstance(ephemeral_store, EphemeralStore)
    assert ephemeral_store.ping() is True


def test_json_round_trip_with_unicode(ephemeral_store: EphemeralStore) -> None:
    ephemeral_store.put("k", VALUE, 60)
    assert ephemeral_store.get("k") == VALUE
    ephemeral_store.put("中文键", {"v": "🔑"}, 60)
    assert ephemeral_store.get("中文键") == {"v": "🔑"}


def test_absent_keys(ephemeral_store: EphemeralStore) -> None:
    s = ephemeral_store
    assert s.get("nope") is None
    assert s.consume("nope") is None
    assert s.delete("nope") is False
    assert s.ttl("nope") is None
    assert s.expire("nope", 60) is False
    assert s.replace("nope", VALUE) is False
    assert s.get("nope") is None  # replace did not create it
    assert s.set_members("nope") == set()
    s.set_remove("nope", "m")  # no error


def test_put_overwrites_value_and_expiry(ephemeral_store: EphemeralStore) -> None:
    ephemeral_store.put("k", {"v": 1}, 600)
    ephemeral_store.put("k", {"v": 2}, 30)
    assert ephemeral_store.get("k") == {"v": 2}
    assert ephemeral_store.ttl("k") in (29, 30)


def test_delete(ephemeral_store: EphemeralStore) -> None:
    ephemeral_store.put("k", VALUE, 60)
    assert ephemeral_store.delete("k") is True
    assert ephemeral_store.get("k") is None
    assert ephemeral_store.delete("k") is False


def test_ttl_and_expire(ephemeral_store: EphemeralStore) -> None:
    ephemeral_store.put("k", VALUE, 60)
    assert ephemeral_store.ttl("k") in (59, 60)
    assert ephemeral_store.expire("k", 300) is True
    assert ephemeral_store.ttl("k") in (299, 300)
    assert ephemeral_store.get("k") == VALUE


def test_add_only_when_absent(ephemeral_store: EphemeralStore) -> None:
    assert ephemeral_store.add("k", {"v": 1}, 60) is True
    assert ephemeral_store.add("k", {"v": 2}, 600) is False
    assert ephemeral_store.get("k") == {"v": 1}
    assert ephemeral_store.ttl("k") in (59, 60)
    ephemeral_store.delete("k")
    assert ephemeral_store.add("k", {"v": 3}, 60) is True


def test_replace_keeps_expiry(ephemeral_store: EphemeralStore) -> None:
    ephemeral_store.put("k", {"v": 1}, 100)
    assert ephemeral_store.replace("k", {"v": 2}) is True
    assert ephemeral_store.get("k") == {"v": 2}
    assert ephemeral_store.ttl("k") in (99, 100)


def test_consume_gives_the_value_once(ephemeral_store: EphemeralStore) -> None:
    ephemeral_store.put("code", VALUE, 60)
    assert ephemeral_store.consume("code") == VALUE
    assert ephemeral_store.consume("code") is None
    assert ephemeral_store.get("code") is None
    assert ephemeral_store.ttl("code") is None


def test_incr_is_a_fixed_window(ephemeral_store: EphemeralStore) -> None:
    assert ephemeral_store.incr("rl", 60) == 1
    assert ephemeral_store.incr("rl", 600) == 2
    assert ephemeral_store.incr("rl", 600) == 3
    assert ephemeral_store.ttl("rl") in (59, 60)  # later increments keep the first window
    assert ephemeral_store.incr("other", 60) == 1


def test_set_operations(ephemeral_store: EphemeralStore) -> None:
    s = ephemeral_store
    s.set_add("sessions", "a", 60)
    s.set_add("sessions", "b", 60)
    s.set_add("sessions", "b", 60)
    s.set_add("sessions", "会话", 60)
    assert s.set_members("sessions") == {"a", "b", "会话"}
    s.set_remove("sessions", "a")
    s.set_remove("sessions", "missing")
    assert s.set_members("sessions") == {"b", "会话"}
    s.set_remove("sessions", "b")
    s.set_remove("sessions", "会话")
    assert s.set_members("sessions") == set()
    assert s.ttl("sessions") is None  # an empty set does not exist


def test_set_add_resets_the_whole_sets_expiry(ephemeral_store: EphemeralStore) -> None:
    ephemeral_store.set_add("s", "a", 60)
    ephemeral_store.set_add("s", "b", 300)
    assert ephemeral_store.ttl("s") in (299, 300)
    ephemeral_store.set_remove("s", "a")  # removal keeps the expiry
    assert ephemeral_store.ttl("s") in (299, 300)
    assert ephemeral_store.delete("s") is True
    assert ephemeral_store.set_members("s") == set()


def test_everything_expires(
    ephemeral_store: EphemeralStore, elapse: Callable[[float], None]
) -> None:
    s = ephemeral_store
    s.put("value", VALUE, 1)
    s.put("code", VALUE, 1)
    s.put("kept", VALUE, 5)
    assert s.add("added", VALUE, 1) is True
    s.put("replaced", VALUE, 1)
    s.incr("counter", 1)
    s.incr("counter", 1)
    s.set_add("set", "m", 1)

    elapse(1.1)

    assert s.get("value") is None
    assert s.ttl("value") is None
    assert s.consume("code") is None
    assert s.replace("replaced", {"v": 2}) is False
    assert s.expire("value", 60) is False
    assert s.delete("value") is False
    assert s.set_members("set") == set()
    assert s.incr("counter", 60) == 1  # a new window
    assert s.ttl("counter") in (59, 60)
    assert s.add("added", {"v": 2}, 60) is True
    assert s.get("added") == {"v": 2}
    assert s.get("kept") == VALUE
    assert s.ttl("kept") in (3, 4)


# -- the race: many concurrent redemptions, exactly one winner ----------------------------------

RACE_KEYS = 30
PROCESSES, THREADS = 6, 4  # embedded: 6 processes x 4 threads = 24 racers per key
RACERS = PROCESSES * THREADS

Spec = tuple[str, str, str]  # ("embedded", path, "") or ("redis", url, prefix): picklable


def _open(spec: Spec) -> EphemeralStore:
    kind, where, prefix = spec
    return SqliteStore(Path(where)) if kind == "embedded" else RedisStore(where, prefix=prefix)


def _rounds(store: EphemeralStore, op: str, keys: list[str], barrier: Any) -> list[str]:
    """Race every other racer for each key in turn; the keys this racer won."""
    me = f"{os.getpid()}-{threading.get_ident()}"
    won = []
    try:
        for key in keys:
            barrier.wait(timeout=60)
            if op == "consume":
                value = store.consume(key)
                if value is not None:
                    assert value == {"code": key}
                    won.append(key)
            elif store.add(key, {"racer": me}, 600):
                won.append(f"{key}={me}")
    except BaseException:
        barrier.abort()  # the other racers fail at once instead of waiting out the timeout
        raise
    return won


def _threads(
    open_store: Callable[[], EphemeralStore], op: str, keys: list[str], barrier: Any, n: int
) -> list[str]:
    """Race ``n`` threads, each on the store ``open_store`` gives it; the keys they won."""

    def run() -> list[str]:
        store = open_store()
        try:
            return _rounds(store, op, keys, barrier)
        finally:
            if isinstance(store, RedisStore):  # a Redis racer's own client, not a shared store
                store.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(run) for _ in range(n)]
        return [key for future in futures for key in future.result()]


def _process_racer(spec: Spec, op: str, keys: list[str], barrier: Any, results: Any) -> None:
    store = _open(spec)  # one store per process; each thread gets its own connection
    try:
        results.put(_threads(lambda: store, op, keys, barrier, THREADS))
    except BaseException:
        results.put(traceback.format_exc())
        raise
    finally:
        store.close()


def _race(store: EphemeralStore, spec: Spec, op: str, keys: list[str]) -> list[str]:
    if isinstance(store, RedisStore):
        return _threads(lambda: _open(spec), op, keys, threading.Barrier(RACERS), RACERS)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(RACERS), ctx.Queue()
    procs = [
        ctx.Process(target=_process_racer, args=(spec, op, keys, barrier, results))
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    try:
        reports = [results.get(timeout=120) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=30)
        results.close()
    errors = [report for report in reports if isinstance(report, str)]
    assert not errors, errors[0]
    assert [proc.exitcode for proc in procs] == [0] * PROCESSES
    return [key for report in reports for key in report]


def _spec(store: EphemeralStore, request: pytest.FixtureRequest) -> Spec:
    if isinstance(store, SqliteStore):
        return ("embedded", str(store.path), "")
    assert isinstance(store, RedisStore)
    server: RedisServer = request.getfixturevalue("redis_server")
    return ("redis", server.url, store.prefix)


def test_concurrent_redemptions_of_one_code_have_exactly_one_winner(
    ephemeral_store: EphemeralStore, request: pytest.FixtureRequest
) -> None:
    keys = [f"code:{i}" for i in range(RACE_KEYS)]
    for key in keys:
        ephemeral_store.put(key, {"code": key}, 600)

    won = _race(ephemeral_store, _spec(ephemeral_store, request), "consume", keys)

    assert collections.Counter(won) == collections.Counter(keys)  # each key won exactly once
    assert all(ephemeral_store.get(key) is None for key in keys)
    assert all(ephemeral_store.consume(key) is None for key in keys)


def test_concurrent_adds_have_exactly_one_winner(
    ephemeral_store: EphemeralStore, request: pytest.FixtureRequest
) -> None:
    keys = [f"nonce:{i}" for i in range(RACE_KEYS)]

    won = _race(ephemeral_store, _spec(ephemeral_store, request), "add", keys)

    winners = dict(entry.split("=", 1) for entry in won)
    assert len(won) == RACE_KEYS and sorted(winners) == sorted(keys)
    assert all(ephemeral_store.get(key) == {"racer": winners[key]} for key in keys)


# -- choosing the backend, and what only one backend has ----------------------------------------


def test_factory_chooses_embedded_without_redis_url(tmp_path: Path) -> None:
    path = tmp_path / "var" / "run" / "ephemeral.sqlite3"
    store = create_ephemeral_store("", path)
    try:
        assert isinstance(store, SqliteStore)
        assert path.parent.is_dir()
        assert store.ping() is True
    finally:
        store.close()


@pytest.mark.redis
def test_factory_chooses_redis_with_url(redis_server: RedisServer, tmp_path: Path) -> None:
    store = create_ephemeral_store(redis_server.url, tmp_path / "unused" / "x.sqlite3")
    try:
        assert isinstance(store, RedisStore)
        assert store.prefix == "idp:"
        assert store.ping() is True
        assert not (tmp_path / "unused").exists()
    finally:
        store.close()


@pytest.mark.parametrize(
    "url", ["nonsense://x", "localhost:6379", "http://:hunter2@x/0", "redis://:hunter2@x:port/0"]
)
def test_factory_rejects_a_malformed_redis_url(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        create_ephemeral_store(url, tmp_path / "x.sqlite3")
    message = str(raised.value)
    assert "Redis URL" in message and "\n" not in message
    assert "hunter2" not in message


def test_redis_ping_reports_an_unreachable_server() -> None:
    store = RedisStore("redis://127.0.0.1:1/0", socket_timeout=0.5)  # constructing never connects
    try:
        assert store.ping() is False
    finally:
        store.close()


@pytest.mark.redis
def test_redis_prefixes_keep_deployments_apart(redis_server: RedisServer) -> None:
    one = RedisStore(redis_server.url, prefix=f"test:one:{os.getpid()}:")
    two = RedisStore(redis_server.url, prefix=f"test:two:{os.getpid()}:")
    try:
        one.put("k", {"v": 1}, 5)
        assert two.get("k") is None
        assert one.consume("k") == {"v": 1}
    finally:
        one.close()
        two.close()


def test_embedded_store_purges_expired_rows(tmp_path: Path) -> None:
    clock = FakeClock()
    store = SqliteStore(tmp_path / "e.sqlite3", clock=clock, purge_every=20)
    try:
        for i in range(10):
            store.put(f"old:{i}", VALUE, 1)
        clock.advance(2)
        store.put("live", VALUE, 60)
        assert store.purge_expired() == 10
        for i in range(20):
            store.put(f"new:{i}", VALUE, 1)
        clock.advance(2)
        for _ in range(10):  # every 20th write purges: the 40th is among these
            store.incr("counter", 60)
        rows = store._conn().execute("SELECT key FROM kv ORDER BY key").fetchall()
        assert rows == [("counter",), ("live",)]
    finally:
        store.close()
