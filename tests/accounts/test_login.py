"""Password sign-in: by ID number or phone, failure limits, argon2id rehash."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.accounts.passwords import PasswordHasher
from idp.accounts.services import AccountService
from idp.errors import AccountLocked, AuthenticationFailed, RateLimited
from idp.store.models import Account, AuditEvent
from tests.factories import make_citizen


def test_sign_in_with_id_number_or_phone(services):
    citizen = make_citizen(services)
    assert services.accounts.authenticate(citizen.id_number, citizen.password).id == citizen.sub
    assert services.accounts.authenticate(citizen.phone, citizen.password).id == citizen.sub
    assert (
        services.accounts.authenticate(f"+86 {citizen.phone}", citizen.password).id == citizen.sub
    )


def test_lowercase_x_signs_in(services):
    citizen = make_citizen(services, number="11010519491231002X")
    assert services.accounts.authenticate("11010519491231002x", citizen.password).id == citizen.sub


def test_wrong_password_is_refused_and_audited(services):
    citizen = make_citizen(services)
    with pytest.raises(AuthenticationFailed) as exc:
        services.accounts.authenticate(citizen.phone, "wrong-password", ip="10.0.0.1")
    assert "password" in exc.value.message
    with pytest.raises(AuthenticationFailed):
        services.accounts.authenticate("13900000000", "whatever", ip="10.0.0.1")
    with services.sessions() as s:
        events = list(
            s.scalars(select(AuditEvent).where(AuditEvent.tag == "account:login:failure"))
        )
    assert [e.extra["reason"] for e in events] == ["bad_credentials", "unknown_user"]


def test_account_limit_locks_out_even_the_right_password(services):
    citizen = make_citizen(services)
    limit = services.settings.ratelimit.account_failures
    for _ in range(limit):
        with pytest.raises(AuthenticationFailed):
            services.accounts.authenticate(citizen.id_number, "nope-nope", ip="10.0.0.2")
    with pytest.raises(RateLimited) as exc:
        services.accounts.authenticate(citizen.id_number, citizen.password, ip="10.0.0.3")
    assert exc.value.code == "rate_limited.account"
    assert 0 < exc.value.retry_after <= services.settings.ratelimit.window


def test_ip_limit_stops_spraying_across_accounts(make_settings, db_url):
    from idp.container import build_services

    svc = build_services(
        make_settings(IDP_DATABASE_URL=db_url, IDP_RATELIMIT_IP_FAILURES="3"), create_keys=True
    )
    try:
        for n in range(3):
            with pytest.raises(AuthenticationFailed):
                svc.accounts.authenticate(f"1390000000{n}", "guess-guess", ip="10.9.9.9")
        with pytest.raises(RateLimited) as exc:
            svc.accounts.authenticate("13900000009", "guess-guess", ip="10.9.9.9")
        assert exc.value.code == "rate_limited.ip"
        # Another network is not affected.
        with pytest.raises(AuthenticationFailed):
            svc.accounts.authenticate("13900000009", "guess-guess", ip="10.1.1.1")
    finally:
        svc.close()


def test_success_resets_the_account_counter(services):
    citizen = make_citizen(services)
    for _ in range(services.settings.ratelimit.account_failures - 1):
        with pytest.raises(AuthenticationFailed):
            services.accounts.authenticate(citizen.phone, "nope-nope")
    services.accounts.authenticate(citizen.phone, citizen.password)
    for _ in range(services.settings.ratelimit.account_failures - 1):
        with pytest.raises(AuthenticationFailed):
            services.accounts.authenticate(citizen.phone, "nope-nope")
    assert services.accounts.authenticate(citizen.phone, citizen.password).id == citizen.sub


def test_locked_account_cannot_sign_in(services):
    citizen = make_citizen(services)
    with services.sessions.begin() as s:
        s.get(Account, citizen.sub).status = "locked"
    with pytest.raises(AccountLocked):
        services.accounts.authenticate(citizen.phone, citizen.password)


def test_rehash_on_login_when_parameters_change(services):
    citizen = make_citizen(services)
    with services.sessions() as s:
        old_hash = s.get(Account, citizen.sub).password_hash
    stronger = PasswordHasher(time_cost=2, memory_cost=16384, parallelism=1)
    assert stronger.needs_rehash(old_hash)
    upgraded = AccountService(
        services.sessions,
        protector=services.protector,
        registry=services.registry,
        hasher=stronger,
        throttle=services.accounts._throttle,
        audit=services.audit,
    )
    upgraded.authenticate(citizen.phone, citizen.password)
    with services.sessions() as s:
        new_hash = s.get(Account, citizen.sub).password_hash
    assert new_hash != old_hash and "m=16384,t=2" in new_hash
    assert not stronger.needs_rehash(new_hash)
    assert upgraded.authenticate(citizen.phone, citizen.password).id == citizen.sub


def test_every_spelling_of_one_citizen_shares_the_limit(services):
    citizen = make_citizen(services, number="11010519491231002X")
    spellings = [citizen.id_number, citizen.id_number.lower(), citizen.phone,
                 f"+86{citizen.phone}", "１１０１０５１９４９１２３１００２Ｘ"]
    for username in spellings:
        with pytest.raises(AuthenticationFailed):
            services.accounts.authenticate(username, "nope-nope")
    with pytest.raises(RateLimited):
        services.accounts.authenticate(f"+86 {citizen.phone}", "nope-nope")
    with services.sessions() as s:
        throttled = list(s.scalars(select(AuditEvent.extra).where(
            AuditEvent.tag == "account:login:throttled")))
    assert throttled == [{"limit": "rate_limited.account"}]
