"""Limits on guessing user codes of the device authorization grant (RFC 8628 §5.1, §5.2).

A user code has about 34.5 bits of entropy (8 characters of a 20-letter alphabet) and lives
minutes: fine against a guesser only while guesses are few. Failed look-ups — a well-formed
code that matches nothing; a malformed one cannot be right and tells a guesser nothing — are
counted per client IP and, separately, per citizen account (the browser's signed-in citizen or
the app token's) in fixed windows in the ephemeral store. Past the limit every look-up from
that IP or account is refused, **even of a correct code**, until the window ends: a guesser
must not learn that a guess was right. Checked before the code is looked up, as sign-in limits
are checked before the password (STYLE.md habit 8).
"""

from __future__ import annotations

from idp.errors import RateLimited
from idp.store.ephemeral import EphemeralStore


class UserCodeThrottled(RateLimited):
    """Too many failed user-code entries; ``limit`` says which counter: ``ip`` or ``account``."""

    def __init__(self, message: str, *, retry_after: int, limit: str) -> None:
        super().__init__(message, retry_after=retry_after, code="too_many_attempts")
        self.limit = limit


class UserCodeThrottle:
    def __init__(self, store: EphemeralStore, *, limit: int, window: int) -> None:
        self._store = store
        self.limit = limit
        self.window = window

    @staticmethod
    def _keys(ip: str | None, account_id: str | None) -> list[tuple[str, str]]:
        keys = []
        if ip:
            keys.append(("ip", f"throttle:device:ip:{ip}"))
        if account_id:
            keys.append(("account", f"throttle:device:acct:{account_id}"))
        return keys

    def check(self, ip: str | None, account_id: str | None) -> None:
        """Raise :class:`UserCodeThrottled` when the IP or the account is over the limit."""
        for limit, key in self._keys(ip, account_id):
            if self._store.count(key) >= self.limit:
                raise UserCodeThrottled(
                    "too many wrong codes were entered; wait before trying again",
                    retry_after=self._store.ttl(key) or self.window, limit=limit)

    def failed(self, ip: str | None, account_id: str | None) -> None:
        for _, key in self._keys(ip, account_id):
            self._store.incr(key, self.window)
