"""Step-up to L3 (face verification) through the Flask test client, with the development
stand-in (``[face] backend = "local"``) as the face service: an L1 session asked for L3 goes
through the second factor first, then the face page, the stand-in's capture page and back —
and the ID token tells ``acr`` L3 with ``amr`` pwd + the second factor + face."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from idp.accounts.face import HttpFaceVerifier
from idp.accounts.face_checks import FaceCheckService
from idp.container import build_services
from tests.factories import make_citizen, make_client
from tests.fixtures.server import free_port
from tests.oidc.test_step_up import enrol, id_token_claims, path, second_factor
from tests.web.test_account_centre import EN, sign_in
from tests.web.test_pages import csrf
from tests.web.test_session_limits import authorize, redirect_params

ESSENTIAL_L3 = json.dumps({"id_token": {"acr": {"essential": True, "values": ["L3"]}}})


@pytest.fixture
def services(clocked_services):
    return clocked_services


@pytest.fixture
def citizen(services):
    return make_citizen(services, name="刘实人")


@pytest.fixture
def portal(services):
    return make_client(services, skip_consent=True)


def local(url: str) -> str:
    """The path and query of an absolute URL of this IdP (the test client's requests)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def follow(browser, resp):
    """Follow redirects inside the IdP; the first page, or the redirect that leaves it."""
    while resp.status_code == 302 and not resp.headers["Location"].startswith("https://portal"):
        resp = browser.get(local(resp.headers["Location"]), headers=EN)
    return resp


def to_l2_by_totp(services, browser, citizen, portal, clock):
    """Sign in (L1), ask for L3: the second factor first. Returns (face page, verifier)."""
    secret, _ = enrol(services, citizen, clock)
    sign_in(browser, citizen)
    resp, verifier = authorize(browser, portal, claims=ESSENTIAL_L3)
    assert path(resp) == "/login/verify"  # L1 → L2 first, one level at a time
    done = second_factor(browser, resp, pyotp.TOTP(secret).at(clock.now))
    page = follow(browser, done)
    assert page.request.path == "/login/face", page.status_code
    return page, verifier


def capture(browser, face_page, outcome: str):
    """Start the check on the face page, choose ``outcome`` on the stand-in's page; returns
    (the response at the return URL, the check id)."""
    next_url = re.search(r'name="next" value="([^"]*)"', face_page.get_data(as_text=True))
    assert next_url is not None
    started = browser.post("/login/face", headers=EN, data={
        "csrf_token": csrf(face_page), "next": next_url.group(1).replace("&amp;", "&")})
    assert started.status_code == 302
    dev_url = local(started.headers["Location"])
    assert dev_url.startswith("/dev/face/")
    dev_page = browser.get(dev_url, headers=EN)
    assert dev_page.status_code == 200
    back = browser.post(dev_url, headers=EN, data={"csrf_token": csrf(dev_page),
                                                   "outcome": outcome})
    assert back.status_code == 302
    check = parse_qs(urlsplit(back.headers["Location"]).query)["check"][0]
    return browser.get(local(back.headers["Location"]), headers=EN), check


def test_l1_to_l3_by_totp_then_face(services, client, citizen, portal, clock):
    page, verifier = to_l2_by_totp(services, client, citizen, portal, clock)
    html = page.get_data(as_text=True)
    assert "requires assurance level L3: verify your face" in html
    [session] = services.sso.for_account(citizen.sub)
    assert session.acr == "L2"
    clock.advance(7)
    back, _ = capture(client, page, "match")
    claims = id_token_claims(client, portal, follow(client, back), verifier)
    assert claims["acr"] == "L3"
    assert claims["amr"] == ["pwd", "otp", "face"]
    assert claims["auth_time"] == int(clock.now)  # the step-up is an authentication event
    [after] = services.sso.for_account(citizen.sub)
    assert after.sid == session.sid and after.acr == "L3"
    tags = [e.tag for e in reversed(services.audit.events(tag="face:verify", limit=10))]
    assert tags == ["face:verify:start", "face:verify:success"]


def test_l1_to_l3_by_sms_then_face(services, client, citizen, portal, caplog):
    sign_in(client, citizen)
    resp, verifier = authorize(client, portal, claims=ESSENTIAL_L3)
    page = client.get(resp.headers["Location"], headers=EN)
    next_url = parse_qs(urlsplit(resp.headers["Location"]).query)["next"][0]
    with caplog.at_level(logging.INFO, logger="idp.accounts.sms"):
        sent = client.post("/login/verify", headers=EN, data={
            "csrf_token": csrf(page), "action": "send_sms", "next": next_url})
    assert sent.status_code == 302
    code = re.search(r"验证码 (\d{6})", caplog.text).group(1)
    done = client.post("/login/verify", headers=EN, data={
        "csrf_token": csrf(page), "sms_code": code, "next": next_url})
    face_page = follow(client, done)
    assert face_page.request.path == "/login/face"
    back, _ = capture(client, face_page, "match")
    claims = id_token_claims(client, portal, follow(client, back), verifier)
    assert claims["acr"] == "L3" and claims["amr"] == ["pwd", "sms", "face"]


def test_the_stand_in_shows_the_name_and_the_masked_id_number_only(
        services, client, citizen, portal, clock):
    page, _ = to_l2_by_totp(services, client, citizen, portal, clock)
    started = client.post("/login/face", headers=EN, data={"csrf_token": csrf(page)})
    dev = client.get(local(started.headers["Location"]), headers=EN).get_data(as_text=True)
    masked = services.accounts.get(citizen.sub).id_number_masked
    assert "刘实人" in dev and masked in dev and citizen.id_number not in dev
    assert "The face matches" in dev and "It does not match" in dev


def test_a_face_that_does_not_match_stays_at_l2(services, client, citizen, portal, clock):
    page, _ = to_l2_by_totp(services, client, citizen, portal, clock)
    back, check = capture(client, page, "mismatch")
    assert back.status_code == 401
    html = back.get_data(as_text=True)
    assert "did not match" in html and "Try again" in html
    [session] = services.sso.for_account(citizen.sub)
    assert session.acr == "L2" and "face" not in session.amr
    assert services.audit.events(tag="face:verify:failure")[0].extra["reason"] == "no_match"
    # Nothing was issued; the same check cannot be tried again; a new one can.
    again = client.get(f"/login/face/return?check={check}", headers=EN)
    assert again.status_code == 400 and services.sso.for_account(citizen.sub)[0].acr == "L2"
    retry, _ = capture(client, back, "match")
    assert retry.status_code == 302
    assert services.sso.for_account(citizen.sub)[0].acr == "L3"


def test_replayed_forged_and_other_accounts_checks_are_refused(
        app, services, client, citizen, portal, clock):
    page, _ = to_l2_by_totp(services, client, citizen, portal, clock)
    # Another citizen, also at L2, starts a check in their own browser.
    other = make_citizen(services)
    other_browser = app.test_client()
    other_page, _ = to_l2_by_totp(services, other_browser, other, portal, clock)
    started = other_browser.post("/login/face", headers=EN, data={
        "csrf_token": csrf(other_page)})
    dev_url = local(started.headers["Location"])
    dev_page = other_browser.get(dev_url, headers=EN)
    back = other_browser.post(dev_url, headers=EN, data={"csrf_token": csrf(dev_page),
                                                         "outcome": "match"})
    theirs = parse_qs(urlsplit(back.headers["Location"]).query)["check"][0]
    for forged in (theirs, "forged-check-id", ""):
        refused = client.get(f"/login/face/return?check={forged}", headers=EN)
        assert refused.status_code == 400
        assert "expired, was already used" in refused.get_data(as_text=True)
    assert services.sso.for_account(citizen.sub)[0].acr == "L2"
    # The other citizen's check was left for them.
    assert other_browser.get(local(back.headers["Location"]), headers=EN).status_code == 302
    assert services.sso.for_account(other.sub)[0].acr == "L3"
    # Replayed: the same return URL once more.
    replay = other_browser.get(local(back.headers["Location"]), headers=EN)
    assert replay.status_code == 400


def test_the_face_page_needs_l2_first(client, citizen):
    assert path(client.get("/login/face?next=/account")) == "/login"
    sign_in(client, citizen)
    resp = client.get("/login/face?next=/account&client=abc")
    assert path(resp) == "/login/verify"
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query["next"] == ["/account"] and query["client"] == ["abc"]
    assert path(client.get("/login/face/return?check=x&next=/account")) == "/login/verify"


def test_the_start_needs_the_csrf_token(services, client, citizen, portal, clock):
    to_l2_by_totp(services, client, citizen, portal, clock)
    assert client.post("/login/face", headers=EN, data={}).status_code == 400
    assert services.audit.events(tag="face:verify", limit=5) == []


def test_an_unavailable_service_is_a_503_page(services, client, citizen, portal, clock):
    page, _ = to_l2_by_totp(services, client, citizen, portal, clock)
    services.face = FaceCheckService(
        services.ephemeral, HttpFaceVerifier(f"http://127.0.0.1:{free_port()}/b",
                                             f"http://127.0.0.1:{free_port()}/r/{{check_id}}",
                                             timeout=0.5),
        audit=services.audit, settings=services.settings.face,
        reveal_id_number=services.accounts.reveal_id_number)
    resp = client.post("/login/face", headers=EN, data={"csrf_token": csrf(page)})
    assert resp.status_code == 503
    assert "unavailable right now" in resp.get_data(as_text=True)


@pytest.fixture
def make_app(make_settings, db_url, clock):
    built = []

    def _make(**env):
        svc = build_services(make_settings(IDP_DATABASE_URL=db_url, **env), create_keys=True,
                             clock=clock)
        svc.keys.ensure_keys()
        built.append(svc)
        from idp.web import create_app

        app = create_app(svc.settings, svc)
        app.config["TESTING"] = True
        return app, svc

    yield _make
    for svc in built:
        svc.close()


def test_too_many_checks_are_429(make_app, clock):
    app, svc = make_app(IDP_FACE_MAX_CHECKS="1")
    browser = app.test_client()
    page, _ = to_l2_by_totp(svc, browser, make_citizen(svc), make_client(
        svc, skip_consent=True), clock)
    assert browser.post("/login/face", headers=EN,
                        data={"csrf_token": csrf(page)}).status_code == 302
    resp = browser.post("/login/face", headers=EN, data={"csrf_token": csrf(page)})
    assert resp.status_code == 429 and 3500 <= int(resp.headers["Retry-After"]) <= 3600
    assert "Too many face verifications" in resp.get_data(as_text=True)


def test_without_a_face_service_l3_is_not_offered(make_app, clock):
    app, svc = make_app(IDP_FACE_BACKEND="none")
    browser = app.test_client()
    metadata = browser.get("/.well-known/openid-configuration").get_json()
    assert metadata["acr_values_supported"] == ["L1", "L2", "L4"]  # L4: the counter
    citizen = make_citizen(svc)
    portal = make_client(svc, skip_consent=True)
    enrol(svc, citizen, clock)
    sign_in(browser, citizen)
    error = redirect_params(authorize(browser, portal, claims=ESSENTIAL_L3)[0])
    assert error["error"] == "unmet_authentication_requirements"
    assert browser.get("/dev/face/anything").status_code == 404  # no stand-in page
