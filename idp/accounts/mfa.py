"""Second factor: TOTP (RFC 6238, via pyotp) with single-use recovery codes (issue 5 §2).

Enrolment: :meth:`MfaService.enrol` makes a secret and its ``otpauth://`` URI (issuer
"一网通办", the account's *masked* label — never the clear ID number); the secret is sealed with
the identity vault (AES-256-GCM, associated data ``mfa:totp:<account id>`` so a blob cannot be
moved to another account or passed off as an ID number). :meth:`confirm` takes a first code and
returns the recovery codes, shown once.

Verification pipeline (:meth:`verify`): throttle (per account, before any secret is touched) →
find the code's time step within ±1 step (``valid_window=1``) → **replay guard**: one atomic
``UPDATE … SET last_used_step = :step WHERE last_used_step < :step`` — a code of a step already
used (or older) matches no row and is refused, and two concurrent uses of one code cannot both
win → audit.

Recovery codes are 80 random bits each (16 base32 characters, shown as ``xxxx-xxxx-xxxx-xxxx``)
and stored as SHA-256 of ``account id : code``. Like client secrets (DESIGN.md §4) they are made
by us with enough entropy that a leaked digest cannot be searched back to a code (2^80 guesses),
so a slow password hash would only cost CPU; the per-account throttle covers online guessing.
Each is consumed by a conditional ``UPDATE … WHERE used_at IS NULL`` (single use, race-free).

Audit tags: ``mfa:totp:enrol``, ``mfa:totp:confirm``, ``mfa:totp:verify:success|failure``,
``mfa:totp:disable``, ``mfa:recovery:use`` (and ``mfa:recovery:failure``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import pyotp
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from idp.audit import AuditTrail
from idp.clock import Clock, system_clock, to_datetime
from idp.errors import AuthenticationFailed, Conflict, NotFound, RateLimited
from idp.identity.vault import IdNumberVault
from idp.store.ephemeral import EphemeralStore
from idp.store.models import MfaFactor, RecoveryCode

ISSUER_NAME = "一网通办"
TOTP = "totp"
STEP = 30  # seconds (RFC 6238 §4 default; what authenticator apps assume)
DIGITS = 6
VALID_WINDOW = 1  # accept the previous and the next step too (clock drift)
RECOVERY_CODES = 10
_CODE = re.compile(r"^\d{6}$")
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, for manual entry in the authenticator app (shown to the citizen only)
    uri: str  # otpauth:// provisioning URI, for the QR code


@dataclass(frozen=True)
class FactorStatus:
    enrolled: bool  # a confirmed TOTP factor exists
    pending: bool  # an enrolment waits for its first code
    confirmed_at: float | None
    recovery_codes_left: int


class MfaThrottle:
    """Failed second-factor attempts per account (fixed window), as :class:`LoginThrottle`."""

    def __init__(self, store: EphemeralStore, *, limit: int, window: int) -> None:
        self._store = store
        self.limit = limit
        self.window = window

    @staticmethod
    def _key(account_id: str) -> str:
        return f"throttle:mfa:acct:{account_id}"

    def check(self, account_id: str) -> None:
        key = self._key(account_id)
        if self._store.count(key) >= self.limit:
            raise RateLimited("too many wrong codes for this account; try again later",
                              retry_after=self._store.ttl(key) or self.window,
                              code="rate_limited.account")

    def failed(self, account_id: str) -> int:
        return self._store.incr(self._key(account_id), self.window)

    def succeeded(self, account_id: str) -> None:
        self._store.delete(self._key(account_id))


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The RFC 6238 time step (within ±``VALID_WINDOW``) whose code is ``code``, or None.
    Every step of the window is compared (constant work); the latest match wins."""
    code = (code or "").strip().replace(" ", "")
    if not _CODE.match(code):
        return None
    otp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP)
    current = int(now) // STEP
    found = None
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(otp.generate_otp(step), code):
            found = step
    return found


def totp_associated_data(account_id: str) -> bytes:
    """Binds a sealed secret to its account (also used by ``idp identity rekey``)."""
    return b"mfa:totp:" + account_id.encode()


def _recovery_digest(account_id: str, code: str) -> str:
    return hashlib.sha256(f"{account_id}:{code}".encode()).hexdigest()


def normalise_recovery_code(raw: str) -> str:
    return re.sub(r"[\s\-]", "", raw or "").lower()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_BASE32) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


