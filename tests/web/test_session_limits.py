"""Session limits through the Flask test client, on a clock the tests move: the browser idles out
while the app stays signed in, a refresh past the app's absolute limit is refused, ending a session
after its browser idled out still revokes the app's tokens, and a sign-in past
``max_per_account`` ends the oldest session."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, urlsplit

import pytest

from idp.container import build_services
from idp.oidc.grants import SESSION_LIMIT_REACHED
from idp.sessions import session_ref
from tests.e2e.useragent import pkce_pair
from tests.factories import make_citizen, make_client
from tests.fixtures.services import FakeClock
from tests.web.test_account_centre import EN, sign_in
from tests.web.test_pages import csrf

DAY = 86400
APP_REDIRECT = "cn.gov.example.app:/callback"


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def settings(make_settings, db_url):
    return make_settings(IDP_DATABASE_URL=db_url, IDP_SESSION_MAX_PER_ACCOUNT="2")


@pytest.fixture
def services(settings, clock):
    """The suite's services on ``clock`` (the embedded store keeps real time: the records
    outlive these tests by far, and the limits are computed on ``clock``)."""
    svc = build_services(settings, create_keys=True, clock=clock)
    svc.keys.ensure_keys()
    yield svc
    svc.close()


@pytest.fixture
def citizen(services):
    return make_citizen(services)


@pytest.fixture
def app_rp(services):
    return make_client(services, channel="app", redirect_uri=APP_REDIRECT, skip_consent=True)


@pytest.fixture
def portal(services):
    return make_client(services, skip_consent=True)


def authorize(browser, rp, **extra):
    verifier, challenge = pkce_pair()
    resp = browser.get("/authorize", headers=EN, query_string={
        "response_type": "code", "client_id": rp.client_id, "redirect_uri": rp.redirect_uri,
        "scope": "openid offline_access", "state": "st", "code_challenge": challenge,
        "code_challenge_method": "S256", **extra})
    return resp, verifier


def redirect_params(resp):
    assert resp.status_code == 302, resp.status_code
    return dict(parse_qsl(urlsplit(resp.headers["Location"]).query))


def token_request(http, rp, **form):
    headers = {}
    if rp.secret:
        basic = base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    else:
        form["client_id"] = rp.client_id
    return http.post("/token", headers=headers, data=form)


def code_flow(browser, rp):
    """The client's code flow in this (signed-in) browser; returns its tokens."""
    resp, verifier = authorize(browser, rp)
    code = redirect_params(resp)["code"]
    tokens = token_request(browser, rp, grant_type="authorization_code", code=code,
                           redirect_uri=rp.redirect_uri, code_verifier=verifier)
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    assert "refresh_token" in tokens.get_json()
    return tokens.get_json()


def refresh(http, rp, refresh_token):
    return token_request(http, rp, grant_type="refresh_token", refresh_token=refresh_token)


def test_an_idle_browser_signs_in_again_while_the_app_stays_signed_in(
        client, services, clock, citizen, app_rp, portal):
    sign_in(client, citizen)
    app_tokens = code_flow(client, app_rp)
    clock.advance(services.settings.session.idle_ttl + 1)

    assert redirect_params(authorize(client, portal, prompt="none")[0])["error"] == \
        "login_required"
    assert urlsplit(authorize(client, portal)[0].headers["Location"]).path == "/login"
    assert urlsplit(client.get("/account/sessions").headers["Location"]).path == "/login"

    resp = refresh(client, app_rp, app_tokens["refresh_token"])
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["refresh_token"] != app_tokens["refresh_token"]


def test_a_refresh_past_the_apps_absolute_limit_is_refused(
        client, services, clock, citizen, app_rp):
    sign_in(client, citizen)
    tokens = code_flow(client, app_rp)
    policy = services.settings.channels.app  # idle 30 days, absolute 90 days
    for _ in range(3):  # used every 29 days: each use restarts the idle window
        clock.advance(29 * DAY)
        resp = refresh(client, app_rp, tokens["refresh_token"])
        assert resp.status_code == 200, resp.get_data(as_text=True)
        tokens = resp.get_json()
    clock.advance(policy.session_absolute - 87 * DAY + 1)

    resp = refresh(client, app_rp, tokens["refresh_token"])
    assert resp.status_code == 400
    assert resp.get_json() == {"error": "invalid_grant",
                               "error_description": SESSION_LIMIT_REACHED}
    introspector = make_client(services, channel="service")
    for value in (tokens["refresh_token"], tokens["access_token"]):
        basic = base64.b64encode(f"{introspector.client_id}:{introspector.secret}".encode())
        answer = client.post("/introspect", data={"token": value},
                             headers={"Authorization": f"Basic {basic.decode()}"})
        assert answer.status_code == 200 and answer.get_json() == {"active": False}


def test_ending_the_session_after_the_browser_idled_out_revokes_the_apps_tokens(
        client, app, services, clock, citizen, app_rp):
    sign_in(client, citizen)
    app_tokens = code_flow(client, app_rp)
    [sid] = [s.sid for s in services.sso.for_account(citizen.sub)]
    clock.advance(services.settings.session.absolute_ttl + 1)  # browser long signed out
    assert urlsplit(client.get("/account/sessions").headers["Location"]).path == "/login"

    # The citizen signs in again elsewhere and ends the app's session from the account centre.
    other = app.test_client()
    sign_in(other, citizen)
    sessions = other.get("/account/sessions", headers=EN)
    assert session_ref(sid) in sessions.get_data(as_text=True)  # listed: the app is live
    resp = other.post("/account/sessions/end", headers=EN,
                      data={"csrf_token": csrf(sessions), "session": session_ref(sid)})
    assert resp.status_code == 302
    assert services.sso.get(sid) is None
    resp = refresh(client, app_rp, app_tokens["refresh_token"])
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"
    assert services.tokens.validate_access_token(app_tokens["access_token"]) is None


def test_a_sign_in_past_max_per_account_ends_the_oldest_session(
        app, services, clock, citizen, portal):
    browsers, sids, tokens = [], [], []
    for _ in range(3):
        browser = app.test_client()
        clock.advance(1)
        before = {s.sid for s in services.sso.for_account(citizen.sub)}
        sign_in(browser, citizen)
        [sid] = {s.sid for s in services.sso.for_account(citizen.sub)} - before
        tokens.append(code_flow(browser, portal))
        browsers.append(browser)
        sids.append(sid)
    oldest, *kept = sids
    assert services.sso.get(oldest) is None
    assert urlsplit(browsers[0].get("/account/sessions").headers["Location"]).path == "/login"
    assert services.tokens.validate_access_token(tokens[0]["access_token"]) is None
    for browser, sid, issued in zip(browsers[1:], kept, tokens[1:], strict=True):
        assert services.sso.get(sid) is not None
        assert browser.get("/account/sessions", headers=EN).status_code == 200
        assert services.tokens.validate_access_token(issued["access_token"]) is not None

