"""Delegations (代办): a citizen authorises another citizen — a family member — to act for them.

A delegation lets the agent's own access token be presented as ``actor_token`` in a token
exchange for the citizen (RFC 8693 §1.1, §4.1); the tokens issued then carry an ``act`` claim
naming the agent. Staff record delegations at a service counter, after checking both people's
documents (``idp delegations grant``); either may end one (``idp delegations revoke``).

A delegation is open until revoked and active until it expires. One open delegation per
citizen × agent (a partial unique index). Every change is audited: ``delegation:grant:success``,
``delegation:grant:duplicate``, ``delegation:revoke:success``.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from idp.accounts.services import AccountService
from idp.audit import AuditTrail
from idp.clock import Clock, system_clock, to_datetime
from idp.errors import Conflict, NotFound, ValidationError
from idp.store.models import Account, Delegation

DEFAULT_DAYS = 365
MAX_DAYS = 3650


class DelegationService:
    def __init__(self, sessions: sessionmaker[Session], *, accounts: AccountService,
                 audit: AuditTrail, clock: Clock = system_clock) -> None:
        self._sessions = sessions
        self._accounts = accounts
        self._audit = audit
        self._clock = clock

    def find_account(self, identifier: str, *, role: str) -> Account:
        """A citizen by ID number, phone or account id (``sub``). The error never echoes the
        identifier: it may be a full citizen ID number."""
        value = (identifier or "").strip()
        account = self._accounts.find_by_username(value) if value else None
        if account is None and value and len(value) <= 40:
            account = self._accounts.get(value)
        if account is None:
            raise NotFound(f"no citizen account matches the {role} given",
                           code="delegation.account_not_found")
        return account

    def grant(self, citizen: Account, agent: Account, *, days: int = DEFAULT_DAYS,
              actor: str = "cli") -> Delegation:
        """Authorise ``agent`` to act for ``citizen`` for ``days`` days."""
        if citizen.id == agent.id:
            raise ValidationError("a citizen cannot be their own agent",
                                  code="delegation.self")
        if not 1 <= days <= MAX_DAYS:
            raise ValidationError(f"days must be between 1 and {MAX_DAYS}",
                                  code="delegation.days")
        for who, account in (("citizen", citizen), ("agent", agent)):
            if account.status != "active":
                raise ValidationError(f"the {who}'s account is not active",
                                      code="delegation.inactive")
        now = to_datetime(self._clock())
        row = Delegation(citizen_id=citizen.id, agent_id=agent.id, created_at=now,
                         expires_at=now + timedelta(days=days))
        try:
            with self._sessions.begin() as session:
                self._close_expired(session, citizen.id, agent.id)
                session.add(row)
        except IntegrityError:
            self._audit.record(actor, "delegation:grant:duplicate", subject=citizen.id,
                               extra={"agent": agent.id})
            raise Conflict("this agent already holds an active delegation from this citizen; "
                           "revoke it first to change it", code="delegation.exists") from None
        self._audit.record(actor, "delegation:grant:success", subject=citizen.id,
                           extra={"agent": agent.id, "delegation": row.id,
                                  "expires_at": row.expires_at.isoformat()})
        return row

    def _close_expired(self, session: Session, citizen_id: str, agent_id: str) -> None:
        """An expired but unrevoked row still holds the pair's open slot: close it."""
        now = to_datetime(self._clock())
        session.execute(
            update(Delegation)
            .where(Delegation.citizen_id == citizen_id, Delegation.agent_id == agent_id,
                   Delegation.revoked_at.is_(None), Delegation.expires_at <= now)
            .values(revoked_at=Delegation.expires_at))
        session.flush()

    def revoke(self, citizen: Account, agent: Account, *, actor: str = "cli") -> Delegation:
        """End the open delegation from ``citizen`` to ``agent``."""
        now = to_datetime(self._clock())
        with self._sessions.begin() as session:
            row = session.scalar(
                select(Delegation).where(Delegation.citizen_id == citizen.id,
                                         Delegation.agent_id == agent.id,
                                         Delegation.revoked_at.is_(None),
                                         Delegation.expires_at > now)
                .with_for_update())
            if row is None:
                raise NotFound("this agent holds no active delegation from this citizen",
                               code="delegation.not_found")
            row.revoked_at = now
        self._audit.record(actor, "delegation:revoke:success", subject=citizen.id,
                           extra={"agent": agent.id, "delegation": row.id})
        return row

    def is_active(self, citizen_id: str, agent_id: str) -> bool:
        """Does ``agent_id`` hold an unexpired, unrevoked delegation from ``citizen_id``?"""
        now = to_datetime(self._clock())
        with self._sessions() as session:
            found = session.scalar(
                select(Delegation.id).where(Delegation.citizen_id == citizen_id,
                                            Delegation.agent_id == agent_id,
                                            Delegation.revoked_at.is_(None),
                                            Delegation.expires_at > now).limit(1))
        return found is not None
