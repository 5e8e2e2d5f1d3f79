"""Passkeys (idp.accounts.passkeys) with a software authenticator, on SQLite and PostgreSQL:
registration, assertion, each bad input refused with nothing written, single-use challenges,
another account's credential, sign-counter regression, throttle, removal."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from idp.errors import AuthenticationFailed, NotFound, RateLimited, ValidationError
from idp.store.models import Passkey
from tests.factories import make_citizen
from tests.fixtures.soft_authenticator import SoftAuthenticator, b64url, unb64url

LABEL = "1101**********002X"
ORIGIN = "http://localhost:5000"  # the test settings' issuer


@pytest.fixture
def citizen(services):
    return make_citizen(services)


@pytest.fixture
def authenticator():
    return SoftAuthenticator(ORIGIN)


def rows(services):
    with services.sessions() as session:
        return session.scalar(select(func.count()).select_from(Passkey))


def counts(services):
    with services.sessions() as session:
        return [(p.sign_count, p.last_used_at) for p in session.scalars(select(Passkey))]


def tags(services, prefix):
    return [e.tag for e in services.audit.events(tag=prefix, limit=100)]


def registered(services, citizen, authenticator, name="My phone"):
    options = services.passkeys.registration_options(citizen.sub, LABEL)
    return services.passkeys.finish_registration(
        citizen.sub, authenticator.register(options), name)


def test_registration_options(services, citizen):
    options = services.passkeys.registration_options(citizen.sub, LABEL)
    assert options["rp"] == {"id": "localhost", "name": "一网通办"}
    assert options["user"]["name"] == LABEL and options["user"]["displayName"] == LABEL
    handle = unb64url(options["user"]["id"])
    assert len(handle) == 32 and citizen.sub.encode() not in handle
    assert citizen.id_number not in json.dumps(options)
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -257]
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["attestation"] == "none" and options["excludeCredentials"] == []


def test_register_and_authenticate(services, citizen, authenticator):
    info = registered(services, citizen, authenticator, name="  My   phone ")
    assert info.name == "My phone" and info.transports == ["internal"]
    assert services.passkeys.has_any(citizen.sub)
    [listed] = services.passkeys.list(citizen.sub)
    assert listed.id == info.id and listed.last_used_at is None
    assert tags(services, "mfa:passkey:register") == ["mfa:passkey:register"]

    again = services.passkeys.registration_options(citizen.sub, LABEL)
    assert again["excludeCredentials"][0]["id"] == b64url(authenticator.credentials[0].id)
    # the same user handle for every passkey of the account
    assert unb64url(again["user"]["id"]) == authenticator.credentials[0].user_handle

    options = services.passkeys.authentication_options(citizen.sub)
    assert [c["id"] for c in options["allowCredentials"]] == [
        b64url(authenticator.credentials[0].id)]
    assert options["rpId"] == "localhost"
    used = services.passkeys.finish_authentication(citizen.sub,
                                                   authenticator.assertion(options))
    assert used.id == info.id
    assert counts(services)[0][0] == 1 and counts(services)[0][1] is not None
    assert tags(services, "mfa:passkey:verify") == ["mfa:passkey:verify:success"]


def test_a_passkey_needs_a_name(services, citizen, authenticator):
    options = services.passkeys.registration_options(citizen.sub, LABEL)
    response = authenticator.register(options)
    for name in ("", "   ", "x" * 65):
        with pytest.raises(ValidationError):
            services.passkeys.finish_registration(citizen.sub, response, name)
    assert rows(services) == 0
    # the challenge was not spent on a bad name: the same response registers
    services.passkeys.finish_registration(citizen.sub, response, "x" * 64)
    assert rows(services) == 1


@pytest.mark.parametrize("tamper", [
    {"challenge": b64url(b"another challenge, not ours")},
    {"origin": "http://evil.example"},
    {"rp_id": "evil.example"},
])
def test_bad_registrations_write_nothing(services, citizen, authenticator, tamper):
    options = services.passkeys.registration_options(citizen.sub, LABEL)
    with pytest.raises(ValidationError):
        services.passkeys.finish_registration(citizen.sub,
                                              authenticator.register(options, **tamper), "k")
    assert rows(services) == 0
    [event] = services.audit.events(tag="mfa:passkey:register:failure", limit=10)
    assert event.extra["reason"] in ("challenge", "origin", "rp_id")


def test_malformed_registration_and_replayed_challenge(services, citizen, authenticator):
    for bad in ("not json", {}, {"id": "x", "rawId": "x", "response": {}}, []):
        with pytest.raises(ValidationError):
            services.passkeys.finish_registration(citizen.sub, bad, "k")
    with pytest.raises(ValidationError):  # no options asked for: no challenge
        services.passkeys.finish_registration(
            citizen.sub, authenticator.register({"rp": {"id": "localhost"},
                                                 "user": {"id": b64url(b"h")},
                                                 "challenge": b64url(b"c")}), "k")
    options = services.passkeys.registration_options(citizen.sub, LABEL)
    response = authenticator.register(options)
    services.passkeys.finish_registration(citizen.sub, response, "k")
    with pytest.raises(ValidationError):  # the challenge was single use
        services.passkeys.finish_registration(citizen.sub, response, "k")
    assert rows(services) == 1


@pytest.mark.parametrize("tamper, reason", [
    ({"challenge": b64url(b"another challenge, not ours")}, "challenge"),
    ({"origin": "http://evil.example"}, "origin"),
    ({"rp_id": "evil.example"}, "rp_id"),
    ({"bad_signature": True}, "bad_signature"),
    ({"user_handle": b"someone else"}, "unknown_credential"),
])
def test_bad_assertions_are_refused_and_write_nothing(services, citizen, authenticator,
                                                     tamper, reason):
    registered(services, citizen, authenticator)
    before = counts(services)
    options = services.passkeys.authentication_options(citizen.sub)
    with pytest.raises(AuthenticationFailed):
        services.passkeys.finish_authentication(citizen.sub,
                                                authenticator.assertion(options, **tamper))
    assert counts(services) == before and rows(services) == 1
    [event] = services.audit.events(tag="mfa:passkey:verify:failure", limit=10)
    assert event.extra["reason"] == reason and event.extra["failures"] == 1
    assert not tags(services, "mfa:passkey:verify:success")


def test_malformed_assertions_are_refused(services, citizen, authenticator):
    registered(services, citizen, authenticator)
    for bad in ("{", {}, {"id": 1}, {"id": "a", "rawId": "a", "response": {
            "clientDataJSON": "!!", "authenticatorData": "", "signature": ""}}):
        services.passkeys.authentication_options(citizen.sub)
        with pytest.raises(AuthenticationFailed):
            services.passkeys.finish_authentication(citizen.sub, bad)
    assert counts(services)[0][0] == 0


def test_an_assertion_is_accepted_once(services, citizen, authenticator):
    registered(services, citizen, authenticator)
    options = services.passkeys.authentication_options(citizen.sub)
    assertion = authenticator.assertion(options)
    services.passkeys.finish_authentication(citizen.sub, assertion)
    with pytest.raises(AuthenticationFailed):
        services.passkeys.finish_authentication(citizen.sub, assertion)
    services.passkeys.authentication_options(citizen.sub)  # a new challenge: still not this one
    with pytest.raises(AuthenticationFailed):
        services.passkeys.finish_authentication(citizen.sub, assertion)
    reasons = [e.extra["reason"] for e in
               services.audit.events(tag="mfa:passkey:verify:failure", limit=10)]
    assert reasons == ["challenge", "challenge"]
    assert counts(services)[0][0] == 1


def test_another_accounts_credential_is_refused(services, citizen, authenticator):
    other = make_citizen(services)
    registered(services, citizen, authenticator)
    mine = authenticator.credentials[0]
    theirs = SoftAuthenticator(ORIGIN)
    registered(services, other, theirs)
    options = services.passkeys.authentication_options(other.sub)
    # a valid signature from this citizen's key, offered for the other account
    with pytest.raises(AuthenticationFailed):
        services.passkeys.finish_authentication(
            other.sub, authenticator.assertion(options, credential=mine,
                                               user_handle=theirs.credentials[0].user_handle))
    [event] = services.audit.events(tag="mfa:passkey:verify:failure", limit=10)
    assert event.subject == other.sub and event.extra["reason"] == "unknown_credential"
    with pytest.raises(NotFound):
        services.passkeys.authentication_options(make_citizen(services).sub)


def test_a_sign_count_regression_is_refused_and_audited(services, citizen, authenticator):
    registered(services, citizen, authenticator)
    for _ in range(3):
        options = services.passkeys.authentication_options(citizen.sub)
        services.passkeys.finish_authentication(citizen.sub, authenticator.assertion(options))
    assert counts(services)[0][0] == 3
    for presented in (3, 2, 0):  # a copy of the key that lags behind
        options = services.passkeys.authentication_options(citizen.sub)
        with pytest.raises(AuthenticationFailed):
            services.passkeys.finish_authentication(
                citizen.sub, authenticator.assertion(options, sign_count=presented))
    assert counts(services)[0][0] == 3
    events = services.audit.events(tag="mfa:passkey:verify:failure", limit=10)
    assert [(e.extra["reason"], e.extra["stored"], e.extra["presented"]) for e in events] == [
        ("sign_count", 3, 0), ("sign_count", 3, 2), ("sign_count", 3, 3)]


def test_an_authenticator_without_a_counter_is_accepted(services, citizen):
    authenticator = SoftAuthenticator(ORIGIN, counter_step=0)  # synced passkeys: always 0
    registered(services, citizen, authenticator)
    for _ in range(2):
        options = services.passkeys.authentication_options(citizen.sub)
        services.passkeys.finish_authentication(citizen.sub, authenticator.assertion(options))
    assert counts(services)[0][0] == 0


def test_failures_share_the_second_factor_throttle(services, citizen, authenticator):
    registered(services, citizen, authenticator)
    limit = services.settings.ratelimit.account_failures
    for _ in range(limit):
        options = services.passkeys.authentication_options(citizen.sub)
        with pytest.raises(AuthenticationFailed):
            services.passkeys.finish_authentication(
                citizen.sub, authenticator.assertion(options, bad_signature=True))
    with pytest.raises(RateLimited):
        services.passkeys.authentication_options(citizen.sub)
    with pytest.raises(RateLimited):  # a good assertion is not even looked at
        services.passkeys.finish_authentication(citizen.sub, {})
    with pytest.raises(RateLimited):  # the same window as TOTP codes
        services.mfa.verify(citizen.sub, "123456")
    assert counts(services)[0][0] == 0


def test_remove(services, citizen, authenticator):
    other = make_citizen(services)
    info = registered(services, citizen, authenticator)
    with pytest.raises(NotFound):
        services.passkeys.remove(other.sub, info.id)
    assert rows(services) == 1
    services.passkeys.remove(citizen.sub, info.id)
    assert rows(services) == 0 and not services.passkeys.has_any(citizen.sub)
    assert tags(services, "mfa:passkey:remove") == ["mfa:passkey:remove"]
    with pytest.raises(NotFound):
        services.passkeys.remove(citizen.sub, info.id)
