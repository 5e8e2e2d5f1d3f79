"""SSO sessions, kept in the ephemeral store so they survive an IdP restart and are shared by
every node. The browser holds only the ``sid`` (in the signed session cookie); ending a session
here ends it everywhere at once.

A session records the account, when and how the citizen authenticated (``auth_time``, ``amr``,
``acr``) and every client that took tokens under it, with its channel.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from idp.clock import Clock, system_clock
from idp.store.ephemeral import EphemeralStore


@dataclass(frozen=True)
class SsoSession:
    sid: str
    account_id: str
    auth_time: int
    created_at: int
    amr: list[str] = field(default_factory=list)
    acr: str | None = None
    clients: dict[str, str] = field(default_factory=dict)  # client_id -> channel
    user_agent: str | None = None
    auth_seq: int = 1  # bumped at every (re-)authentication in this session

    def to_value(self) -> dict[str, Any]:
        return asdict(self)


class SessionService:
    def __init__(self, store: EphemeralStore, *, absolute_ttl: int,
                 clock: Clock = system_clock) -> None:
        self._store = store
        self._ttl = absolute_ttl
        self._clock = clock

    @staticmethod
    def _key(sid: str) -> str:
        return f"sso:{sid}"

    def start(self, account_id: str, *, amr: list[str], acr: str | None,
              user_agent: str | None = None) -> SsoSession:
        now = int(self._clock())
        session = SsoSession(sid=secrets.token_urlsafe(24), account_id=account_id,
                             auth_time=now, created_at=now, amr=list(amr), acr=acr,
                             user_agent=(user_agent or "")[:200] or None)
        self._store.put(self._key(session.sid), session.to_value(), self._ttl)
        self._store.set_add(f"sso:account:{account_id}", session.sid, self._ttl)
        return session

    def reauthenticated(self, session: SsoSession, *, amr: list[str],
                        acr: str | None) -> SsoSession:
        """The citizen authenticated again in the same session (prompt=login, max_age)."""
        updated = SsoSession(**{**session.to_value(), "auth_time": int(self._clock()),
                                "amr": list(amr), "acr": acr,
                                "auth_seq": session.auth_seq + 1})
        if not self._store.replace(self._key(session.sid), updated.to_value()):
            return self.start(session.account_id, amr=amr, acr=acr,
                              user_agent=session.user_agent)
        return updated

    def get(self, sid: str | None) -> SsoSession | None:
        if not sid or len(sid) > 64:
            return None
        value = self._store.get(self._key(sid))
        if value is None:
            return None
        return SsoSession(**value)

    def add_client(self, session: SsoSession, client_id: str, channel: str) -> SsoSession:
        if session.clients.get(client_id) == channel:
            return session
        updated = SsoSession(**{**session.to_value(),
                                "clients": {**session.clients, client_id: channel}})
        self._store.replace(self._key(session.sid), updated.to_value())
        return updated

    def add_amr(self, session: SsoSession, value: str) -> SsoSession | None:
        """Record one more authentication method (RFC 8176) used in this session, keeping the
        earlier ones: a browser that joined the app's session through a QR approval adds
        ``mca``. ``auth_time`` stays: no credential was presented again. None when the
        session has ended."""
        if value in session.amr:
            return session
        updated = SsoSession(**{**session.to_value(), "amr": [*session.amr, value]})
        if not self._store.replace(self._key(session.sid), updated.to_value()):
            return None
        return updated

    def end(self, sid: str) -> SsoSession | None:
        """End the session; returns what it was (for logout fan-out), None if already gone."""
        value = self._store.consume(self._key(sid))
        if value is None:
            return None
        session = SsoSession(**value)
        self._store.set_remove(f"sso:account:{session.account_id}", sid)
        return session

    def for_account(self, account_id: str) -> list[SsoSession]:
        sessions = []
        for sid in self._store.set_members(f"sso:account:{account_id}"):
            found = self.get(sid)
            if found is None:
                self._store.set_remove(f"sso:account:{account_id}", sid)
            else:
                sessions.append(found)
        return sorted(sessions, key=lambda s: s.created_at)
