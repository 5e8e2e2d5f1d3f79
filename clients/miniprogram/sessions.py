"""The backend's own sessions: an opaque random id → the citizen and the tokens, in memory.

A real backend keeps them in Redis or its database and hands the id to the mini-program; this
one keeps them in process memory, expiring after ``ttl`` seconds. A back-channel logout from the
IdP ends every session of the IdP session it names (:meth:`SessionStore.end`).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clients.common.backchannel import LogoutClaims

MAX_SESSIONS = 10_000  # the oldest are dropped beyond this (memory bound of a demo)


@dataclass(frozen=True)
class MiniSession:
    session_id: str
    sub: str
    sid: str
    claims: dict[str, Any]  # UserInfo
    id_token_claims: dict[str, Any]
    tokens: dict[str, Any] = field(repr=False)  # access / refresh tokens: never shown
    expires_at: float = 0.0


class SessionStore:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[str, MiniSession] = {}

    def create(
        self,
        *,
        sub: str,
        sid: str,
        claims: dict[str, Any],
        id_token_claims: dict[str, Any],
        tokens: dict[str, Any],
    ) -> MiniSession:
        now = self._clock()
        session = MiniSession(
            session_id=secrets.token_urlsafe(32),
            sub=sub,
            sid=sid,
            claims=claims,
            id_token_claims=id_token_claims,
            tokens=tokens,
            expires_at=now + self._ttl,
        )
        with self._lock:
            self._items = {k: v for k, v in self._items.items() if v.expires_at > now}
            while len(self._items) >= MAX_SESSIONS:
                self._items.pop(next(iter(self._items)))
            self._items[session.session_id] = session
        return session

    def get(self, session_id: str) -> MiniSession | None:
        with self._lock:
            found = self._items.get(session_id)
        if found is None or found.expires_at <= self._clock():
            return None
        return found

    def end(self, logout: LogoutClaims) -> int:
        """End the sessions the logout token names (Back-Channel Logout 1.0 §2.7)."""
        with self._lock:
            ended = [k for k, v in self._items.items() if logout.names(v.sub, v.sid)]
            for session_id in ended:
                del self._items[session_id]
        return len(ended)

    def count(self) -> int:
        """Sessions not yet expired (shown by ``/healthz``)."""
        now = self._clock()
        with self._lock:
            return sum(1 for v in self._items.values() if v.expires_at > now)
