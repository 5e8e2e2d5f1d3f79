"""Delegations (代办) on SQLite and PostgreSQL: grant, revoke, expiry, one open row per pair,
typed errors and audit events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from idp.accounts.delegations import DelegationService
from idp.clock import to_datetime
from idp.errors import Conflict, NotFound, ValidationError
from idp.store.models import Account, AuditEvent, Delegation
from tests.factories import make_citizen

DAY = 86400


@pytest.fixture
def family(services):
    """A citizen and the family member who will act for them, as accounts."""
    citizen, agent = make_citizen(services, name="赵老伯"), make_citizen(services, name="赵小妹")
    return services.accounts.get(citizen.sub), services.accounts.get(agent.sub)


def _tags(services) -> list[str]:
    with services.sessions() as s:
        return list(s.scalars(select(AuditEvent.tag).where(AuditEvent.tag.startswith(
            "delegation:")).order_by(AuditEvent.seq)))


def test_grant_then_revoke(services, family):
    citizen, agent = family
    assert not services.delegations.is_active(citizen.id, agent.id)
    row = services.delegations.grant(citizen, agent, days=30, actor="staff-1")
    assert row.id and row.revoked_at is None
    assert row.expires_at - row.created_at == timedelta(days=30)
    assert services.delegations.is_active(citizen.id, agent.id)
    assert not services.delegations.is_active(agent.id, citizen.id)  # one direction only
    revoked = services.delegations.revoke(citizen, agent, actor="staff-1")
    assert revoked.id == row.id and revoked.revoked_at is not None
    assert not services.delegations.is_active(citizen.id, agent.id)
    assert _tags(services) == ["delegation:grant:success", "delegation:revoke:success"]
    with pytest.raises(NotFound):
        services.delegations.revoke(citizen, agent)


def test_a_second_open_delegation_is_a_conflict(services, family):
    citizen, agent = family
    services.delegations.grant(citizen, agent)
    with pytest.raises(Conflict, match="revoke it first"):
        services.delegations.grant(citizen, agent, days=7)
    with services.sessions() as s:
        assert len(list(s.scalars(select(Delegation)))) == 1
    assert _tags(services) == ["delegation:grant:success", "delegation:grant:duplicate"]
    # After a revocation the pair may be granted again; the old row stays as history.
    services.delegations.revoke(citizen, agent)
    services.delegations.grant(citizen, agent)
    assert services.delegations.is_active(citizen.id, agent.id)


def test_the_database_keeps_one_open_row_per_pair(services, family):
    """The partial unique index, not only the service, stops a racing second grant."""
    citizen, agent = family
    now = to_datetime(1_800_000_000)
    open_row = {"citizen_id": citizen.id, "agent_id": agent.id, "created_at": now,
                "expires_at": now + timedelta(days=1)}
    with services.sessions.begin() as s:
        s.add(Delegation(**open_row, revoked_at=now))  # closed rows do not count
        s.add(Delegation(**open_row))
    with pytest.raises(IntegrityError), services.sessions.begin() as s:
        s.add(Delegation(**open_row))


def test_expiry_and_regrant_after_expiry(services, family):
    citizen, agent = family
    clock = [1_800_000_000.0]
    delegations = DelegationService(services.sessions, accounts=services.accounts,
                                    audit=services.audit, clock=lambda: clock[0])
    first = delegations.grant(citizen, agent, days=1)
    clock[0] += DAY - 1
    assert delegations.is_active(citizen.id, agent.id)
    clock[0] += 2
    assert not delegations.is_active(citizen.id, agent.id)
    with pytest.raises(NotFound):
        delegations.revoke(citizen, agent)  # nothing active to revoke
    second = delegations.grant(citizen, agent, days=2)  # the expired row is closed first
    assert delegations.is_active(citizen.id, agent.id)
    with services.sessions() as s:
        old = s.get(Delegation, first.id)
        assert old.revoked_at is not None and second.id != first.id


@pytest.mark.parametrize(("change", "message"), [
    ("self", "their own agent"),
    ("days", "between 1 and"),
    ("inactive", "agent's account is not active"),
])
def test_invalid_grants_are_typed_errors_and_write_nothing(services, family, change, message):
    citizen, agent = family
    days = 365
    if change == "self":
        agent = citizen
    elif change == "days":
        days = 0
    else:
        with services.sessions.begin() as s:
            s.execute(update(Account).where(Account.id == agent.id).values(status="locked"))
        agent = services.accounts.get(agent.id)
    with pytest.raises(ValidationError, match=message):
        services.delegations.grant(citizen, agent, days=days)
    with services.sessions() as s:
        assert list(s.scalars(select(Delegation))) == []
    assert _tags(services) == []


def test_find_account_by_phone_id_number_or_sub(services):
    person = make_citizen(services)
    for identifier in (person.phone, person.id_number, person.id_number.lower(), person.sub):
        assert services.delegations.find_account(identifier, role="citizen").id == person.sub
    for unknown in ("13999999999", "", "no-such-account", "x" * 200):
        with pytest.raises(NotFound) as caught:
            services.delegations.find_account(unknown, role="agent")
        assert "agent" in caught.value.message and (not unknown or unknown not in
                                                    caught.value.message)
