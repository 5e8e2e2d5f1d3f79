"""What staff do to one citizen (issue 6 §5), the same from the CLI, the console and the API.

A citizen is found by ID number or mobile phone number (the blind index: the number is never
compared or kept in clear) or by account id, and only ever shown masked. Every method takes the
acting staff member's ``actor`` string and role; :func:`idp.staff.roles.require` decides, so a
helpdesk clerk who may unlock cannot lock, and an auditor can do neither. Every change is
audited by the service that makes it, with the staff member as actor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from idp.accounts.mfa import MfaService
from idp.accounts.passkeys import PasskeyService
from idp.accounts.services import AccountService
from idp.audit import AuditTrail
from idp.errors import NotFound, ValidationError
from idp.sessions import SessionEnding, SessionService
from idp.sessions.ending import session_ref
from idp.staff import roles
from idp.store.models import Account

_ID_LIKE = re.compile(r"\d{17}[\dXx]|\d{15}")  # never keep a clear ID number in the trail


def _when(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else None


@dataclass(frozen=True)
class Actor:
    """Who acts: the audited actor string (``staff:<username>``) and the role."""

    name: str
    role: str


@dataclass(frozen=True)
class CitizenView:
    sub: str
    id_number: str  # masked
    name: str
    phone: str  # masked
    status: str
    sessions: int
    second_factors: dict[str, Any]
    recent_failures: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"sub": self.sub, "id_number": self.id_number, "name": self.name,
                "phone": self.phone, "status": self.status, "sessions": self.sessions,
                "second_factors": self.second_factors, "recent_failures": self.recent_failures}


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 11 else "****"


class CitizenDesk:
    def __init__(self, accounts: AccountService, sso: SessionService, ending: SessionEnding,
                 mfa: MfaService, passkeys: PasskeyService, audit: AuditTrail) -> None:
        self._accounts = accounts
        self._sso = sso
        self._ending = ending
        self._mfa = mfa
        self._passkeys = passkeys
        self._audit = audit

    def find(self, who: str, actor: Actor) -> Account:
        """The citizen named by ID number, phone number or account id; NotFound otherwise."""
        roles.require(actor.role, roles.CITIZENS_READ)
        who = (who or "").strip()
        account = (self._accounts.find_by_username(who) or self._accounts.get(who)
                   if 0 < len(who) <= 64 else None)
        if account is None:
            raise NotFound("no citizen with that ID number, phone number or account id",
                           code="citizen.not_found")
        return account

    def view(self, account: Account, actor: Actor) -> CitizenView:
        roles.require(actor.role, roles.CITIZENS_READ)
        failures = [{"ts": e.ts.isoformat(timespec="seconds"), "ip": e.ip,
                     "reason": (e.extra or {}).get("reason")}
                    for e in self._audit.events(tag="account:login:failure",
                                                subject=account.id, limit=10)]
        # Looking at a citizen's account is itself recorded: who looked, at whom, from where.
        self._audit.record(actor.name, "account:view:success", subject=account.id)
        status = self._mfa.status(account.id)
        factors = {"totp": status.enrolled, "recovery_codes_left": status.recovery_codes_left,
                   "passkeys": len(self._passkeys.list(account.id))}
        return CitizenView(sub=account.id, id_number=account.id_number_masked,
                           name=account.name, phone=mask_phone(account.phone or ""),
                           status=account.status, sessions=len(self._sso.for_account(account.id)),
                           second_factors=factors, recent_failures=failures)

    def sessions(self, account: Account, actor: Actor) -> list[dict[str, Any]]:
        roles.require(actor.role, roles.SESSIONS_READ)
        return [{"ref": session_ref(s.sid), "created": _when(s.created_at),
                 "auth_time": _when(s.auth_time), "acr": s.acr, "amr": list(s.amr),
                 "clients": dict(sorted(s.clients.items()))}
                for s in sorted(self._sso.for_account(account.id), key=lambda s: s.created_at)]

    def end_sessions(self, account: Account, actor: Actor, *, ref: str | None = None) -> list[str]:
        """End one session (by ref) or, with ``ref=None``, all: tokens revoked, portals told."""
        roles.require(actor.role, roles.SESSIONS_END)
        targets = [s for s in self._sso.for_account(account.id)
                   if ref is None or session_ref(s.sid) == ref]
        if ref is not None and not targets:
            raise NotFound("no such session of this citizen", code="session.not_found")
        return [session_ref(s.sid) for s in targets if self._ending.end(
            s.sid, by="staff", actor=actor.name, reason="staff") is not None]

    def set_status(self, account: Account, status: str, actor: Actor, *,
                   reason: str = "") -> Account:
        roles.require(actor.role, roles.CITIZENS_LOCK if status == "locked"
                      else roles.CITIZENS_UNLOCK)
        return self._accounts.set_status(account.id, status, actor=actor.name, reason=reason)

    def reset_factors(self, account: Account, actor: Actor, *, verification: str) -> dict[str, int]:
        """Remove the citizen's TOTP factor (and recovery codes) and passkeys, after the
        citizen's identity was checked in person; ``verification`` says how (audited)."""
        roles.require(actor.role, roles.CITIZENS_RESET_FACTORS)
        verification = _ID_LIKE.sub("[ID number removed]", (verification or "").strip())
        if not 4 <= len(verification) <= 200:
            raise ValidationError("say how the citizen's identity was checked (4-200 "
                                  "characters, e.g. the counter ticket number)",
                                  code="citizen.verification")
        totp = self._mfa.reset(account.id, actor=actor.name)
        passkeys = self._passkeys.remove_all(account.id, actor=actor.name)
        self._audit.record(actor.name, "account:factors:reset", subject=account.id,
                           extra={"verification": verification, "totp": totp,
                                  "passkeys": passkeys})
        # A session that reached L2 with a factor that is gone must not outlive it.
        self._ending.end_others(account.id, None, by="staff", reason="factors_reset")
        return {"totp": int(totp), "passkeys": passkeys}