class MfaService:
    def __init__(self, sessions: sessionmaker[Session], *, vault: IdNumberVault,
                 audit: AuditTrail, throttle: MfaThrottle, clock: Clock = system_clock) -> None:
        self._sessions = sessions
        self._vault = vault
        self._audit = audit
        self._throttle = throttle
        self._clock = clock

    # -- reading ------------------------------------------------------------------------------
    def _factor(self, session: Session, account_id: str) -> MfaFactor | None:
        return session.scalars(select(MfaFactor).where(
            MfaFactor.account_id == account_id, MfaFactor.type == TOTP)).first()

    def has_totp(self, account_id: str) -> bool:
        """Has the account a confirmed TOTP factor (can it reach L2)?"""
        with self._sessions() as session:
            factor = self._factor(session, account_id)
            return factor is not None and factor.confirmed_at is not None

    def status(self, account_id: str) -> FactorStatus:
        with self._sessions() as session:
            factor = self._factor(session, account_id)
            left = session.scalar(select(func.count()).select_from(RecoveryCode).where(
                RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None))) or 0
        confirmed = factor is not None and factor.confirmed_at is not None
        return FactorStatus(
            enrolled=confirmed, pending=factor is not None and not confirmed,
            confirmed_at=factor.confirmed_at.timestamp() if confirmed and factor
            and factor.confirmed_at else None,
            recovery_codes_left=int(left) if confirmed else 0)

    def _enrolment(self, factor: MfaFactor, label: str) -> Enrolment:
        secret = self._vault.decrypt(factor.secret_enc,
                                     associated_data=totp_associated_data(factor.account_id))
        uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
            name=label, issuer_name=ISSUER_NAME)
        return Enrolment(secret=secret, uri=uri)

    def pending(self, account_id: str, *, label: str) -> Enrolment | None:
        """The unconfirmed enrolment (to show its QR code again), if any."""
        with self._sessions() as session:
            factor = self._factor(session, account_id)
            if factor is None or factor.confirmed_at is not None:
                return None
            return self._enrolment(factor, label)

    # -- enrolment ----------------------------------------------------------------------------
    def enrol(self, account_id: str, *, label: str, ip: str | None = None) -> Enrolment:
        """Start (or restart) a TOTP enrolment. ``label``: the masked account name shown in the
        authenticator app. :class:`Conflict` if a confirmed factor exists (disable it first)."""
        secret = pyotp.random_base32()  # 160 bits (RFC 4226 §4 recommends ≥ 128)
        now = to_datetime(self._clock())
        with self._sessions.begin() as session:
            factor = self._factor(session, account_id)
            if factor is not None and factor.confirmed_at is not None:
                raise Conflict("a TOTP factor is already set up", code="mfa.already_enrolled")
            if factor is not None:
                session.delete(factor)
                session.flush()
            factor = MfaFactor(account_id=account_id, type=TOTP, created_at=now,
                               secret_enc=self._vault.encrypt(
                                   secret, associated_data=totp_associated_data(account_id)),
                               last_used_step=0)
            session.add(factor)
            session.flush()
            enrolment = self._enrolment(factor, label)
        self._audit.record(account_id, "mfa:totp:enrol", subject=account_id, ip=ip)
        return enrolment

    def confirm(self, account_id: str, code: str, *, ip: str | None = None) -> list[str]:
        """Confirm the pending enrolment with a first code; returns the recovery codes (shown
        once: only their digests are kept)."""
        self._throttle.check(account_id)
        with self._sessions() as session:
            factor = self._factor(session, account_id)
            if factor is None or factor.confirmed_at is not None:
                raise NotFound("no TOTP enrolment is waiting for confirmation",
                               code="mfa.not_pending")
            factor_id, step = factor.id, self._matching_step(factor, code)
        if step is None:
            self._failed(account_id, "mfa:totp:confirm:failure", ip)
        now = to_datetime(self._clock())
        codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
        with self._sessions.begin() as session:
            won = session.execute(
                update(MfaFactor)
                .where(MfaFactor.id == factor_id, MfaFactor.confirmed_at.is_(None))
                .values(confirmed_at=now, last_used_step=step)
            ).rowcount  # type: ignore[attr-defined]
            if won == 1:
                session.execute(delete(RecoveryCode).where(
                    RecoveryCode.account_id == account_id))
                session.add_all(RecoveryCode(account_id=account_id, created_at=now,
                                             code_digest=_recovery_digest(
                                                 account_id, normalise_recovery_code(c)))
                                for c in codes)
        if won != 1:  # confirmed (or restarted) meanwhile, by another request
            raise NotFound("no TOTP enrolment is waiting for confirmation",
                           code="mfa.not_pending")
        self._throttle.succeeded(account_id)
        self._audit.record(account_id, "mfa:totp:confirm", subject=account_id, ip=ip)
        return codes

    # -- verification -------------------------------------------------------------------------
    def _matching_step(self, factor: MfaFactor, code: str) -> int | None:
        secret = self._vault.decrypt(factor.secret_enc,
                                     associated_data=totp_associated_data(factor.account_id))
        return matching_step(secret, code, self._clock())

    def _failed(self, account_id: str, tag: str, ip: str | None,
                reason: str = "wrong_code") -> None:
        count = self._throttle.failed(account_id)
        self._audit.record(account_id, tag, subject=account_id, ip=ip,
                           extra={"reason": reason, "failures": count})
        raise AuthenticationFailed("the code is not correct", code="mfa.failed")

    def verify(self, account_id: str, code: str, *, ip: str | None = None) -> None:
        """Accept a current TOTP code once; :class:`RateLimited` past the limit,
        :class:`AuthenticationFailed` (``mfa.failed``) for a wrong or replayed code."""
        self._throttle.check(account_id)
        with self._sessions() as session:
            factor = self._factor(session, account_id)
            if factor is None or factor.confirmed_at is None:
                raise NotFound("no second factor is set up", code="mfa.not_enrolled")
            step = self._matching_step(factor, code)
        if step is None:
            self._failed(account_id, "mfa:totp:verify:failure", ip)
        with self._sessions.begin() as session:
            won = session.execute(
                update(MfaFactor)
                .where(MfaFactor.account_id == account_id, MfaFactor.type == TOTP,
                       MfaFactor.confirmed_at.is_not(None), MfaFactor.last_used_step < step)
                .values(last_used_step=step)
            ).rowcount  # type: ignore[attr-defined]
        if won != 1:
            self._failed(account_id, "mfa:totp:verify:failure", ip, reason="replay")
        self._throttle.succeeded(account_id)
        self._audit.record(account_id, "mfa:totp:verify:success", subject=account_id, ip=ip)

    def use_recovery_code(self, account_id: str, code: str, *, ip: str | None = None) -> int:
        """Consume a recovery code (single use); returns how many are left."""
        self._throttle.check(account_id)
        digest = _recovery_digest(account_id, normalise_recovery_code(code))
        with self._sessions.begin() as session:
            used = session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.account_id == account_id, RecoveryCode.code_digest == digest,
                       RecoveryCode.used_at.is_(None))
                .values(used_at=to_datetime(self._clock()))
            ).rowcount  # type: ignore[attr-defined]
        if used != 1:
            self._failed(account_id, "mfa:recovery:failure", ip)
        self._throttle.succeeded(account_id)
        left = self.status(account_id).recovery_codes_left
        self._audit.record(account_id, "mfa:recovery:use", subject=account_id, ip=ip,
                           extra={"left": left})
        return left

    def verify_any(self, account_id: str, code: str, *, ip: str | None = None) -> str:
        """A TOTP code (six digits) or a recovery code; returns which: ``totp``|``recovery``."""
        if _CODE.match((code or "").strip().replace(" ", "")):
            self.verify(account_id, code, ip=ip)
            return TOTP
        self.use_recovery_code(account_id, code, ip=ip)
        return "recovery"

    def disable(self, account_id: str, code: str, *, ip: str | None = None) -> None:
        """Remove the TOTP factor and its recovery codes; needs a current code (or a recovery
        code: a citizen who lost the phone can still turn it off)."""
        self.verify_any(account_id, code, ip=ip)
        with self._sessions.begin() as session:
            session.execute(delete(MfaFactor).where(MfaFactor.account_id == account_id))
            session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
        self._audit.record(account_id, "mfa:totp:disable", subject=account_id, ip=ip)

    def reset(self, account_id: str, *, actor: str) -> bool:
        """Staff (helpdesk, after checking the citizen in person): remove the TOTP factor and
        its recovery codes without a code. Returns whether there was one."""
        with self._sessions.begin() as session:
            gone = session.execute(delete(MfaFactor).where(
                MfaFactor.account_id == account_id)).rowcount  # type: ignore[attr-defined]
            session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
        if gone:
            self._audit.record(actor, "mfa:totp:reset", subject=account_id)
        return bool(gone)
