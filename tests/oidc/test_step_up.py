"""Step-up to L2 with the TOTP second factor through the Flask test client: acr_values, the
channel's min_acr, the claims parameter's essential acr, prompt=none, a citizen with no second
factor — and the ID token telling what was achieved."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from idp.accounts.sms_codes import SmsCodeService
from idp.container import build_services
from tests.factories import make_citizen, make_client
from tests.fixtures.listener import jwt_parts
from tests.web.test_account_centre import EN, sign_in
from tests.web.test_pages import csrf
from tests.web.test_session_limits import authorize, redirect_params, token_request

ESSENTIAL_L2 = json.dumps({"id_token": {"acr": {"essential": True, "values": ["L2"]}}})


@pytest.fixture
def services(clocked_services):
    return clocked_services


@pytest.fixture
def citizen(services):
    return make_citizen(services)


@pytest.fixture
def portal(services):
    return make_client(services, skip_consent=True)


@pytest.fixture
def no_sms(services):
    """``[sms] backend = "none"``: a citizen without TOTP has no second factor."""
    services.sms = SmsCodeService(services.ephemeral, None, audit=services.audit,
                                  settings=services.settings.sms)


def enrol(services, citizen, clock):
    """A confirmed TOTP factor; returns (secret, recovery codes)."""
    enrolment = services.mfa.enrol(citizen.sub, label="masked")
    codes = services.mfa.confirm(citizen.sub, pyotp.TOTP(enrolment.secret).at(clock.now))
    clock.advance(30)
    return enrolment.secret, codes


def path(resp):
    assert resp.status_code == 302, resp.status_code
    return urlsplit(resp.headers["Location"]).path


def second_factor(browser, resp, code):
    """Follow the redirect to /login/verify, submit ``code``; returns the POST's response."""
    assert path(resp) == "/login/verify"
    page = browser.get(resp.headers["Location"], headers=EN)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="code"' in html and 'name="password"' not in html
    next_url = urlsplit(resp.headers["Location"])
    return browser.post("/login/verify", headers=EN, data={
        "csrf_token": csrf(page), "code": code, "next": parse_qs(next_url.query)["next"][0]})


def id_token_claims(browser, rp, resp, verifier):
    code = redirect_params(resp)["code"]
    tokens = token_request(browser, rp, grant_type="authorization_code", code=code,
                           redirect_uri=rp.redirect_uri, code_verifier=verifier)
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    return jwt_parts(tokens.get_json()["id_token"])[1]


def step_up_flow(services, client, citizen, portal, clock, **extra):
    secret, _ = enrol(services, citizen, clock)
    sign_in(client, citizen)
    [session] = services.sso.for_account(citizen.sub)
    assert session.acr == "L1"
    clock.advance(5)
    resp, verifier = authorize(client, portal, **extra)
    done = second_factor(client, resp, pyotp.TOTP(secret).at(clock.now))
    assert done.status_code == 302
    back = client.get(done.headers["Location"], headers=EN)  # to /authorize again
    claims = id_token_claims(client, portal, back, verifier)
    assert claims["acr"] == "L2"
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["auth_time"] == int(clock.now)  # the step-up is an authentication event
    [after] = services.sso.for_account(citizen.sub)
    assert after.sid == session.sid and after.acr == "L2"  # the same session, stepped up
    return claims


def test_acr_values_l2_steps_up_without_the_password(services, client, citizen, portal, clock):
    step_up_flow(services, client, citizen, portal, clock, acr_values="L2")
    tags = [e.tag for e in services.audit.events(tag="mfa:totp:verify", limit=10)]
    assert tags == ["mfa:totp:verify:success"]


def test_essential_acr_claim_steps_up(services, client, citizen, portal, clock):
    step_up_flow(services, client, citizen, portal, clock, claims=ESSENTIAL_L2)


def test_a_recovery_code_steps_up_too(services, client, citizen, portal, clock):
    _, codes = enrol(services, citizen, clock)
    sign_in(client, citizen)
    resp, verifier = authorize(client, portal, acr_values="L2")
    done = second_factor(client, resp, codes[0])
    back = client.get(done.headers["Location"], headers=EN)
    assert id_token_claims(client, portal, back, verifier)["acr"] == "L2"


