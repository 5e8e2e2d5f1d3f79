"""Ending portal sessions on a back-channel logout — Back-Channel Logout 1.0 §2.7.

The IdP's logout token names an IdP session (``sid``, the one in the ID token at sign-in) or,
without one, a citizen (``sub``). The portal's sessions are keyed by a random id of their own,
so :class:`PortalSessions` keeps an index beside them in the same store, using only ``get`` /
``set`` / ``delete`` (so Redis fits behind it as well as :class:`~.store.MemoryStore`):

- ``logout:sid:<IdP sid>`` and ``logout:sub:<sub>`` → the portal session ids signed in through
  it, written whenever a session is saved, with the session's lifetime;
- ``ended:<portal session id>`` → the time the IdP ended it, so that the browser's next page
  load says why it is signed out instead of silently showing the sign-in button.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from clients.common.backchannel import LogoutClaims

from .store import MemoryStore


class PortalSessions:
    def __init__(self, store: MemoryStore, ttl: float) -> None:
        self.store = store
        self.ttl = ttl
        self._lock = threading.Lock()  # the index is read, changed and written back

    def remember(self, portal_sid: str, claims: Mapping[str, Any]) -> None:
        """Index a saved session under its IdP ``sid`` and ``sub``."""
        with self._lock:
            for key in self._keys(claims.get("sub"), claims.get("sid")):
                ids = set(self.store.get(key) or ())
                ids.add(portal_sid)
                self.store.set(key, sorted(ids), self.ttl)

    def end(self, logout: LogoutClaims) -> int:
        """End every portal session the logout token names; return how many there were."""
        ended = 0
        with self._lock:
            key = f"logout:sid:{logout.sid}" if logout.sid else f"logout:sub:{logout.sub}"
            for portal_sid in self.store.get(key) or ():
                record = self.store.get(f"session:{portal_sid}")
                claims = record.get("claims", {}) if isinstance(record, dict) else {}
                if record is not None and logout.names(claims.get("sub"), claims.get("sid")):
                    self.store.delete(f"session:{portal_sid}")
                    self.store.set(f"ended:{portal_sid}", time.time(), self.ttl)
                    ended += 1
        return ended

    def ended_by_idp(self, portal_sid: str) -> bool:
        """Whether this portal session was ended by a back-channel logout (said once)."""
        when = self.store.get(f"ended:{portal_sid}")
        self.store.delete(f"ended:{portal_sid}")
        return when is not None

    @staticmethod
    def _keys(sub: object, sid: object) -> list[str]:
        keys = [f"logout:sid:{sid}"] if isinstance(sid, str) and sid else []
        return keys + ([f"logout:sub:{sub}"] if isinstance(sub, str) and sub else [])
