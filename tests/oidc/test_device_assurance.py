"""The counter's device sign-ins and assurance levels (docs/assurance.md): the counter
channel's ``min_acr`` is honoured at approval — a browser below it steps up first, without the
password — and a clerk's check of the physical ID card (``id_card_number`` + ``clerk_id`` from
a client staff allowed it) gives the terminal's tokens L4, for the card holder only."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from idp.container import build_services
from tests.factories import id_number, make_citizen, make_client
from tests.fixtures.listener import jwt_parts
from tests.fixtures.services import FakeClock
from tests.oidc.test_step_up import enrol
from tests.web.test_account_centre import EN, sign_in
from tests.web.test_pages import csrf

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def clock():
    return FakeClock()


def _services(make_settings, db_url, clock, **env):
    svc = build_services(make_settings(IDP_DATABASE_URL=db_url, **env), create_keys=True,
                         clock=clock)
    svc.keys.ensure_keys()
    return svc


def _app(svc):
    from idp.web import create_app

    app = create_app(svc.settings, svc)
    app.config["TESTING"] = True
    return app


def _basic(rp):
    return {"Authorization": "Basic " + base64.b64encode(
        f"{rp.client_id}:{rp.secret}".encode()).decode()}


def start(http, rp, **params):
    return http.post("/device_authorization", headers=_basic(rp),
                     data={"scope": "openid", **params})


def poll(http, rp, device_code):
    return http.post("/token", headers=_basic(rp),
                     data={"grant_type": DEVICE, "device_code": device_code})


def approve_in_browser(browser, user_code):
    """Enter the code, allow on the confirmation page; returns the final response."""
    page = browser.get("/device", query_string={"user_code": user_code}, headers=EN)
    confirm = browser.post("/device", headers=EN,
                           data={"csrf_token": csrf(page), "user_code": user_code})
    assert confirm.status_code == 200, confirm.status_code
    return browser.post("/device", headers=EN, data={
        "csrf_token": csrf(confirm), "user_code": user_code, "decision": "allow"})


def test_counter_min_acr_l2_steps_the_browser_up_before_it_may_approve(make_settings, db_url,
                                                                        clock):
    svc = _services(make_settings, db_url, clock, IDP_CHANNELS_COUNTER_MIN_ACR="L2")
    try:
        app = _app(svc)
        terminal = make_client(svc, channel="counter")
        citizen = make_citizen(svc)
        secret, _ = enrol(svc, citizen, clock)
        browser = app.test_client()
        sign_in(browser, citizen)
        flow = start(app.test_client(), terminal).get_json()
        page = browser.get("/device", query_string={"user_code": flow["user_code"]},
                           headers=EN)
        sent = browser.post("/device", headers=EN, data={"csrf_token": csrf(page),
                                                         "user_code": flow["user_code"]})
        # Below L2: off to the second factor (not the password), then back to /device.
        assert sent.status_code == 302
        where = urlsplit(sent.headers["Location"])
        assert where.path == "/login/verify"
        back_to = parse_qs(where.query)["next"][0]
        assert back_to.startswith("/device?user_code=")
        assert poll(app.test_client(), terminal, flow["device_code"]).get_json()["error"] == \
            "authorization_pending"
        verify_page = browser.get(sent.headers["Location"], headers=EN)
        done = browser.post("/login/verify", headers=EN, data={
            "csrf_token": csrf(verify_page), "code": pyotp.TOTP(secret).at(clock.now),
            "next": back_to})
        assert done.status_code == 302 and done.headers["Location"] == back_to
        assert approve_in_browser(browser, flow["user_code"]).status_code == 200
        tokens = poll(app.test_client(), terminal, flow["device_code"]).get_json()
        claims = jwt_parts(tokens["id_token"])[1]
        assert (claims["acr"], claims["amr"]) == ("L2", ["pwd", "otp"])
    finally:
        svc.close()


def test_a_citizen_who_cannot_reach_the_level_is_told_and_nothing_is_approved(
        make_settings, db_url, clock):
    svc = _services(make_settings, db_url, clock, IDP_CHANNELS_COUNTER_MIN_ACR="L2",
                    IDP_SMS_BACKEND="none")
    try:
        app = _app(svc)
        terminal = make_client(svc, channel="counter")
        citizen = make_citizen(svc)  # no TOTP, no SMS: no second factor at all
        browser = app.test_client()
        sign_in(browser, citizen)
        flow = start(app.test_client(), terminal).get_json()
        refused = approve_in_browser(browser, flow["user_code"])
        assert refused.status_code == 403
        assert "higher assurance level" in refused.get_data(as_text=True)
        assert poll(app.test_client(), terminal, flow["device_code"]).get_json()["error"] == \
            "authorization_pending"
        assert [e.extra["reason"] for e in svc.audit.events(
            tag="device:authorize:refused", limit=5)] == ["insufficient_acr"]
        # Denying is always possible.
        page = browser.get("/device", query_string={"user_code": flow["user_code"]},
                           headers=EN)
        denied = browser.post("/device", headers=EN, data={
            "csrf_token": csrf(page), "user_code": flow["user_code"], "decision": "deny"})
        assert denied.status_code == 200
        assert poll(app.test_client(), terminal, flow["device_code"]).get_json()["error"] == \
            "access_denied"
    finally:
        svc.close()


@pytest.fixture
def counter(make_settings, db_url, clock):
    svc = _services(make_settings, db_url, clock)
    app = _app(svc)
    terminal = make_client(svc, channel="counter")
    svc.clients.set_in_person_allowed(terminal.client_id, True)
    yield svc, app, terminal
    svc.close()


def test_in_person_check_gives_the_card_holder_l4(counter):
    svc, app, terminal = counter
    citizen = make_citizen(svc)
    flow = start(app.test_client(), terminal, id_card_number=citizen.id_number,
                 clerk_id="窗口 07 / clerk-1024")
    assert flow.status_code == 200, flow.get_data(as_text=True)
    flow = flow.get_json()
    # Someone else, signed in, cannot approve it.
    intruder = app.test_client()
    sign_in(intruder, make_citizen(svc))
    assert approve_in_browser_page(intruder, flow["user_code"]).status_code == 403
    browser = app.test_client()
    sign_in(browser, citizen)  # L1 in the browser; the clerk's check supplies L4
    assert approve_in_browser(browser, flow["user_code"]).status_code == 200
    tokens = poll(app.test_client(), terminal, flow["device_code"]).get_json()
    claims = jwt_parts(tokens["id_token"])[1]
    assert (claims["acr"], claims["amr"]) == ("L4", ["pwd", "ipv"])
    introspected = app.test_client().post("/introspect", headers=_basic(terminal), data={
        "token": tokens["access_token"]}).get_json()
    assert introspected["acr"] == "L4"
    [event] = svc.audit.events(tag="identity:in_person:verified", limit=5)
    assert event.actor == "窗口 07 / clerk-1024" and event.client_id == terminal.client_id
    assert citizen.id_number not in str(vars(event))


def approve_in_browser_page(browser, user_code):
    page = browser.get("/device", query_string={"user_code": user_code}, headers=EN)
    return browser.post("/device", headers=EN,
                        data={"csrf_token": csrf(page), "user_code": user_code})


@pytest.mark.parametrize(("params", "error"), [
    ({"clerk_id": "clerk-1"}, "invalid_request"),  # no id_card_number
    ({"id_card_number": "VALID"}, "invalid_request"),  # no clerk_id
    ({"id_card_number": "110101199003077777", "clerk_id": "c"}, "invalid_request"),  # check digit
    ({"id_card_number": "VALID", "clerk_id": "x" * 65}, "invalid_request"),
    ({"id_card_number": "VALID", "clerk_id": "a\nb"}, "invalid_request"),
    ({"id_card_number": "VALID", "clerk_id": "c", "login_hint": "OTHER"}, "invalid_request"),
])
def test_bad_in_person_parameters_are_refused_and_nothing_started(counter, params, error,
                                                                 monkeypatch):
    svc, app, terminal = counter
    citizen, other = make_citizen(svc), make_citizen(svc)
    params = {k: {"VALID": citizen.id_number, "OTHER": other.id_number}.get(v, v)
              for k, v in params.items()}
    started = []
    real_start = svc.device.start
    monkeypatch.setattr(svc.device, "start", lambda *a, **kw: started.append(kw) or
                        real_start(*a, **kw))
    resp = start(app.test_client(), terminal, **params)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["error"] == error and body["error_description"]
    assert "device_code" not in body and started == []  # no authorization was stored
    assert citizen.id_number not in body["error_description"]
    # The same terminal with good parameters does start one (the spy sees it).
    assert start(app.test_client(), terminal).status_code == 200 and len(started) == 1


def test_only_clients_staff_allowed_may_attest_a_check(counter):
    svc, app, terminal = counter
    citizen = make_citizen(svc)
    svc.clients.set_in_person_allowed(terminal.client_id, False)
    resp = start(app.test_client(), terminal, id_card_number=citizen.id_number, clerk_id="c")
    assert resp.get_json()["error"] == "unauthorized_client"
    assert "allow-in-person" in resp.get_json()["error_description"]


def test_a_counter_channel_at_l4_needs_the_check(make_settings, db_url, clock):
    svc = _services(make_settings, db_url, clock, IDP_CHANNELS_COUNTER_MIN_ACR="L4")
    try:
        app = _app(svc)
        terminal = make_client(svc, channel="counter")
        resp = start(app.test_client(), terminal)
        assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"
        assert "L4" in resp.get_json()["error_description"]
        svc.clients.set_in_person_allowed(terminal.client_id, True)
        ok = start(app.test_client(), terminal, id_card_number=id_number(), clerk_id="c")
        assert ok.status_code == 200  # a card of nobody registered: nobody can approve it
    finally:
        svc.close()


def test_a_pairwise_counter_gets_its_own_sector_sub(counter):
    """A counter client with pairwise subjects: the device grant's ID and access tokens carry
    its sector's sub, not the account id nor a website sector's."""
    svc, app, _ = counter
    terminal = make_client(svc, channel="counter", subject_type="pairwise",
                           redirect_uri="https://counter.example.gov.cn/callback")
    website = make_client(svc, subject_type="pairwise", skip_consent=True,
                          redirect_uri="https://tax.example.gov.cn/callback")
    citizen = make_citizen(svc)
    flow = start(app.test_client(), terminal).get_json()
    browser = app.test_client()
    sign_in(browser, citizen)
    assert approve_in_browser(browser, flow["user_code"]).status_code == 200
    tokens = poll(app.test_client(), terminal, flow["device_code"]).get_json()
    id_sub = jwt_parts(tokens["id_token"])[1]["sub"]
    access_sub = jwt_parts(tokens["access_token"])[1]["sub"]
    terminal_record = svc.clients.get(terminal.client_id)
    website_record = svc.clients.get(website.client_id)
    assert id_sub == access_sub == svc.subjects.sub_for(citizen.sub, terminal_record)
    assert id_sub != citizen.sub
    assert id_sub != svc.subjects.sub_for(citizen.sub, website_record)
