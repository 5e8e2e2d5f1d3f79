"""Face checks: the factor (RFC 8176 ``amr`` ``face``) that steps an L2 session up to L3 (实人,
docs/assurance.md), through a :class:`~idp.accounts.face.FaceVerifier` we do not own.

Starting (:meth:`FaceCheckService.start`), a visible pipeline:

1. **window cap** — at most ``max_checks`` checks per account per ``window`` (a fixed-window
   counter, ``face:checks:<account>``, counted before the service is called: an atomic ``incr``,
   so two clicks cannot both slip under the cap), else :class:`RateLimited` with the seconds
   left — every check may cost a fee at the service;
2. the subject — the account's real name and its ID number, decrypted by the identity vault
   for this call only, in memory — and the return URL go to ``verifier.begin``;
3. the pending check is bound to the account **and** the SSO session (``sid``) in the ephemeral
   store (``face:check:<sha256 of the check id>``) for ``check_ttl`` seconds; audit
   ``face:verify:start`` with the masked ID number.

Finishing (:meth:`FaceCheckService.finish`) when the browser comes back with the check id: the
check must be pending for this account and this session (unknown, expired, another account's
or another session's → :class:`NotFound` ``face.unknown``, and nothing is consumed); the
service is asked for the result (unavailable → :class:`FaceServiceUnavailable`, the check stays
pending so the return can be retried); then the check is taken with an atomic ``consume``
(single use: of two concurrent returns one wins, a replay finds nothing). Passed → audit
``face:verify:success``; not passed → ``face:verify:failure`` and :class:`AuthenticationFailed`
``face.failed``. Failure reasons (``extra.reason``): the service's (e.g. ``no_match``,
``not_captured``), ``unknown_check``, ``wrong_session``, ``unavailable``, ``replay``; the audit
carries the score and the masked ID number, never the clear one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from idp.accounts.face import (
    FaceCheck,
    FaceServiceUnavailable,
    FaceSubject,
    FaceVerifier,
    valid_check_id,
)
from idp.audit import AuditTrail
from idp.config.settings import FaceSettings
from idp.errors import AuthenticationFailed, IdpError, NotFound, RateLimited
from idp.store.ephemeral import EphemeralStore
from idp.store.models import Account


class FaceCheckService:
    def __init__(self, store: EphemeralStore, verifier: FaceVerifier | None, *,
                 audit: AuditTrail, settings: FaceSettings,
                 reveal_id_number: Callable[[Account], str]) -> None:
        self._store = store
        self.verifier = verifier  # None: [face] backend = "none"
        self._audit = audit
        self._s = settings
        self._reveal = reveal_id_number

    @property
    def enabled(self) -> bool:
        return self.verifier is not None

    @staticmethod
    def _key(check_id: str) -> str:
        return "face:check:" + hashlib.sha256(check_id.encode()).hexdigest()

    def _verifier(self) -> FaceVerifier:
        if self.verifier is None:
            raise IdpError("face verification is turned off", code="face.disabled")
        return self.verifier

    # -- starting ---------------------------------------------------------------------------
    def _count(self, account_id: str) -> int:
        key = f"face:checks:{account_id}"
        checks = self._store.incr(key, self._s.window)
        if checks > self._s.max_checks:
            raise RateLimited(f"at most {self._s.max_checks} face checks may be started per "
                              f"{self._s.window} seconds",
                              retry_after=self._store.ttl(key) or self._s.window,
                              code="rate_limited.face")
        return checks

    def start(self, account: Account, sid: str, return_url: str, *,
              ip: str | None = None) -> FaceCheck:
        """Begin a check of ``account``'s face for SSO session ``sid``; the browser goes to
        the returned URL. :class:`RateLimited` past ``max_checks``,
        :class:`FaceServiceUnavailable` when the service cannot begin one."""
        verifier = self._verifier()
        checks = self._count(account.id)
        extra: dict[str, Any] = {"id_number": account.id_number_masked, "checks": checks}
        subject = FaceSubject(account.name, self._reveal(account))
        try:
            check = verifier.begin(subject, return_url)
        except FaceServiceUnavailable as exc:
            self._failed(account.id, ip, "unavailable", extra={**extra, "detail": exc.message})
            raise
        self._store.put(self._key(check.check_id),
                        {"account_id": account.id, "sid": sid,
                         "id_number": account.id_number_masked}, self._s.check_ttl)
        self._audit.record(account.id, "face:verify:start", subject=account.id, ip=ip,
                           extra=extra)
        return check

    # -- finishing --------------------------------------------------------------------------
    def _failed(self, account_id: str, ip: str | None, reason: str, *,
                extra: dict[str, Any] | None = None) -> None:
        self._audit.record(account_id, "face:verify:failure", subject=account_id, ip=ip,
                           extra={**(extra or {}), "reason": reason})

    def _unknown(self, account_id: str, ip: str | None, reason: str) -> NotFound:
        self._failed(account_id, ip, reason)
        return NotFound("no face check of this session is waiting: it expired, was used, or "
                        "was not started here", code="face.unknown")

    def finish(self, account_id: str, sid: str, check_id: str, *,
               ip: str | None = None) -> bool:
        """Accept a pending check of this account and session once, when the service says it
        passed (True). :class:`NotFound` ``face.unknown``,
        :class:`AuthenticationFailed` ``face.failed``, :class:`FaceServiceUnavailable`."""
        verifier = self._verifier()
        if not valid_check_id(check_id):
            raise self._unknown(account_id, ip, "unknown_check")
        key = self._key(check_id)
        entry = self._store.get(key)
        if entry is None:
            raise self._unknown(account_id, ip, "unknown_check")
        if entry.get("account_id") != account_id or entry.get("sid") != sid:
            raise self._unknown(account_id, ip, "wrong_session")  # left for its owner
        extra: dict[str, Any] = {"id_number": entry.get("id_number")}
        try:
            result = verifier.result(check_id)
        except FaceServiceUnavailable as exc:
            self._failed(account_id, ip, "unavailable", extra={**extra, "detail": exc.message})
            raise
        taken = self._store.consume(key)
        if taken is None or taken.get("account_id") != account_id or taken.get("sid") != sid:
            raise self._unknown(account_id, ip, "replay")  # another return took it meanwhile
        extra["score"] = result.score
        if not result.passed:
            self._failed(account_id, ip, result.reason or "no_match", extra=extra)
            raise AuthenticationFailed("the face did not match", code="face.failed")
        self._audit.record(account_id, "face:verify:success", subject=account_id, ip=ip,
                           extra=extra)
        return True
