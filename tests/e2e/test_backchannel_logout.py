"""OpenID conformance, ``oidcc-backchannel-rp-initiated-logout-certification-test-plan``
(Back-Channel Logout 1.0 with RP-Initiated Logout), and delivery across an IdP restart.

The relying party's ``backchannel_logout_uri`` is a real HTTP listener on loopback
(tests/fixtures/listener.py); the IdP delivers from its durable queue in the background of
``idp serve``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.oidc_client import Login, RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.listener import LogoutListener
from tests.fixtures.server import IdpServer, launch_on_stack

pytestmark = pytest.mark.e2e

LOGGED_OUT = "https://rp.example.test/logged-out"


def _portal(server: IdpServer, listener: LogoutListener, *extra: str) -> RelyingParty:
    return RelyingParty.register(
        server, f"Back-channel portal {uuid.uuid4().hex[:6]}", "--backchannel-logout-uri",
        listener.uri, "--post-logout-redirect-uri", LOGGED_OUT, *extra)


def _end_session(rp: RelyingParty, agent: UserAgent, login: Login, state: str) -> str:
    resp = agent.http.get(rp.endpoint("end_session"), allow_redirects=False, timeout=20, params={
        "id_token_hint": login.tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT,
        "state": state})
    assert resp.status_code == 302, resp.text
    return str(resp.headers["Location"])


# -- the certification plan ----------------------------------------------------------------------


def test_oidcc_backchannel_logout_discovery_endpoint_verification(idp_server: IdpServer,
                                                                   rp: RelyingParty) -> None:
    """backchannel_logout_supported, backchannel_logout_session_supported (sid in logout
    tokens — certification requires it) and end_session_endpoint."""
    assert rp.config["backchannel_logout_supported"] is True
    assert rp.config["backchannel_logout_session_supported"] is True
    assert rp.config["end_session_endpoint"] == idp_server.url + "/end_session"


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_oidcc_backchannel_rp_initiated_logout(idp_server: IdpServer, agent: UserAgent,
                                               citizen: dict[str, Any],
                                               logout_listener: LogoutListener,
                                               alg: str) -> None:
    """Log in, send the browser to end_session: the OP calls the backchannel_logout_uri with a
    valid logout token for that sid, returns to the post_logout_redirect_uri with state, and a
    later prompt=none fails with login_required."""
    rp = _portal(idp_server, logout_listener, "--id-token-alg", alg)
    login = rp.login(agent, citizen, "openid", alg=alg)

    assert _end_session(rp, agent, login, "bc-state") == LOGGED_OUT + "?state=bc-state"

    [received] = logout_listener.wait_for(1)
    assert received.path == "/backchannel-logout"
    assert received.content_type == "application/x-www-form-urlencoded"
    assert list(received.form) == ["logout_token"]
    claims = rp.verify_logout_token(received.logout_token, alg=alg)
    assert claims["sid"] == login.id_claims["sid"]
    assert claims["sub"] == login.id_claims["sub"]

    req = rp.auth_request("openid", prompt="none")
    rp.expect_error(req, rp.authorize(agent, req, None), "login_required")
    time.sleep(0.5)
    assert len(logout_listener.received) == 1  # one token per client per sid


def test_clients_that_did_not_take_part_are_not_told(idp_server: IdpServer, agent: UserAgent,
                                                     citizen: dict[str, Any],
                                                     make_listener: Any) -> None:
    took_part, bystander = make_listener(), make_listener()
    rp = _portal(idp_server, took_part)
    _portal(idp_server, bystander)
    _end_session(rp, agent, rp.login(agent, citizen, "openid"), "x")
    took_part.wait_for(1)
    time.sleep(1)
    assert bystander.received == []


# -- delivery survives a restart -------------------------------------------------------------------

FAST_RETRIES = {"IDP_LOGOUT_RETRY_INITIAL": "0.5", "IDP_LOGOUT_RETRY_MAX": "1",
                "IDP_LOGOUT_POLL_INTERVAL": "0.2"}


@pytest.fixture(params=["embedded", "pg-redis"])
def restartable(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[IdpServer]:
    server = launch_on_stack(request, tmp_path, request.param, FAST_RETRIES)
    yield server
    server.stop()


def _deliveries(server: IdpServer) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = server.cli_json("logout", "deliveries")
    return rows


def _wait(condition: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_pending_logout_survives_a_restart_and_arrives_exactly_once(
        restartable: IdpServer) -> None:
    server = restartable
    person = server.demo["citizens"][0]  # its own server's (not idp_server's: no cross product)
    citizen = {"username": person["phone"], "password": person["password"]}
    listener = LogoutListener()  # registered, but down
    rp = _portal(server, listener)
    agent = UserAgent(server.url)
    login = rp.login(agent, citizen, "openid")
    _end_session(rp, agent, login, "restart")
    _wait(lambda: _deliveries(server)[0]["attempts"] >= 2, "no failed attempts recorded")
    [pending] = _deliveries(server)
    assert pending["status"] == "pending" and pending["last_error"] == "ConnectionError"

    server.stop()
    listener.start()  # the portal comes back while the IdP is down: nothing can arrive yet
    try:
        time.sleep(0.5)
        assert listener.received == []
        server.start(int(server.url.rsplit(":", 1)[1]))
        [received] = listener.wait_for(1)
        time.sleep(2)  # several more polls of both workers: nothing is sent again
        assert len(listener.received) == 1
    finally:
        listener.stop()
    claims = rp.verify_logout_token(received.logout_token)
    assert claims["sid"] == login.id_claims["sid"]
    _wait(lambda: _deliveries(server)[0]["status"] == "delivered", "outcome not recorded")
    [done] = _deliveries(server)
    assert done["jti"] == claims["jti"] and done["last_status"] == 200
    assert done["attempts"] >= 3
    assert server.cli_json("logout", "deliveries", "--status", "pending") == []
    assert [r["jti"] for r in server.cli_json("logout", "deliveries", "--client-id",
                                              rp.client_id)] == [claims["jti"]]
    assert server.cli_json("logout", "deliveries", "--client-id", "nobody") == []
    bad = server.cli("logout", "deliveries", "--status", "lost", check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