def test_a_wrong_code_keeps_the_session_at_l1(services, client, citizen, portal, clock):
    secret, _ = enrol(services, citizen, clock)
    sign_in(client, citizen)
    resp, _ = authorize(client, portal, acr_values="L2")
    good = pyotp.TOTP(secret).at(clock.now)
    done = second_factor(client, resp, f"{(int(good) + 1) % 1_000_000:06d}")
    assert done.status_code == 401
    assert "not correct" in done.get_data(as_text=True)
    [session] = services.sso.for_account(citizen.sub)
    assert session.acr == "L1" and session.amr == ["pwd"]


def test_the_channel_min_acr_steps_up(make_settings, db_url, clock):
    settings = make_settings(IDP_DATABASE_URL=db_url, IDP_CHANNELS_WEBSITE_MIN_ACR="L2",
                             IDP_SMS_BACKEND="none")
    svc = build_services(settings, create_keys=True, clock=clock)
    svc.keys.ensure_keys()
    try:
        from idp.web import create_app

        app = create_app(settings, svc)
        app.config["TESTING"] = True
        browser = app.test_client()
        citizen = make_citizen(svc)
        step_up_flow(svc, browser, citizen, make_client(svc, skip_consent=True), clock)
        # Without a second factor (and SMS codes off): an explanation at the IdP, and
        # prompt=none an error.
        other = make_citizen(svc)
        second = app.test_client()
        sign_in(second, other)
        portal = make_client(svc, skip_consent=True)
        page = authorize(second, portal)[0]
        assert page.status_code == 403
        assert 'href="/account/security"' in page.get_data(as_text=True)
        assert redirect_params(authorize(second, portal, prompt="none")[0])["error"] == \
            "unmet_authentication_requirements"
    finally:
        svc.close()


def test_voluntary_acr_values_do_not_block_a_citizen_without_a_second_factor(
        services, client, citizen, portal, no_sms):
    sign_in(client, citizen)
    resp, verifier = authorize(client, portal, acr_values="L2 L1")
    assert id_token_claims(client, portal, resp, verifier)["acr"] == "L1"


def test_no_second_factor_essential_acr(services, client, citizen, portal, no_sms):
    sign_in(client, citizen)
    page = authorize(client, portal, claims=ESSENTIAL_L2)[0]
    assert page.status_code == 403
    assert "second factor" in page.get_data(as_text=True)
    error = redirect_params(authorize(client, portal, claims=ESSENTIAL_L2, prompt="none")[0])
    assert error["error"] == "unmet_authentication_requirements"


def test_prompt_none_with_a_second_factor_needs_interaction(
        services, client, citizen, portal, clock):
    enrol(services, citizen, clock)
    sign_in(client, citizen)
    error = redirect_params(authorize(client, portal, claims=ESSENTIAL_L2, prompt="none")[0])
    assert error["error"] == "interaction_required"
    # Voluntary only: prompt=none issues what was achieved.
    resp, verifier = authorize(client, portal, acr_values="L2", prompt="none")
    assert id_token_claims(client, portal, resp, verifier)["acr"] == "L1"


def test_an_essential_level_that_cannot_be_reached_is_unmet(services, client, citizen, portal):
    sign_in(client, citizen)
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["L4"]}}})
    error = redirect_params(authorize(client, portal, claims=claims)[0])
    assert error["error"] == "unmet_authentication_requirements"


@pytest.mark.parametrize("claims", [
    "{not json",
    "[]",
    json.dumps({"id_token": {"acr": {"essential": "yes"}}}),
    json.dumps({"id_token": {"acr": {"values": "L2"}}}),
])
def test_malformed_claims_is_invalid_request(services, client, citizen, portal, claims):
    sign_in(client, citizen)
    error = redirect_params(authorize(client, portal, claims=claims)[0])
    assert error["error"] == "invalid_request"


def test_discovery_lists_the_reachable_levels(client):
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert metadata["acr_values_supported"] == ["L1", "L2", "L3", "L4"]  # face "local"; L4: counter


def test_the_verify_page_needs_a_signed_in_citizen(client):
    resp = client.get("/login/verify?next=/authorize%3Fx%3D1")
    assert path(resp) == "/login"
