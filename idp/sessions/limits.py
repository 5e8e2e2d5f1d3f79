"""The most sessions one citizen may have at once (``[session] max_per_account``).

A sign-in that starts a session past the limit ends the account's oldest live sessions (by
``created_at``) through :class:`idp.sessions.ending.SessionEnding` — so their tokens are
revoked, the clients that took part are told (back-channel logout) and each end is audited
``session:end:success`` with ``{"by": "system", "reason": "session_limit"}``. The session just
started is never one of them.

The limits within one session (the browser's idle and absolute timeouts, how long the record
lives) are :class:`idp.sessions.service.SessionService`'s; the channels' token limits
(``refresh_token_ttl``, ``session_absolute``) are :class:`idp.tokens.TokenService`'s.
"""

from __future__ import annotations

from typing import Protocol

from idp.sessions.service import SsoSession

REASON = "session_limit"


class _Sessions(Protocol):
    def for_account(self, account_id: str) -> list[SsoSession]: ...


class _Ending(Protocol):
    def end(self, sid: str, *, by: str, actor: str | None = ..., ip: str | None = ...,
            client_id: str | None = ..., reason: str = ...) -> SsoSession | None: ...


class SessionLimits:
    def __init__(self, sso: _Sessions, ending: _Ending, *, max_per_account: int) -> None:
        """``max_per_account``: 0 = no limit."""
        self._sso = sso
        self._ending = ending
        self._max = max_per_account

    def started(self, session: SsoSession, *, ip: str | None = None) -> list[SsoSession]:
        """A sign-in started ``session``: end the account's oldest live sessions beyond the
        limit. Returns the sessions ended (oldest first)."""
        if self._max <= 0:
            return []
        others = [s for s in self._sso.for_account(session.account_id) if s.sid != session.sid]
        excess = len(others) + 1 - self._max
        ended = []
        for old in others[:max(excess, 0)]:  # for_account lists the oldest first
            done = self._ending.end(old.sid, by="system", ip=ip, reason=REASON)
            if done is not None:
                ended.append(done)
        return ended
