"""Sign-in failure limits per account and per client IP (fixed windows).

Checked *before* the password is verified, so a locked-out guesser costs us no argon2 work. The
per-account counter is keyed by the account (found by a cheap lookup), so every spelling of one
citizen — 18-digit number, lower-case x, legacy 15 digits, phone with or without +86 — shares
one counter; unknown usernames are counted by their canonical form. Keys are hashed so the
store never holds a username (which may be an ID number) in clear.
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
    def _subject_key(subject: str) -> str:
        return "throttle:login:acct:" + hashlib.sha256(subject.encode()).hexdigest()[:32]

    @staticmethod
    def _ip_key(ip: str) -> str:
        return f"throttle:login:ip:{ip}"

    def check_ip(self, ip: str | None) -> None:
        if ip and self._store.count(self._ip_key(ip)) >= self.ip_limit:
            raise RateLimited("too many failed sign-ins from this network; try again later",
                              retry_after=self._store.ttl(self._ip_key(ip)) or self.window,
                              code="rate_limited.ip")

    def check_subject(self, subject: str) -> None:
        key = self._subject_key(subject)
        if self._store.count(key) >= self.account_limit:
            raise RateLimited("too many failed sign-ins for this account; try again later",
                              retry_after=self._store.ttl(key) or self.window,
                              code="rate_limited.account")

    def failed(self, subject: str, ip: str | None) -> int:
        count = self._store.incr(self._subject_key(subject), self.window)
        if ip:
            self._store.incr(self._ip_key(ip), self.window)
        return count

    def succeeded(self, subject: str) -> None:
        self._store.delete(self._subject_key(subject))

    def remaining(self, subject: str) -> int:
        return max(0, self.account_limit - self._store.count(self._subject_key(subject)))
