"""Server-side storage of the portal: signed-in sessions and Authlib's authorization state.

Tokens stay on the server: the browser's cookie holds only a random session id (Flask's own
session cookie is signed, not encrypted, so it must not carry tokens). The same store is given
to Authlib as its ``cache``, so the PKCE ``code_verifier`` and ``nonce`` of a pending sign-in stay
server-side too.

This implementation keeps everything in the memory of one process: right for a demo portal run
by ``python -m clients.website``; a department running several workers puts Redis or its
database behind the same three methods (``get`` / ``set`` / ``delete``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class MemoryStore:
    """Key -> value with an expiry, thread-safe; the interface Authlib expects of a cache."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_items: int = 10_000):
        self._clock = clock
        self._max_items = max_items
        self._items: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= self._clock():
                del self._items[key]
                return None
            return item[1]

    def set(self, key: str, value: Any, expires: float | None = None) -> None:
        """Store ``value`` for ``expires`` seconds (default one hour)."""
        with self._lock:
            now = self._clock()
            if len(self._items) >= self._max_items:
                self._sweep(now)
            if len(self._items) >= self._max_items:  # still full: drop the oldest-expiring
                del self._items[min(self._items, key=lambda k: self._items[k][0])]
            self._items[key] = (now + (3600 if expires is None else expires), value)

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def _sweep(self, now: float) -> None:
        for key in [k for k, (deadline, _) in self._items.items() if deadline <= now]:
            del self._items[key]
