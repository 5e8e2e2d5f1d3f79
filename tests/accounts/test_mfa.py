"""TOTP second factor (idp.accounts.mfa): enrolment, replay guard, rate limit, recovery codes,
secret sealed at rest — on SQLite and PostgreSQL, with a clock the tests move."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import text

from idp.errors import AuthenticationFailed, Conflict, RateLimited
from tests.factories import make_citizen

LABEL = "1101**********002X"


@pytest.fixture
def services(clocked_services):
    return clocked_services


@pytest.fixture
def citizen(services):
    return make_citizen(services)


def code(secret, clock, offset=0):
    return pyotp.TOTP(secret).at(clock.now + offset)


def enrolled(services, citizen, clock):
    """Enrol and confirm; returns (secret, recovery codes), the clock moved past that step."""
    enrolment = services.mfa.enrol(citizen.sub, label=LABEL)
    codes = services.mfa.confirm(citizen.sub, code(enrolment.secret, clock))
    clock.advance(30)
    return enrolment.secret, codes


def tags(services, prefix):
    return [e.tag for e in services.audit.events(tag=prefix, limit=100)]


def test_enrol_and_confirm(services, citizen, clock):
    enrolment = services.mfa.enrol(citizen.sub, label=LABEL)
    assert enrolment.uri.startswith("otpauth://totp/")
    assert "issuer=%E4%B8%80%E7%BD%91%E9%80%9A%E5%8A%9E" in enrolment.uri
    assert citizen.id_number not in enrolment.uri
    assert not services.mfa.has_totp(citizen.sub)
    assert services.mfa.status(citizen.sub).pending
    with pytest.raises(AuthenticationFailed):
        services.mfa.confirm(citizen.sub, "000000" if code(enrolment.secret, clock) != "000000"
                             else "111111")
    codes = services.mfa.confirm(citizen.sub, code(enrolment.secret, clock))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert services.mfa.has_totp(citizen.sub)
    assert services.mfa.status(citizen.sub).recovery_codes_left == 10
    with pytest.raises(Conflict):
        services.mfa.enrol(citizen.sub, label=LABEL)
    assert "mfa:totp:enrol" in tags(services, "mfa:totp:enrol")
    assert "mfa:totp:confirm" in tags(services, "mfa:totp:confirm")


def test_wrong_code_is_refused_and_counted(services, citizen, clock):
    secret, _ = enrolled(services, citizen, clock)
    good = code(secret, clock)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    with pytest.raises(AuthenticationFailed):
        services.mfa.verify(citizen.sub, wrong)
    [event] = services.audit.events(tag="mfa:totp:verify:failure", limit=10)
    assert event.extra["failures"] == 1 and event.extra["reason"] == "wrong_code"
    services.mfa.verify(citizen.sub, good)
    assert tags(services, "mfa:totp:verify:success") == ["mfa:totp:verify:success"]


def test_a_used_code_is_refused(services, citizen, clock):
    secret, _ = enrolled(services, citizen, clock)
    used = code(secret, clock)
    services.mfa.verify(citizen.sub, used)
    with pytest.raises(AuthenticationFailed):
        services.mfa.verify(citizen.sub, used)
    # Still within the window of the next step: the same code is a replay, not a new one.
    clock.advance(30)
    with pytest.raises(AuthenticationFailed):
        services.mfa.verify(citizen.sub, used)
    # An older step than the last one used is refused too.
    with pytest.raises(AuthenticationFailed):
        services.mfa.verify(citizen.sub, code(secret, clock, -30))
    reasons = [e.extra["reason"] for e in
               services.audit.events(tag="mfa:totp:verify:failure", limit=10)]
    assert "replay" in reasons
    services.mfa.verify(citizen.sub, code(secret, clock, 30))  # the next step: a fresh code


def test_the_code_used_to_confirm_cannot_be_replayed(services, citizen, clock):
    enrolment = services.mfa.enrol(citizen.sub, label=LABEL)
    first = code(enrolment.secret, clock)
    services.mfa.confirm(citizen.sub, first)
    with pytest.raises(AuthenticationFailed):
        services.mfa.verify(citizen.sub, first)


def test_rate_limit_after_the_failure_limit(services, citizen, clock):
    secret, _ = enrolled(services, citizen, clock)
    good = code(secret, clock)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    limit = services.settings.ratelimit.account_failures
    for _ in range(limit):
        with pytest.raises(AuthenticationFailed):
            services.mfa.verify(citizen.sub, wrong)
    with pytest.raises(RateLimited) as raised:
        services.mfa.verify(citizen.sub, good)  # even the right code: checked before
    assert raised.value.retry_after > 0
    with pytest.raises(RateLimited):
        services.mfa.use_recovery_code(citizen.sub, "aaaa-bbbb-cccc-dddd")


def test_a_recovery_code_works_once(services, citizen, clock):
    _, codes = enrolled(services, citizen, clock)
    assert services.mfa.use_recovery_code(citizen.sub, codes[0].upper().replace("-", " ")) == 9
    with pytest.raises(AuthenticationFailed):
        services.mfa.use_recovery_code(citizen.sub, codes[0])
    assert services.mfa.verify_any(citizen.sub, codes[1]) == "recovery"
    assert tags(services, "mfa:recovery:use") == ["mfa:recovery:use"] * 2


def test_recovery_codes_of_another_account_do_not_work(services, citizen, clock):
    _, codes = enrolled(services, citizen, clock)
    other = make_citizen(services)
    enrolled(services, other, clock)
    with pytest.raises(AuthenticationFailed):
        services.mfa.use_recovery_code(other.sub, codes[0])


def test_disable_needs_a_current_code(services, citizen, clock):
    secret, _ = enrolled(services, citizen, clock)
    with pytest.raises(AuthenticationFailed):
        services.mfa.disable(citizen.sub, "12345")
    assert services.mfa.has_totp(citizen.sub)
    services.mfa.disable(citizen.sub, code(secret, clock))
    assert not services.mfa.has_totp(citizen.sub)
    assert services.mfa.status(citizen.sub).recovery_codes_left == 0
    assert tags(services, "mfa:totp:disable") == ["mfa:totp:disable"]


def test_secret_and_recovery_codes_are_not_stored_in_clear(services, citizen, clock):
    secret, codes = enrolled(services, citizen, clock)
    with services.engine.connect() as conn:
        rows = [repr(tuple(r)) for table in ("mfa_factors", "mfa_recovery_codes", "audit_events")
                for r in conn.execute(text(f"SELECT * FROM {table}"))]  # noqa: S608
        blobs = [bytes(r[0]) for r in conn.execute(text("SELECT secret_enc FROM mfa_factors"))]
    dump = "\n".join(rows)
    for value in (secret, secret.lower(), *codes, *(c.replace("-", "") for c in codes)):
        assert value not in dump
    assert all(secret.encode() not in blob for blob in blobs)
