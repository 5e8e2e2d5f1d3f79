"""Replay detection for logout tokens — Back-Channel Logout 1.0 §2.6 step 8.

Every logout token carries a ``jti``; a client that remembers the ``jti`` values it accepted
refuses a token that is played to it again. The IdP re-sends the *same* ``jti`` (freshly signed)
when it retries a delivery whose answer it lost, so a second arrival is answered 400 and the
session stays ended — nothing is done twice.

An entry is kept until the token's ``exp`` plus the accepted clock skew: after that the token
is refused as expired anyway, and the entry is pruned.

- :class:`MemoryReplayCache` for a server process that owns its sessions (the portal, the
  mini-program backend): the sessions and the cache are lost together on a restart.
- :class:`FileReplayCache` for the command-line listeners, whose sign-in outlives the process
  in a state file: the cache lives in a private file beside it, so a restarted listener still
  refuses a replay. An advisory lock (``flock``) makes claim-and-write one step even if two
  listeners were started on the same file.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from .privatefile import read_state, write_state

Clock = Callable[[], float]


class ReplayCache(Protocol):
    def claim(self, jti: str, keep_until: float) -> bool:
        """Record ``jti`` until ``keep_until`` (epoch seconds); ``False`` if it was seen."""

    def release(self, jti: str) -> None:
        """Forget ``jti``: the logout it carried failed here, so a retry must be accepted."""


def _live(seen: dict[str, float], now: float) -> dict[str, float]:
    return {jti: until for jti, until in seen.items() if until > now}


class MemoryReplayCache:
    """``jti`` → keep-until in this process's memory. Only tokens signed by the IdP reach it
    (the signature is checked first), so its size is bounded by the IdP's logouts per few
    minutes."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def claim(self, jti: str, keep_until: float) -> bool:
        with self._lock:
            self._seen = _live(self._seen, self._clock())
            if jti in self._seen:
                return False
            self._seen[jti] = keep_until
            return True

    def release(self, jti: str) -> None:
        with self._lock:
            self._seen.pop(jti, None)


class FileReplayCache:
    """``jti`` → keep-until in a private JSON file (mode 0600, replaced atomically)."""

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        read_state(path)  # refuse a foreign or exposed file at start, not at the first logout

    @contextmanager
    def _locked(self) -> Iterator[dict[str, float]]:
        """The live entries, under the thread lock and the file lock; written back after."""
        lock_path = self.path.with_name(f"{self.path.name}.lock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, os.fdopen(os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            data = read_state(self.path) or {}
            stored = data.get("seen")
            seen = {
                str(jti): float(until)
                for jti, until in (stored.items() if isinstance(stored, dict) else ())
                if isinstance(until, int | float)
            }
            seen = _live(seen, self._clock())
            yield seen
            write_state(self.path, {"seen": seen})

    def claim(self, jti: str, keep_until: float) -> bool:
        with self._locked() as seen:
            if jti in seen:
                return False
            seen[jti] = keep_until
            return True

    def release(self, jti: str) -> None:
        with self._locked() as seen:
            seen.pop(jti, None)


def replay_file_for(state_file: Path) -> Path:
    """Where a command-line listener keeps the ``jti`` values it accepted: beside its state."""
    return state_file.with_name(f"{state_file.name}.logout-jti")
