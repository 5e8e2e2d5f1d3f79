"""Step-up to L2 with an SMS code through the Flask test client: a citizen without TOTP, one
with TOTP choosing SMS instead, a wrong code, the resend limit on the page, a gateway outage.
The carrier is the edge we do not own: a recording gateway stands in for it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from idp.accounts.sms_codes import SmsCodeService
from idp.container import build_services
from tests.accounts.test_sms import RecordingGateway
from tests.factories import make_citizen, make_client
from tests.fixtures.services import FakeClock
from tests.oidc.test_step_up import enrol, id_token_claims, path
from tests.web.test_account_centre import EN, sign_in
from tests.web.test_pages import csrf
from tests.web.test_session_limits import authorize


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def gateway():
    return RecordingGateway()


@pytest.fixture
def services(settings, clock, gateway):
    svc = build_services(settings, create_keys=True, clock=clock)
    svc.keys.ensure_keys()
    svc.sms = SmsCodeService(svc.ephemeral, gateway, audit=svc.audit, settings=settings.sms)
    yield svc
    svc.close()


@pytest.fixture
def citizen(services):
    return make_citizen(services, tel="13800138000")


@pytest.fixture
def portal(services):
    return make_client(services, skip_consent=True)


def to_verify_page(client, portal, **extra):
    resp, verifier = authorize(client, portal, acr_values="L2", **extra)
    assert path(resp) == "/login/verify"
    return resp.headers["Location"], verifier


def send_code(client, verify_url):
    page = client.get(verify_url, headers=EN)
    next_url = parse_qs(urlsplit(verify_url).query)["next"][0]
    return client.post("/login/verify", headers=EN, data={
        "csrf_token": csrf(page), "next": next_url, "action": "send_sms"}), next_url


def enter_code(client, verify_url, next_url, code):
    page = client.get(verify_url, headers=EN)
    assert 'name="sms_code"' in page.get_data(as_text=True)
    return client.post("/login/verify", headers=EN, data={
        "csrf_token": csrf(page), "next": next_url, "sms_code": code})


def test_sms_steps_a_citizen_without_totp_up_to_l2(services, client, citizen, portal, clock,
                                                    gateway):
    sign_in(client, citizen)
    [session] = services.sso.for_account(citizen.sub)
    assert session.acr == "L1"
    clock.advance(5)
    verify_url, verifier = to_verify_page(client, portal)
    page = client.get(verify_url, headers=EN).get_data(as_text=True)
    assert "Send a code to 138****8000" in page
    assert 'name="password"' not in page and 'name="code"' not in page
    assert "13800138000" not in page
    sent, next_url = send_code(client, verify_url)
    assert path(sent) == "/login/verify"
    [(phone, _)] = gateway.sent
    assert phone == "13800138000"
    assert "A code was sent to 138****8000" in client.get(verify_url, headers=EN).get_data(
        as_text=True)
    done = enter_code(client, verify_url, next_url, gateway.last_code)
    assert done.status_code == 302 and urlsplit(done.headers["Location"]).path == "/authorize"
    back = client.get(done.headers["Location"], headers=EN)
    claims = id_token_claims(client, portal, back, verifier)
    assert claims["acr"] == "L2" and claims["amr"] == ["pwd", "sms"]
    assert claims["auth_time"] == int(clock.now)
    [after] = services.sso.for_account(citizen.sub)
    assert after.sid == session.sid and after.acr == "L2"
    # The code is single use: entering it again is refused.
    again = client.post("/login/verify", headers=EN, data={
        "csrf_token": csrf(client.get(verify_url, headers=EN)), "next": next_url,
        "sms_code": gateway.last_code})
    assert again.status_code == 401 and "expired or was already used" in again.get_data(
        as_text=True)


def test_a_citizen_with_totp_may_use_sms_instead(services, client, citizen, portal, clock,
                                                 gateway):
    enrol(services, citizen, clock)
    sign_in(client, citizen)
    verify_url, verifier = to_verify_page(client, portal)
    page = client.get(verify_url, headers=EN).get_data(as_text=True)
    assert 'name="code"' in page and "Or use a text message" in page
    _, next_url = send_code(client, verify_url)
    done = enter_code(client, verify_url, next_url, gateway.last_code)
    back = client.get(done.headers["Location"], headers=EN)
    assert id_token_claims(client, portal, back, verifier)["amr"] == ["pwd", "sms"]


def test_a_wrong_sms_code_keeps_the_session_at_l1(services, client, citizen, portal, gateway):
    sign_in(client, citizen)
    verify_url, _ = to_verify_page(client, portal)
    _, next_url = send_code(client, verify_url)
    good = gateway.last_code
    done = enter_code(client, verify_url, next_url, f"{(int(good) + 1) % 1_000_000:06d}")
    assert done.status_code == 401 and "not correct" in done.get_data(as_text=True)
    [session] = services.sso.for_account(citizen.sub)
    assert session.acr == "L1" and session.amr == ["pwd"]


def test_the_resend_limit_on_the_page(services, client, citizen, portal, gateway):
    sign_in(client, citizen)
    verify_url, _ = to_verify_page(client, portal)
    send_code(client, verify_url)
    again, _ = send_code(client, verify_url)
    assert again.status_code == 429 and 55 <= int(again.headers["Retry-After"]) <= 60
    assert "You can ask for a new one in" in again.get_data(as_text=True)
    assert len(gateway.sent) == 1


def test_a_gateway_outage_is_explained(services, client, citizen, portal, gateway):
    gateway.fail = True
    sign_in(client, citizen)
    verify_url, _ = to_verify_page(client, portal)
    resp, _ = send_code(client, verify_url)
    assert resp.status_code == 503
    assert "could not be sent" in resp.get_data(as_text=True)


def test_sending_needs_the_csrf_token(services, client, citizen, portal, gateway):
    sign_in(client, citizen)
    verify_url, _ = to_verify_page(client, portal)
    resp = client.post("/login/verify", headers=EN, data={"action": "send_sms", "next": "/"})
    assert resp.status_code == 400
    assert gateway.sent == []
