"""The portal's back-channel logout over real HTTP on loopback: a citizen signs in (code flow
against the scripted IdP, itself served over HTTP), the IdP's logout token ends the portal
session, and the next page load shows the citizen signed out."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from clients.common.backchannel import REPLAY
from clients.common.http import HttpRequest, HttpResponse
from clients.common.tests.fakeidp import SID, SUB, FakeIdp, json_response
from clients.common.tests.servers import assert_refused, post_logout

ME = "demo-website"
SIGNED_IN = "you are signed in"
SIGNED_OUT_NOTICE = "this portal signed you out too"


def sign_in(idp: FakeIdp, portal: str, sid: str = SID) -> requests.Session:
    """The code flow as a browser runs it; the IdP's answers are scripted for this sign-in."""
    browser = requests.Session()
    to_idp = browser.get(f"{portal}/login", allow_redirects=False, timeout=10)
    assert to_idp.status_code == 302, to_idp.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(to_idp.headers["Location"]).query).items()}

    def token(request: HttpRequest) -> HttpResponse:
        access = idp.access_token(ME, sid=sid)
        id_token = idp.id_token(ME, access_token=access, nonce=query["nonce"], sid=sid)
        return json_response(
            200, {"access_token": access, "token_type": "Bearer", "id_token": id_token}
        )

    idp.on("POST", "/token", token)
    idp.on("GET", "/userinfo", json_response(200, {"sub": SUB, "name": "张三"}))
    back = {"code": "c-1", "state": query["state"], "iss": idp.issuer}
    home = browser.get(f"{portal}/callback", params=back, timeout=10)
    assert home.status_code == 200 and SIGNED_IN in home.text, home.text
    return browser


def page(browser: requests.Session, portal: str) -> str:
    resp = browser.get(f"{portal}/", timeout=10)
    assert resp.status_code == 200
    return resp.text


def logout(portal: str, token: str, **kwargs: Any) -> requests.Response:
    return post_logout(f"{portal}/backchannel-logout", token, **kwargs)


def test_logout_token_ends_the_portal_session(idp, portal):
    browser = sign_in(idp, portal)
    resp = logout(portal, idp.logout_token(ME))  # no cookie, no CSRF token: server to server
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    text = page(browser, portal)
    assert SIGNED_IN not in text and "Sign in with Unified Identity" in text
    assert SIGNED_OUT_NOTICE in text, "the citizen is told why"
    assert SIGNED_OUT_NOTICE not in page(browser, portal), "said once"


def test_only_the_named_sid_ends_and_a_sub_only_token_ends_them_all(idp, portal):
    first = sign_in(idp, portal, sid="sid-a")
    second = sign_in(idp, portal, sid="sid-b")
    assert logout(portal, idp.logout_token(ME, sid="sid-a")).status_code == 200
    assert SIGNED_IN not in page(first, portal)
    assert SIGNED_IN in page(second, portal)
    assert logout(portal, idp.logout_token(ME, sid="sid-nobody")).status_code == 200
    assert logout(portal, idp.logout_token(ME, sid=None)).status_code == 200
    assert SIGNED_IN not in page(second, portal)


def test_a_replay_is_refused_and_changes_nothing(idp, portal):
    logout_token = idp.logout_token(ME)
    assert logout(portal, logout_token).status_code == 200
    browser = sign_in(idp, portal)  # signed in again, in the same IdP session
    assert_refused(logout(portal, logout_token), REPLAY)
    assert SIGNED_IN in page(browser, portal)


def test_garbage_is_a_400_in_json_without_a_traceback(idp, portal):
    browser = sign_in(idp, portal)
    assert_refused(logout(portal, "garbage"), "not a signed JWT")
    assert_refused(logout(portal, idp.logout_token(ME, iss="https://evil.example.test")), "iss")
    assert_refused(logout(portal, idp.logout_token(ME, nonce="n")), "nonce")
    resp = requests.post(f"{portal}/backchannel-logout", data="{}", timeout=10)
    assert_refused(resp, "x-www-form-urlencoded")
    assert SIGNED_IN in page(browser, portal)


def test_other_posts_still_need_the_csrf_token(idp, portal):
    browser = sign_in(idp, portal)
    resp = browser.post(f"{portal}/logout", timeout=10)
    assert resp.status_code == 400 and SIGNED_IN in page(browser, portal)


def test_sign_out_everywhere_ends_the_idp_session(idp, portal):
    """RP-Initiated Logout: the browser goes to the IdP, which then sends the logout tokens."""
    browser = sign_in(idp, portal)
    csrf = page(browser, portal).split('name="csrf_token" value="')[1].split('"')[0]
    resp = browser.post(
        f"{portal}/logout-everywhere", data={"csrf_token": csrf}, allow_redirects=False, timeout=10
    )
    assert resp.status_code == 302
    target = urlsplit(resp.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{idp.issuer}/end_session"
    assert (
        params["client_id"] == ME and params["post_logout_redirect_uri"] == "http://localhost:5001/"
    )
    assert params["id_token_hint"].count(".") == 2
    assert SIGNED_IN not in page(browser, portal)
