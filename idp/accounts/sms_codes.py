"""SMS one-time codes: a second factor (RFC 8176 ``amr`` ``sms``) for step-up to L2 (issue 5 §2).

Sending (:meth:`SmsCodeService.send`), a visible pipeline:

1. **window cap** — at most ``max_sends`` codes per account per ``send_window`` (a fixed-window
   counter, ``sms:sends:<account>``), else :class:`RateLimited` with the seconds left;
2. **resend interval** — an ``add`` of ``sms:wait:<account>`` for ``resend_interval`` seconds:
   present → :class:`RateLimited` with the seconds left (atomic: two clicks send one code);
3. a code of ``code_length`` digits from :mod:`secrets`, stored at ``sms:code:<purpose>:<account>``
   for ``code_ttl`` seconds **only as SHA-256** of ``account : purpose : code`` (replacing any
   earlier code of that purpose), its attempt counter reset;
4. the gateway sends it (a failure removes the code and the resend wait, the window keeps the
   count; audit ``mfa:sms:send:failure``); audit ``mfa:sms:send`` with the masked phone — the
   code is never in the audit trail, a log or the store.

Verifying (:meth:`SmsCodeService.verify`): no code (never sent, expired, used or void) →
:class:`NotFound` ``sms.expired``; the attempt is counted *before* the comparison
(``sms:attempts:<purpose>:<account>``), past ``max_attempts`` the code is void; constant-time
comparison of the digests; success consumes the code atomically (``consume``: single use, of two
concurrent correct entries one wins). Audit ``mfa:sms:verify:success|failure``
(``extra.reason``: ``wrong_code``, ``too_many_attempts``, ``expired``).

A 6-digit code has 10^6 values and its digest could be searched back by someone who reads the
ephemeral store within ``code_ttl``; the digest keeps codes out of dumps and key listings, while
the attempt limit (5 per code, 5 codes an hour by default: 25 guesses an hour) is the defence
against guessing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from idp.accounts.sms import SmsDeliveryFailed, SmsGateway, mask_phone
from idp.audit import AuditTrail
from idp.config.settings import SmsSettings
from idp.errors import AuthenticationFailed, IdpError, NotFound, RateLimited
from idp.store.ephemeral import EphemeralStore

LOGIN = "login"  # purpose: step-up at /login/verify
_PURPOSE = re.compile(r"^[a-z_]{1,32}$")


def message(code: str, minutes: int) -> str:
    """The SMS text (always Chinese: mainland numbers; the code comes first for the keyboard's
    one-time-code autofill)."""
    return f"【一网通办】验证码 {code}，{minutes} 分钟内有效。工作人员不会向您索要，请勿告诉他人。"


class SmsCodeService:
    def __init__(self, store: EphemeralStore, gateway: SmsGateway | None, *, audit: AuditTrail,
                 settings: SmsSettings) -> None:
        self._store = store
        self._gateway = gateway  # None: [sms] backend = "none"
        self._audit = audit
        self._s = settings

    @property
    def enabled(self) -> bool:
        return self._gateway is not None

    # -- keys -----------------------------------------------------------------------------
    @staticmethod
    def _code_key(account_id: str, purpose: str) -> str:
        if not _PURPOSE.match(purpose):
            raise ValueError(f"bad SMS code purpose {purpose!r}")
        return f"sms:code:{purpose}:{account_id}"

    @staticmethod
    def _attempts_key(account_id: str, purpose: str) -> str:
        return f"sms:attempts:{purpose}:{account_id}"

    @staticmethod
    def _digest(account_id: str, purpose: str, code: str) -> str:
        return hashlib.sha256(f"{account_id}:{purpose}:{code}".encode()).hexdigest()

    def pending(self, account_id: str, purpose: str = LOGIN) -> bool:
        """Is a code of this purpose waiting to be entered?"""
        return self._store.get(self._code_key(account_id, purpose)) is not None

    # -- sending --------------------------------------------------------------------------
    def _check_window(self, account_id: str) -> None:
        key = f"sms:sends:{account_id}"
        if self._store.count(key) >= self._s.max_sends:
            raise RateLimited(f"at most {self._s.max_sends} codes may be sent per "
                              f"{self._s.send_window} seconds",
                              retry_after=self._store.ttl(key) or self._s.send_window,
                              code="rate_limited.sms_window")

    def _check_interval(self, account_id: str) -> None:
        if self._s.resend_interval <= 0:
            return
        key = f"sms:wait:{account_id}"
        if not self._store.add(key, {}, self._s.resend_interval):
            raise RateLimited("a code was sent a moment ago; wait before asking for another",
                              retry_after=self._store.ttl(key) or self._s.resend_interval,
                              code="rate_limited.sms_resend")

    def send(self, account_id: str, phone: str, purpose: str = LOGIN, *,
             ip: str | None = None) -> None:
        """Send a fresh code to ``phone``; :class:`RateLimited` (``retry_after`` seconds) past the
        limits, :class:`SmsDeliveryFailed` when the gateway refused it."""
        if self._gateway is None:
            raise IdpError("SMS codes are turned off", code="sms.disabled")
        key = self._code_key(account_id, purpose)
        self._check_window(account_id)
        self._check_interval(account_id)
        sends = self._store.incr(f"sms:sends:{account_id}", self._s.send_window)
        code = "".join(secrets.choice("0123456789") for _ in range(self._s.code_length))
        self._store.put(key, {"digest": self._digest(account_id, purpose, code)},
                        self._s.code_ttl)
        self._store.delete(self._attempts_key(account_id, purpose))
        extra = {"phone": mask_phone(phone), "purpose": purpose, "sends": sends}
        try:
            self._gateway.send(phone, message(code, max(1, self._s.code_ttl // 60)))
        except SmsDeliveryFailed as exc:
            self._store.delete(key)
            self._store.delete(f"sms:wait:{account_id}")  # may try again at once
            self._audit.record(account_id, "mfa:sms:send:failure", subject=account_id, ip=ip,
                               extra={**extra, "reason": exc.message})
            raise
        self._audit.record(account_id, "mfa:sms:send", subject=account_id, ip=ip, extra=extra)

    # -- verifying ------------------------------------------------------------------------
    def _failed(self, account_id: str, purpose: str, ip: str | None, reason: str,
                attempts: int | None = None) -> None:
        extra: dict[str, object] = {"purpose": purpose, "reason": reason}
        if attempts is not None:
            extra["attempts"] = attempts
        self._audit.record(account_id, "mfa:sms:verify:failure", subject=account_id, ip=ip,
                           extra=extra)

    def verify(self, account_id: str, code: str, purpose: str = LOGIN, *,
               ip: str | None = None) -> None:
        """Accept the code sent for ``purpose`` once. :class:`NotFound` (``sms.expired``) when
        there is none; :class:`AuthenticationFailed` ``sms.failed`` for a wrong code,
        ``sms.exhausted`` when that was the last attempt (the code is then void)."""
        key = self._code_key(account_id, purpose)
        entry = self._store.get(key)
        if entry is None:
            self._failed(account_id, purpose, ip, "expired")
            raise NotFound("no valid code: it expired, was used, or none was sent",
                           code="sms.expired")
        attempts = self._store.incr(self._attempts_key(account_id, purpose), self._s.code_ttl)
        entered = re.sub(r"\s", "", code or "")
        good = hmac.compare_digest(self._digest(account_id, purpose, entered),
                                   str(entry.get("digest", "")))
        if good and attempts <= self._s.max_attempts:
            taken = self._store.consume(key)
            if taken is not None and taken.get("digest") == entry.get("digest"):
                self._store.delete(self._attempts_key(account_id, purpose))
                self._audit.record(account_id, "mfa:sms:verify:success", subject=account_id,
                                   ip=ip, extra={"purpose": purpose})
                return
            self._failed(account_id, purpose, ip, "expired")  # used meanwhile (a race)
            raise NotFound("no valid code: it expired, was used, or none was sent",
                           code="sms.expired")
        if attempts >= self._s.max_attempts:
            self._store.delete(key)
            self._failed(account_id, purpose, ip, "too_many_attempts", attempts)
            raise AuthenticationFailed("too many wrong codes; ask for a new one",
                                       code="sms.exhausted")
        self._failed(account_id, purpose, ip, "wrong_code", attempts)
        raise AuthenticationFailed("the code is not correct", code="sms.failed")
