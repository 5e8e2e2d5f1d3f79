"""Account service: register a citizen (real-name checked), authenticate, look up.

Registration pipeline: parse the ID number → check phone → check password policy → real-name
check against the population registry → one account per ID number (blind-index unique key) and
per phone → store ciphertext + blind index + masked form. Sign-in pipeline: throttle → find by ID
number or phone → verify argon2id (dummy verify when absent) → status → rehash if parameters
changed. Each step raises a typed error from ``idp.errors``.
"""

from __future__ import annotations

import datetime
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from idp.accounts.passwords import PasswordHasher
from idp.accounts.registry import PopulationRegistry, normalise_name
from idp.accounts.throttle import LoginThrottle
from idp.audit import AuditTrail
from idp.clock import Clock, system_clock, to_datetime
from idp.errors import (
    AccountLocked,
    AuthenticationFailed,
    Conflict,
    InvalidIdNumber,
    NotFound,
    RateLimited,
    RegistryMismatch,
    ValidationError,
)
from idp.identity import IdNumber, IdNumberProtector, ProtectedIdNumber, parse_id_number
from idp.store.lookup import RowLookup
from idp.store.models import Account

if TYPE_CHECKING:
    from idp.sessions.ending import SessionEnding

_PHONE = re.compile(r"^1[3-9]\d{9}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_phone(raw: str) -> str:
    phone = re.sub(r"[\s\-()]", "", raw or "")
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("0086"):
        phone = phone[4:]
    if not _PHONE.match(phone):
        raise ValidationError("phone must be an 11-digit mainland mobile number, e.g. 13800138000",
                              code="phone.invalid")
    return phone


def canonical_username(username: str) -> str:
    """One spelling per identifier: normalised phone, normalised ID number, else upper-case."""
    text = (username or "").strip()
    if looks_like_phone(text):
        return normalise_phone(text)
    try:
        return parse_id_number(text).value
    except InvalidIdNumber:
        return text.upper()


def looks_like_phone(username: str) -> bool:
    return bool(_PHONE.match(re.sub(r"[\s\-]", "", username.removeprefix("+86"))))


def account_columns(account_id: str, id_number: IdNumber, protected: ProtectedIdNumber, *,
                    name: str, phone: str, email: str | None, password_hash: str,
                    now: datetime.datetime) -> dict[str, Any]:
    """The columns of a new, active account (checked input): for :meth:`AccountService.register`
    and for bulk loads (:mod:`idp.accounts.bench_citizens`), so both write the same row."""
    return {
        "id": account_id,
        "id_number_bidx": protected.blind_index,
        "id_number_enc": protected.ciphertext,
        "id_number_key": protected.key_id,
        "id_number_masked": protected.masked,
        "id_kind": id_number.kind,
        "name": name,
        "phone": phone,
        "phone_verified": False,
        "email": email,
        "email_verified": False,
        "gender": id_number.gender,
        "birthdate": id_number.birth_date,
        "password_hash": password_hash,
        "status": "active",
        "assurance": "L2",
        "created_at": now,
        "updated_at": now,
        "password_changed_at": now,
    }


@dataclass(frozen=True)
class Registration:
    id_number: str
    name: str
    phone: str
    password: str
    email: str | None = None


class AccountService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        protector: IdNumberProtector,
        registry: PopulationRegistry,
        hasher: PasswordHasher,
        throttle: LoginThrottle,
        audit: AuditTrail,
        clock: Clock = system_clock,
        session_ending: SessionEnding | None = None,
    ) -> None:
        self._sessions = sessions
        engine = sessions.kw["bind"]
        self._by_id = RowLookup(engine, Account, Account.id)
        self._by_phone = RowLookup(engine, Account, Account.phone)
        self._by_bidx = RowLookup(engine, Account, Account.id_number_bidx)
        self._protector = protector
        self._registry = registry
        self._hasher = hasher
        self._throttle = throttle
        self._audit = audit
        self._clock = clock
        self._ending = session_ending

    # -- registration -------------------------------------------------------------------
    def register(self, reg: Registration, *, ip: str | None = None,
                 actor: str = "self") -> Account:
        id_number = parse_id_number(reg.id_number)
        name = normalise_name(reg.name)
        if not name or len(name) > 100:
            raise ValidationError("enter your real name as on the ID card", code="name.invalid")
        phone = normalise_phone(reg.phone)
        email = (reg.email or "").strip() or None
        if email is not None and not _EMAIL.match(email):
            raise ValidationError("email address is not valid", code="email.invalid")
        self._hasher.check_policy(reg.password, forbidden=(id_number.value, phone))
        protected = self._protector.protect(id_number)
        with self._sessions() as session:
            if session.scalar(select(Account.id).where(
                    Account.id_number_bidx == protected.blind_index)):
                self._audit.record(actor, "account:register:duplicate",
                                   subject=protected.masked, ip=ip)
                raise Conflict("an account already exists for this ID number; sign in instead",
                               code="account.duplicate_id_number")
            if session.scalar(select(Account.id).where(Account.phone == phone)):
                raise Conflict("this phone number is already bound to another account",
                               code="account.duplicate_phone")
        if not self._registry.name_matches(id_number.value, name):
            self._audit.record(actor, "account:register:registry_mismatch",
                               subject=protected.masked, ip=ip)
            raise RegistryMismatch("the name does not match the population registry for this ID "
                                   "number; check both against your ID card")
        now = to_datetime(self._clock())
        account = Account(**account_columns(
            str(uuid.uuid4()), id_number, protected, name=name, phone=phone, email=email,
            password_hash=self._hasher.hash(reg.password), now=now))
        try:
            with self._sessions.begin() as session:
                session.add(account)
        except IntegrityError:
            # Lost a race with a concurrent registration of the same number or phone.
            raise Conflict("an account already exists for this ID number or phone",
                           code="account.duplicate_id_number") from None
        self._audit.record(actor, "account:register:success", subject=account.id, ip=ip,
                           extra={"id_number": protected.masked})
        return account

    def hash_password(self, password: str) -> str:
        """An argon2id hash of ``password`` (policy-checked) with the current parameters: for
        bulk loads that give many synthetic accounts one password (``idp seed-bench``)."""
        self._hasher.check_policy(password)
        return self._hasher.hash(password)

    # -- sign-in ------------------------------------------------------------------------
    def find_by_username(self, username: str) -> Account | None:
        username = (username or "").strip()
        if not username:
            return None
        if looks_like_phone(username):
            return self._by_phone(normalise_phone(username))
        try:
            bidx = self._protector.index(username)
        except InvalidIdNumber:
            return None
        return self._by_bidx(bidx)

    def authenticate(self, username: str, password: str, *, ip: str | None = None) -> Account:
        """Verify a password sign-in; raises RateLimited, AuthenticationFailed, AccountLocked."""
        account = None
        try:
            self._throttle.check_ip(ip)
            account = self.find_by_username(username)
            subject = account.id if account else canonical_username(username)
            self._throttle.check_subject(subject)
        except RateLimited as exc:
            self._audit.record(account.id if account else "anonymous", "account:login:throttled",
                               subject=account.id if account else None, ip=ip,
                               extra={"limit": exc.code})
            raise
        ok = self._hasher.verify(account.password_hash if account else None, password or "")
        if account is None or not ok:
            self._throttle.failed(subject, ip)
            self._audit.record(account.id if account else "anonymous", "account:login:failure",
                               subject=account.id if account else None, ip=ip,
                               extra={"reason": "bad_credentials" if account else "unknown_user"})
            raise AuthenticationFailed("the ID number / phone or the password is not correct")
        if account.status != "active":
            self._audit.record(account.id, "account:login:locked", subject=account.id, ip=ip)
            raise AccountLocked("this account is locked; contact the service hotline or visit "
                                "a service counter")
        self._throttle.succeeded(subject)
        now = to_datetime(self._clock())
        with self._sessions.begin() as session:
            row = session.get(Account, account.id)
            assert row is not None  # noqa: S101 — just found it
            row.last_login_at = now
            if self._hasher.needs_rehash(row.password_hash):
                row.password_hash = self._hasher.hash(password)
            account = row
        self._audit.record(account.id, "account:login:success", subject=account.id, ip=ip,
                           extra={"method": "pwd"})
        return account

    # -- staff --------------------------------------------------------------------------
    def set_status(self, account_id: str, status: str, *, actor: str,
                   reason: str = "") -> Account:
        """Lock (``locked``: no sign-in, every session ended — tokens revoked, portals told)
        or unlock (``active``) an account; audited ``account:lock|unlock:success``."""
        if status not in ("active", "locked"):
            raise ValidationError("status must be active or locked", code="account.status")
        with self._sessions.begin() as session:
            row = session.get(Account, account_id)
            if row is None:
                raise NotFound("no such account", code="account.not_found")
            before, row.status = row.status, status
            account = row
        if before != status:
            self._audit.record(actor, "account:lock:success" if status == "locked"
                               else "account:unlock:success", subject=account_id,
                               extra={"reason": reason[:200]} if reason else None)
        if status == "locked" and self._ending is not None:
            self._ending.end_others(account_id, None, by="staff", reason="account_locked")
        return account

    # -- password change ----------------------------------------------------------------
    def change_password(self, account_id: str, current: str, new: str, *,
                        end_other_sessions: bool, keep_sid: str | None,
                        ip: str | None = None) -> int:
        """Change a signed-in citizen's password; returns how many other sessions were ended.

        Pipeline: throttle (the current password is a secret like any other) → verify the
        current password → new-password policy (as at registration) → store → audit
        ``account:password:change`` → optionally end every other session of the account,
        revoking their tokens. Raises RateLimited, AuthenticationFailed, ValidationError;
        nothing is changed when it raises."""
        account = self.get(account_id)
        if account is None:
            raise AuthenticationFailed("the account no longer exists")
        try:
            self._throttle.check_ip(ip)
            self._throttle.check_subject(account.id)
        except RateLimited as exc:
            self._audit.record(account.id, "account:password:throttled", subject=account.id,
                               ip=ip, extra={"limit": exc.code})
            raise
        if not self._hasher.verify(account.password_hash, current or ""):
            self._throttle.failed(account.id, ip)
            self._audit.record(account.id, "account:password:failure", subject=account.id,
                               ip=ip, extra={"reason": "bad_current_password"})
            raise AuthenticationFailed("the current password is not correct",
                                       code="auth.current_password")
        self._throttle.succeeded(account.id)
        self._hasher.check_policy(new, forbidden=(self.reveal_id_number(account), account.phone))
        now = to_datetime(self._clock())
        with self._sessions.begin() as session:
            row = session.get(Account, account.id)
            if row is None:
                raise AuthenticationFailed("the account no longer exists")
            row.password_hash = self._hasher.hash(new)
            row.password_changed_at = now
            row.updated_at = now
        self._audit.record(account.id, "account:password:change", subject=account.id, ip=ip,
                           extra={"end_other_sessions": end_other_sessions})
        if not end_other_sessions:
            return 0
        if self._ending is None:
            raise RuntimeError("AccountService was built without session_ending")
        return len(self._ending.end_others(account.id, keep_sid, by="citizen", ip=ip,
                                           reason="password_change"))

    def get(self, account_id: str) -> Account | None:
        """The account, detached (read it; change it through this service's methods)."""
        return self._by_id(account_id)

    def reveal_id_number(self, account: Account) -> str:
        """The clear ID number, for release under the dedicated scope only (issue 5)."""
        return self._protector.reveal(account.id_number_enc)
