"""Sign-in failure limits per account identifier and per client IP (fixed windows).

Checked *before* the password is verified, so a locked-out guesser costs us no argon2 work.
Counters live in the ephemeral store; the identifier is hashed so the store never holds a
username (which may be an ID number) in clear.
"""

from __future__ import annotations

import hashlib

from idp.errors import RateLimited
from idp.store.ephemeral import EphemeralStore


class LoginThrottle:
    def __init__(self, store: EphemeralStore, *, account_limit: int, ip_limit: int,
                 window: int) -> None:
        self._store = store
        self.account_limit = account_limit
        self.ip_limit = ip_limit
        self.window = window

    @staticmethod
    def _who(identifier: str) -> str:
        return hashlib.sha256(identifier.strip().upper().encode()).hexdigest()[:32]

    def _keys(self, identifier: str, ip: str | None) -> tuple[str, str | None]:
        acct = f"throttle:login:acct:{self._who(identifier)}"
        return acct, (f"throttle:login:ip:{ip}" if ip else None)

    def check(self, identifier: str, ip: str | None) -> None:
        acct_key, ip_key = self._keys(identifier, ip)
        if self._store.count(acct_key) >= self.account_limit:
            raise RateLimited(
                "too many failed sign-ins for this account; try again later or reset your "
                "password", retry_after=self._store.ttl(acct_key) or self.window,
                code="rate_limited.account")
        if ip_key and self._store.count(ip_key) >= self.ip_limit:
            raise RateLimited("too many failed sign-ins from this network; try again later",
                              retry_after=self._store.ttl(ip_key) or self.window,
                              code="rate_limited.ip")

    def failed(self, identifier: str, ip: str | None) -> int:
        acct_key, ip_key = self._keys(identifier, ip)
        count = self._store.incr(acct_key, self.window)
        if ip_key:
            self._store.incr(ip_key, self.window)
        return count

    def succeeded(self, identifier: str) -> None:
        self._store.delete(self._keys(identifier, None)[0])

    def remaining(self, identifier: str) -> int:
        return max(0, self.account_limit - self._store.count(self._keys(identifier, None)[0]))
