"""Signing out reaches every channel as surely as signing in does (issue 4, DESIGN.md §2).

One password, four channels, one ``sid`` — website (code flow), app (code + PKCE, silently in the
same browser), mini-program (token exchange from the app) and counter terminal (device grant
approved from the app), each registered with its own back-channel listener on loopback. The
citizen signs out at the website (RP-initiated logout): every channel's listener receives one
logout token for that sid, every refresh token fails, and introspection says inactive for every
access token and refresh token — on both stacks.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from tests.e2e.device_parties import DEVICE, Terminal
from tests.e2e.oidc_client import RelyingParty
from tests.e2e.test_introspection_revocation import introspected
from tests.e2e.useragent import UserAgent
from tests.fixtures.listener import LogoutListener
from tests.fixtures.server import IdpServer

pytestmark = pytest.mark.e2e

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
LOGGED_OUT = "https://portal.example.test/bye"
APP_REDIRECT = "http://127.0.0.1/callback"


def _register(server: IdpServer, channel: str, listener: LogoutListener,
              *extra: str) -> dict[str, Any]:
    return server.create_client("--name", f"{channel}-{uuid.uuid4().hex[:6]}", "--channel",
                                channel, "--backchannel-logout-uri", listener.uri, *extra)


def test_sign_out_at_the_website_ends_all_four_channels(idp_server: IdpServer,
                                                        citizen: dict[str, Any],
                                                        make_listener: Any) -> None:
    listeners = {ch: make_listener() for ch in ("website", "app", "miniprogram", "counter")}
    web = _register(idp_server, "website", listeners["website"], "--redirect-uri",
                    "https://portal.example.test/cb", "--post-logout-redirect-uri",
                    LOGGED_OUT, "--skip-consent")
    app = _register(idp_server, "app", listeners["app"], "--redirect-uri", APP_REDIRECT,
                    "--skip-consent")
    mini = _register(idp_server, "miniprogram", listeners["miniprogram"], "--redirect-uri",
                     "https://mini.example.test/cb", "--skip-consent")
    counter = _register(idp_server, "counter", listeners["counter"], "--redirect-uri",
                        "https://counter.example.test/cb", "--skip-consent")
    resource = idp_server.create_client("--name", f"rs-{uuid.uuid4().hex[:6]}",
                                        "--channel", "service")
    rs_auth = (resource["client_id"], resource["client_secret"])
    browser = UserAgent(idp_server.url)
    token_url = f"{idp_server.url}/token"

    # Sign in once, on the website; the other three channels follow without a password.
    website = RelyingParty(idp_server, web["client_id"], web["client_secret"],
                           "https://portal.example.test/cb")
    web_login = website.login(browser, citizen, "openid offline_access")
    the_app = RelyingParty(idp_server, app["client_id"], None, "http://127.0.0.1:50123/callback")
    app_login = the_app.login(browser, None, "openid offline_access", pkce=True, auth="none",
                              prompt="none")
    exchanged = requests.post(token_url, timeout=20, auth=(mini["client_id"],
                                                           mini["client_secret"]), data={
        "grant_type": EXCHANGE, "subject_token": app_login.tokens["access_token"],
        "subject_token_type": ACCESS_TOKEN_TYPE, "scope": "openid offline_access"})
    assert exchanged.status_code == 200, exchanged.text
    terminal = Terminal(idp_server, counter["client_id"], counter["client_secret"])
    flow = terminal.begin(scope="openid")
    approve = requests.post(f"{idp_server.url}/api/device/approve", timeout=20,
                            json={"user_code": flow["user_code"], "decision": "allow"},
                            headers={"Authorization":
                                     f"Bearer {app_login.tokens['access_token']}"})
    assert approve.status_code == 200, approve.text
    time.sleep(flow["interval"])
    polled = terminal.poll(flow["device_code"])
    assert polled.status_code == 200, polled.text
    assert browser.sign_ins == 1

    tokens = {"website": web_login.tokens, "app": app_login.tokens,
              "miniprogram": exchanged.json(), "counter": polled.json()}
    sid = web_login.id_claims["sid"]
    assert app_login.id_claims["sid"] == sid
    for channel in ("website", "app"):
        assert tokens[channel].get("refresh_token"), channel
    for channel, issued in tokens.items():
        assert introspected(idp_server, issued["access_token"], rs_auth)["active"], channel

    # Sign out at the website.
    out = browser.http.get(website.endpoint("end_session"), allow_redirects=False, timeout=20,
                           params={"id_token_hint": web_login.tokens["id_token"],
                                   "post_logout_redirect_uri": LOGGED_OUT, "state": "bye"})
    assert out.status_code == 302 and out.headers["Location"] == LOGGED_OUT + "?state=bye"

    clients = {"website": web, "app": app, "miniprogram": mini, "counter": counter}
    for channel, listener in listeners.items():
        [received] = listener.wait_for(1)
        rp = RelyingParty(idp_server, clients[channel]["client_id"], None, "")
        claims = rp.verify_logout_token(received.logout_token)
        assert claims["sid"] == sid and claims["sub"] == web_login.sub, channel
    assert len({listener.tokens[0][1]["jti"] for listener in listeners.values()}) == 4

    for channel, issued in tokens.items():
        assert introspected(idp_server, issued["access_token"], rs_auth) == {"active": False}
        refresh = issued.get("refresh_token")
        if refresh is None:
            continue
        assert introspected(idp_server, refresh, rs_auth) == {"active": False}, channel
        body = {"grant_type": "refresh_token", "refresh_token": refresh}
        auth = None
        if clients[channel].get("client_secret"):
            auth = (clients[channel]["client_id"], clients[channel]["client_secret"])
        else:
            body["client_id"] = clients[channel]["client_id"]
        again = requests.post(token_url, data=body, auth=auth, timeout=20)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant", channel

    req = website.auth_request("openid", prompt="none")
    website.expect_error(req, website.authorize(browser, req, None), "login_required")
    time.sleep(1)
    assert [len(listener.received) for listener in listeners.values()] == [1, 1, 1, 1]
    assert DEVICE  # the counter signed in through the device grant above
