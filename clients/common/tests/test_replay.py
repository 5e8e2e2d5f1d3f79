"""The jti replay caches (Back-Channel Logout 1.0 §2.6 step 8): one use per jti until it
expires, pruned after, and — for the command-line listeners — kept across restarts."""

from __future__ import annotations

import json
import stat
import threading

import pytest

from clients.common.errors import ClientError
from clients.common.replay import FileReplayCache, MemoryReplayCache, replay_file_for


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "file"])
def make(request, tmp_path):
    path = tmp_path / "app.json.logout-jti"
    if request.param == "memory":
        return lambda clock: MemoryReplayCache(clock)
    return lambda clock: FileReplayCache(path, clock)


def test_a_jti_is_claimed_once_until_it_expires(make):
    clock = Clock()
    cache = make(clock)
    assert cache.claim("j1", keep_until=1_180.0) is True
    assert cache.claim("j1", keep_until=1_300.0) is False
    assert cache.claim("j2", keep_until=1_180.0) is True
    clock.now = 1_181.0  # j1's token is now refused as expired anyway: the entry goes
    assert cache.claim("j1", keep_until=1_400.0) is True


def test_release_lets_a_retry_through(make):
    cache = make(Clock())
    assert cache.claim("j1", 2_000.0)
    cache.release("j1")
    cache.release("never-seen")
    assert cache.claim("j1", 2_000.0)


def test_the_file_cache_survives_a_restart_and_stays_private(tmp_path):
    path = replay_file_for(tmp_path / "app.json")
    assert path.name == "app.json.logout-jti"
    clock = Clock()
    assert FileReplayCache(path, clock).claim("j1", 1_100.0)
    restarted = FileReplayCache(path, clock)
    assert restarted.claim("j1", 1_100.0) is False, "a restarted listener still refuses it"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    clock.now = 1_101.0
    restarted.claim("j2", 1_200.0)
    assert json.loads(path.read_text())["seen"] == {"j2": 1_200.0}, "expired entries pruned"


def test_concurrent_claims_of_one_jti_let_exactly_one_through(tmp_path):
    path = tmp_path / "seen"
    caches = [FileReplayCache(path) for _ in range(4)]  # as if four listeners shared the file
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda c=c: results.append(c.claim("same", 9e9))) for c in caches
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]


def test_a_foreign_or_exposed_file_is_refused_at_start(tmp_path):
    path = tmp_path / "seen"
    path.write_text("[1, 2]")
    path.chmod(0o600)
    with pytest.raises(ClientError) as info:
        FileReplayCache(path)
    assert info.value.code == "state_file_invalid"
    path.write_text('{"version": 1, "seen": {}}')
    path.chmod(0o644)
    with pytest.raises(ClientError) as info:
        FileReplayCache(path)
    assert info.value.code == "state_file_exposed"
