"""Security staff accounts (issue 6 §1): separate from citizens, one role each, always TOTP.

:meth:`StaffService.create` makes the account *and* its TOTP secret; the ``otpauth://`` URI is
returned once, to whoever created the account (``idp staff create`` prints it and its QR code),
and the first code entered at sign-in confirms it. There is no sign-in without a code, so there
is no path where a stolen password alone enrols an attacker's authenticator.

Sign-in pipeline (:meth:`authenticate`): throttle per username (fixed window, counted in the
ephemeral store before any hash is computed) → argon2id password check (a dummy hash when the
username is unknown: same time) → status → TOTP step within ±1 with the replay guard (one
conditional ``UPDATE … WHERE totp_last_step < :step``) → audit ``staff:login:success``. Every
failure says the same thing ("username, password or code is not correct") and is audited
``staff:login:failure`` with the reason.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from idp.accounts.mfa import DIGITS, STEP, matching_step
from idp.accounts.passwords import PasswordHasher
from idp.audit import AuditTrail
from idp.clock import Clock, system_clock, to_datetime
from idp.errors import AuthenticationFailed, Conflict, NotFound, RateLimited, ValidationError
from idp.identity.vault import IdNumberVault
from idp.staff.roles import check_role
from idp.store.ephemeral import EphemeralStore
from idp.store.models import StaffAccount

ISSUER_NAME = "一网通办 Staff"
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
STATUSES = ("active", "disabled")


def totp_associated_data(staff_id: str) -> bytes:
    """Binds a sealed staff TOTP secret to its staff account (never a citizen's)."""
    return b"staff:totp:" + staff_id.encode()


@dataclass(frozen=True)
class StaffRecord:
    id: str
    username: str
    display_name: str
    role: str
    status: str
    totp_confirmed: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def from_row(cls, row: StaffAccount) -> StaffRecord:
        return cls(id=row.id, username=row.username, display_name=row.display_name,
                   role=row.role, status=row.status,
                   totp_confirmed=row.totp_confirmed_at is not None,
                   created_at=row.created_at, last_login_at=row.last_login_at)

    @property
    def actor(self) -> str:
        """How this staff member appears as the actor of audit entries."""
        return f"staff:{self.username}"


@dataclass(frozen=True)
class StaffEnrolment:
    staff: StaffRecord
    secret: str  # base32, shown once to the creator
    uri: str  # otpauth:// for the QR code


def check_username(username: str) -> str:
    username = (username or "").strip().lower()
    if not _USERNAME.match(username):
        raise ValidationError("username must be 3-64 characters: lower-case letters, digits, "
                              "'.', '_' or '-', starting with a letter", code="staff.username")
    return username


class StaffService:
    def __init__(self, sessions: sessionmaker[Session], store: EphemeralStore, *,
                 hasher: PasswordHasher, vault: IdNumberVault, audit: AuditTrail,
                 max_failures: int, failure_window: int, clock: Clock = system_clock,
                 on_signed_out: Callable[[str], object] | None = None) -> None:
        """``on_signed_out(staff_id)`` ends the member's console sessions (disabled, or the
        second factor replaced)."""
        self._sessions = sessions
        self._on_signed_out = on_signed_out
        self._store = store
        self._hasher = hasher
        self._vault = vault
        self._audit = audit
        self._max_failures = max_failures
        self._window = failure_window
        self._clock = clock

    # -- reading ----------------------------------------------------------------------------
    def get(self, staff_id: str) -> StaffRecord | None:
        with self._sessions() as session:
            row = session.get(StaffAccount, staff_id)
            return StaffRecord.from_row(row) if row else None

    def list(self) -> list[StaffRecord]:
        with self._sessions() as session:
            rows = session.scalars(select(StaffAccount).order_by(StaffAccount.username))
            return [StaffRecord.from_row(r) for r in rows]

    def find(self, username: str) -> StaffRecord | None:
        """The member with this username (any case), or None."""
        with self._sessions() as session:
            row = session.scalar(select(StaffAccount).where(
                StaffAccount.username == (username or "").strip().lower()[:64]))
            return StaffRecord.from_row(row) if row else None

    # -- creation and changes ---------------------------------------------------------------
    def _new_secret(self, staff_id: str) -> tuple[str, bytes]:
        secret = pyotp.random_base32()
        return secret, self._vault.encrypt(secret,
                                           associated_data=totp_associated_data(staff_id))

    @staticmethod
    def _uri(secret: str, username: str) -> str:
        return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
            name=username, issuer_name=ISSUER_NAME)

    def create(self, username: str, display_name: str, role: str, password: str, *,
               actor: str) -> StaffEnrolment:
        username = check_username(username)
        check_role(role)
        display_name = (display_name or "").strip()
        if not 0 < len(display_name) <= 200:
            raise ValidationError("display name must be 1-200 characters",
                                  code="staff.display_name")
        self._hasher.check_policy(password, forbidden=(username,))
        staff_id = "stf_" + secrets.token_hex(12)
        secret, sealed = self._new_secret(staff_id)
        now = to_datetime(self._clock())
        with self._sessions.begin() as session:
            if session.scalar(select(StaffAccount.id).where(StaffAccount.username == username)):
                raise Conflict("a staff member with that username exists",
                               code="staff.username_taken")
            row = StaffAccount(id=staff_id, username=username, display_name=display_name,
                               role=role, password_hash=self._hasher.hash(password),
                               totp_secret_enc=sealed, totp_last_step=0, status="active",
                               created_by=actor, created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            record = StaffRecord.from_row(row)
        self._audit.record(actor, "staff:create:success", subject=f"staff:{username}",
                           extra={"role": role})
        return StaffEnrolment(staff=record, secret=secret, uri=self._uri(secret, username))

    def _change(self, staff_id: str, actor: str, tag: str, **values: object) -> StaffRecord:
        with self._sessions.begin() as session:
            row = session.get(StaffAccount, staff_id)
            if row is None:
                raise NotFound("no such staff member", code="staff.not_found")
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = to_datetime(self._clock())
            record = StaffRecord.from_row(row)
        extra = {k: v for k, v in values.items() if k in ("role", "status")}
        self._audit.record(actor, tag, subject=record.actor, extra=extra or None)
        return record

    def set_status(self, staff_id: str, status: str, *, actor: str) -> StaffRecord:
        if status not in STATUSES:
            raise ValidationError("status must be active or disabled", code="staff.status")
        record = self._change(staff_id, actor, "staff:status:success", status=status)
        if status == "disabled" and self._on_signed_out is not None:
            self._on_signed_out(staff_id)
        return record

    def set_role(self, staff_id: str, role: str, *, actor: str) -> StaffRecord:
        return self._change(staff_id, actor, "staff:role:success", role=check_role(role))

    def reset_totp(self, staff_id: str, *, actor: str) -> StaffEnrolment:
        """A new TOTP secret (lost phone): the old one stops working at once."""
        secret, sealed = self._new_secret(staff_id)
        record = self._change(staff_id, actor, "staff:totp:reset", totp_secret_enc=sealed,
                              totp_confirmed_at=None, totp_last_step=0)
        if self._on_signed_out is not None:
            self._on_signed_out(staff_id)
        return StaffEnrolment(staff=record, secret=secret,
                              uri=self._uri(secret, record.username))

    # -- sign-in ----------------------------------------------------------------------------
    def _throttle_key(self, username: str) -> str:
        return f"throttle:staff:{username}"

    def _fail(self, username: str, reason: str, ip: str | None) -> AuthenticationFailed:
        count = self._store.incr(self._throttle_key(username), self._window)
        self._audit.record("anonymous", "staff:login:failure", subject=f"staff:{username}",
                           ip=ip, extra={"reason": reason, "failures": count})
        return AuthenticationFailed("the username, password or code is not correct",
                                    code="staff.login_failed")

    def authenticate(self, username: str, password: str, code: str, *,
                     ip: str | None = None) -> StaffRecord:
        """Password *and* TOTP code; raises RateLimited or AuthenticationFailed."""
        username = (username or "").strip().lower()[:64]
        key = self._throttle_key(username)
        if self._store.count(key) >= self._max_failures:
            self._audit.record("anonymous", "staff:login:throttled",
                               subject=f"staff:{username}", ip=ip)
            raise RateLimited("too many failed sign-ins; try again later",
                              retry_after=self._store.ttl(key) or self._window,
                              code="rate_limited.staff")
        with self._sessions() as session:
            row = session.scalar(select(StaffAccount).where(StaffAccount.username == username))
            ok = self._hasher.verify(row.password_hash if row else None, password or "")
            if row is None or not ok:
                raise self._fail(username, "bad_credentials" if row else "unknown_user", ip)
            if row.status != "active":
                raise self._fail(username, "disabled", ip)
            if row.totp_secret_enc is None:
                raise self._fail(username, "no_second_factor", ip)
            secret = self._vault.decrypt(row.totp_secret_enc,
                                         associated_data=totp_associated_data(row.id))
            staff_id = row.id
        step = matching_step(secret, code, self._clock())
        if step is None:
            raise self._fail(username, "wrong_code", ip)
        now = to_datetime(self._clock())
        with self._sessions.begin() as session:
            won = session.execute(
                update(StaffAccount)
                .where(StaffAccount.id == staff_id, StaffAccount.totp_last_step < step)
                .values(totp_last_step=step, last_login_at=now)
            ).rowcount  # type: ignore[attr-defined]
            if won == 1:
                session.execute(update(StaffAccount).where(
                    StaffAccount.id == staff_id, StaffAccount.totp_confirmed_at.is_(None)
                ).values(totp_confirmed_at=now))
        if won != 1:
            raise self._fail(username, "replayed_code", ip)
        self._store.delete(key)
        record = self.get(staff_id)
        assert record is not None  # noqa: S101 — just updated it
        self._audit.record(record.actor, "staff:login:success", subject=record.actor, ip=ip,
                           extra={"role": record.role, "amr": ["pwd", "otp"]})
        return record
