"""The counter channel's device authorization grant (RFC 8628), end to end over real HTTP."""

from __future__ import annotations

import time
from typing import Any

import requests

from tests.e2e.device_parties import (
    DEVICE,
    USER_CODE,
    Terminal,
    app_login,
    audit_count,
    browser,
    decide,
    guess,
    open_code,
    tokens_of,
    verify,
)
from tests.factories import id_number
from tests.fixtures.server import IdpServer


# -- the flow -------------------------------------------------------------------------------------
def test_discovery_and_the_device_authorization_response(idp_server: IdpServer,
                                                         terminal: Terminal) -> None:
    config = requests.get(f"{idp_server.url}/.well-known/openid-configuration", timeout=10).json()
    assert config["device_authorization_endpoint"] == f"{idp_server.url}/device_authorization"
    assert DEVICE in config["grant_types_supported"]

    resp = terminal.start()
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.headers["Cache-Control"] == "no-store"
    flow = resp.json()
    assert set(flow) == {"device_code", "user_code", "verification_uri",
                         "verification_uri_complete", "expires_in", "interval"}
    assert USER_CODE.match(flow["user_code"]), flow
    assert flow["verification_uri"] == f"{idp_server.url}/device"
    assert flow["verification_uri_complete"] == \
        f"{idp_server.url}/device?user_code={flow['user_code']}"
    assert flow["expires_in"] == 600 and flow["interval"] == 5
    assert len(flow["device_code"]) >= 43

    # client_secret_post works as well; every flow gets its own codes.
    other = terminal.start(auth="post", scope="openid profile")
    assert other.status_code == 200, other.text
    assert other.json()["device_code"] != flow["device_code"]
    assert other.json()["user_code"] != flow["user_code"]


def test_browser_approval_gives_the_terminal_tokens_exactly_once(
        idp_server: IdpServer, terminal: Terminal, register: Any,
        citizen: dict[str, Any]) -> None:
    # The citizen's browser signed in through a portal: its ID token names the browser session.
    agent = browser(idp_server)
    portal_login = register().login(agent, citizen)
    issued_before = tokens_of(idp_server, terminal.client_id)
    audited_before = audit_count(idp_server, "device:token:success", client_id=terminal.client_id)

    flow = terminal.begin(scope="openid profile")
    assert terminal.error(flow["device_code"]) == "authorization_pending"

    confirm = open_code(agent, flow["user_code"])
    assert confirm.status_code == 200, confirm.text
    assert "Counter terminal (demo)" in confirm.text and flow["user_code"] in confirm.text
    assert "Your name, gender and date of birth" in confirm.text  # the profile scope, in words
    assert agent.sign_ins == 1  # the SSO session was enough: no second password
    done = decide(agent, confirm, "allow")
    assert done.status_code == 200 and "The terminal is signed in" in done.text

    resp = terminal.poll(flow["device_code"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    tokens = resp.json()
    assert tokens["token_type"].lower() == "bearer" and tokens["scope"] == "openid profile"
    assert tokens["expires_in"] == 300  # the counter policy: short access tokens
    assert "refresh_token" not in tokens  # ... and none to refresh them (shared terminals)

    claims = verify(idp_server, tokens["id_token"], terminal.client_id, tokens["access_token"])
    assert claims["sid"] == portal_login.id_claims["sid"]  # one sign-in, one session
    assert claims["sub"] == portal_login.sub
    assert claims["auth_time"] == portal_login.id_claims["auth_time"]
    assert claims["acr"] == "L1" and claims["amr"] == ["pwd"]
    assert claims["azp"] == terminal.client_id and "nonce" not in claims
    access = verify(idp_server, tokens["access_token"], terminal.client_id)
    assert access["sid"] == claims["sid"] and access["client_id"] == terminal.client_id
    userinfo = requests.get(f"{idp_server.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 200 and userinfo.json()["sub"] == claims["sub"]

    # Exactly once: the next poll finds nothing, and the code reads "already used".
    assert terminal.error(flow["device_code"]) == "invalid_grant"
    assert open_code(agent, flow["user_code"]).status_code == 409
    assert tokens_of(idp_server, terminal.client_id) == issued_before + 1
    assert audit_count(idp_server, "device:token:success",
                       client_id=terminal.client_id) == audited_before + 1
    assert audit_count(idp_server, "device:authorize:success", client_id=terminal.client_id,
                       subject=claims["sub"]) >= 1


def test_app_approval_uses_the_app_session(idp_server: IdpServer, terminal: Terminal,
                                           citizen: dict[str, Any]) -> None:
    app = app_login(idp_server, citizen)
    flow = terminal.begin()  # scope defaults to openid

    info = app.lookup(flow["user_code"])
    assert info.status_code == 200, info.text
    body = info.json()
    assert set(body) == {"client_name", "scopes", "expires_in", "required_acr", "in_person"}
    assert (body["required_acr"], body["in_person"]) == ("L1", False)
    assert "Counter terminal (demo)" in body["client_name"] and body["scopes"] == ["openid"]
    assert 590 <= body["expires_in"] <= 600

    approved = app.approve(flow["user_code"], "allow")
    assert approved.status_code == 200, approved.text
    assert approved.json() == {"status": "approved", "client_name": body["client_name"]}

    tokens = terminal.poll(flow["device_code"]).json()
    claims = verify(idp_server, tokens["id_token"], terminal.client_id, tokens["access_token"])
    assert claims["sid"] == app.login.id_claims["sid"] and claims["sub"] == app.login.sub
    assert tokens["scope"] == "openid"

    for again in (app.approve(flow["user_code"], "deny"), app.lookup(flow["user_code"])):
        assert again.status_code == 409 and again.json()["error"] == "already_decided"


def test_a_denied_sign_in_is_access_denied(idp_server: IdpServer, terminal: Terminal,
                                           citizen: dict[str, Any]) -> None:
    issued_before = tokens_of(idp_server, terminal.client_id)
    agent = browser(idp_server, citizen)
    flow = terminal.begin()
    done = decide(agent, open_code(agent, flow["user_code"]), "deny")
    assert done.status_code == 200 and "Sign-in denied" in done.text
    assert terminal.error(flow["device_code"]) == "access_denied"
    assert terminal.error(flow["device_code"]) == "access_denied"  # it stays denied
    assert open_code(agent, flow["user_code"]).status_code == 409  # no second decision

    app = app_login(idp_server, citizen)
    flow = terminal.begin()
    denied = app.approve(flow["user_code"], "deny")
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    assert app.approve(flow["user_code"], "allow").json()["error"] == "already_decided"
    assert terminal.error(flow["device_code"]) == "access_denied"
    assert tokens_of(idp_server, terminal.client_id) == issued_before


def test_polling_too_fast_is_slowed_down(idp_server: IdpServer, terminal: Terminal,
                                         citizen: dict[str, Any]) -> None:
    flow = terminal.begin()
    assert terminal.error(flow["device_code"]) == "authorization_pending"
    assert terminal.error(flow["device_code"]) == "slow_down"  # at once: under 5 s
    # The original interval has passed, but this device code's interval is now 10 s.
    time.sleep(flow["interval"] + 0.5)
    assert terminal.error(flow["device_code"]) == "slow_down"
    # Slowing down never withholds an approved sign-in.
    assert app_login(idp_server, citizen).approve(flow["user_code"]).status_code == 200
    assert terminal.poll(flow["device_code"]).status_code == 200


def test_login_hint_lets_only_that_citizen_approve(
        idp_server: IdpServer, terminal: Terminal, citizen: dict[str, Any],
        other_citizen: dict[str, Any]) -> None:
    intruder = app_login(idp_server, citizen)
    intended = app_login(idp_server, other_citizen)
    issued_before = tokens_of(idp_server, terminal.client_id)

    flow = terminal.begin(login_hint=other_citizen["id_number"])
    for refused in (intruder.lookup(flow["user_code"]),
                    intruder.approve(flow["user_code"], "allow"),
                    intruder.approve(flow["user_code"], "deny")):
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "wrong_citizen"
    page = open_code(browser(idp_server, citizen), flow["user_code"])
    assert page.status_code == 403 and 'name="decision"' not in page.text
    assert "for another citizen" in page.text
    # Nothing issued, nothing decided: the terminal still waits.
    assert terminal.error(flow["device_code"]) == "authorization_pending"
    assert tokens_of(idp_server, terminal.client_id) == issued_before

    assert intended.approve(flow["user_code"]).status_code == 200
    tokens = terminal.poll(flow["device_code"]).json()
    claims = verify(idp_server, tokens["id_token"], terminal.client_id, tokens["access_token"])
    assert claims["sub"] == intended.login.sub and claims["sid"] == intended.login.id_claims["sid"]

    # The hint may be a phone number, in any usual spelling.
    flow = terminal.begin(login_hint="+86 " + other_citizen["phone"])
    assert intruder.lookup(flow["user_code"]).status_code == 403
    assert intended.lookup(flow["user_code"]).status_code == 200
    # A well-formed hint naming no account starts a flow nobody can approve; the terminal is
    # not told whether the citizen has an account.
    flow = terminal.begin(login_hint=id_number(birth="19700101"))
    assert intruder.lookup(flow["user_code"]).json()["error"] == "wrong_citizen"
    # A hint that is neither an ID number nor a phone number is refused at once.
    bad = terminal.start(login_hint="somebody")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"


def test_device_codes_belong_to_their_terminal(idp_server: IdpServer, terminal: Terminal,
                                               citizen: dict[str, Any]) -> None:
    other = Terminal.register(idp_server)
    flow = terminal.begin()
    assert other.error(flow["device_code"]) == "invalid_grant"
    assert other.error("no-such-device-code") == "invalid_grant"
    assert app_login(idp_server, citizen).approve(flow["user_code"]).status_code == 200
    # Approved — still not the other terminal's, and its poll did not take the tokens.
    assert other.error(flow["device_code"]) == "invalid_grant"
    assert terminal.poll(flow["device_code"]).status_code == 200
    assert tokens_of(idp_server, other.client_id) == 0


def test_only_counter_clients_may_use_the_grant(idp_server: IdpServer, terminal: Terminal,
                                               register: Any) -> None:
    url = f"{idp_server.url}/device_authorization"
    portal = register()
    resp = requests.post(url, auth=(portal.client_id, portal.client_secret), timeout=10)
    assert resp.status_code == 400 and resp.json()["error"] == "unauthorized_client"
    poll = requests.post(f"{idp_server.url}/token", auth=(portal.client_id, portal.client_secret),
                         data={"grant_type": DEVICE, "device_code": "x" * 43}, timeout=10)
    assert poll.status_code == 400 and poll.json()["error"] == "unauthorized_client"

    for auth, data in [(None, {"client_id": "demo-app"}),  # a public client: no secret
                       (None, {}),
                       ((terminal.client_id, "wrong-secret"), {}),
                       (None, {"client_id": terminal.client_id})]:
        resp = requests.post(url, auth=auth, data=data, timeout=10)
        assert resp.status_code == 401, resp.text
        assert resp.json()["error"] == "invalid_client"
    assert terminal.start(scope="phone").json()["device_code"]  # a registered scope
    refused = terminal.start(scope="payments")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"


def test_the_page_needs_a_signed_in_citizen_and_csrf(idp_server: IdpServer, terminal: Terminal,
                                                     citizen: dict[str, Any]) -> None:
    flow = terminal.begin()
    agent = browser(idp_server)
    page = agent._get("/device", params={"user_code": flow["user_code"]})
    assert page.status_code == 200
    assert '<label for="user_code">' in page.text
    assert f'value="{flow["user_code"]}"' in page.text  # pre-filled from verification_uri_complete

    resp = agent._post("/device", data={"csrf_token": agent.csrf(page),
                                        "user_code": flow["user_code"]})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")
    login_page = agent._get(resp.headers["Location"])
    back = agent._post("/login", data={"csrf_token": agent.csrf(login_page),
                                       "username": citizen["username"],
                                       "password": citizen["password"],
                                       "next": agent._hidden(login_page, "next")})
    assert back.status_code == 302
    assert back.headers["Location"] == f"/device?user_code={flow['user_code']}"
    confirm = open_code(agent, flow["user_code"])
    assert confirm.status_code == 200 and 'value="allow"' in confirm.text

    no_csrf = agent._post("/device", data={"user_code": flow["user_code"], "decision": "allow"})
    assert no_csrf.status_code == 400
    odd = agent._post("/device", data={"csrf_token": agent.csrf(confirm), "decision": "maybe",
                                       "user_code": flow["user_code"]})
    assert odd.status_code == 400
    empty = agent._post("/device", data={"csrf_token": agent.csrf(confirm), "user_code": ""})
    assert empty.status_code == 400 and 'role="alert"' in empty.text
    unknown = open_code(agent, guess())
    assert unknown.status_code == 404 and 'role="alert"' in unknown.text
    assert 'aria-invalid="true"' in unknown.text
    assert terminal.error(flow["device_code"]) == "authorization_pending"  # nothing decided


def test_user_codes_are_read_in_any_usual_spelling(idp_server: IdpServer, terminal: Terminal,
                                                   citizen: dict[str, Any]) -> None:
    app = app_login(idp_server, citizen)
    for spell in (lambda c: c.lower().replace("-", ""),
                  lambda c: " ".join(c.replace("-", "")),
                  lambda c: "".join(chr(ord(ch) + 0xFEE0) for ch in c)):  # full-width
        flow = terminal.begin()
        resp = app.lookup(spell(flow["user_code"]))
        assert resp.status_code == 200, (spell(flow["user_code"]), resp.text)


def test_malformed_input_never_fails_the_server(idp_server: IdpServer, terminal: Terminal,
                                                citizen: dict[str, Any]) -> None:
    url = idp_server.url
    basic = (terminal.client_id, terminal.secret)
    app = app_login(idp_server, citizen)
    agent = browser(idp_server, citizen)
    page = agent._get("/device")
    csrf = agent.csrf(page)
    weird = ["", "\x00", "é" * 300, "'\"<>", "BCDF-GHJ\x00", "%00", "B" * 5000, "Ｘ" * 9]
    responses = []
    for value in weird:
        responses += [
            requests.post(f"{url}/device_authorization", auth=basic, timeout=10,
                          data={"scope": value, "login_hint": value}),
            requests.post(f"{url}/token", auth=basic, timeout=10,
                          data={"grant_type": DEVICE, "device_code": value}),
            app.lookup(value),
            requests.post(f"{url}/api/device/approve", headers=app.headers, timeout=10,
                          json={"user_code": value, "decision": value}),
            agent._get("/device", params={"user_code": value}),
            agent._post("/device", data={"csrf_token": csrf, "user_code": value}),
            agent._post("/device", data={"csrf_token": csrf, "user_code": value,
                                         "decision": value}),
        ]
    for body in ([1, 2], "text", None, {"user_code": 7, "decision": ["allow"]}, 3.5):
        responses.append(requests.post(f"{url}/api/device/approve", json=body,
                                       headers=app.headers, timeout=10))
    responses += [
        requests.post(f"{url}/api/device/approve", data="user_code=x", headers=app.headers,
                      timeout=10),
        requests.post(f"{url}/api/device/approve", data=b"\xff\xfe{", timeout=10,
                      headers={**app.headers, "Content-Type": "application/json"}),
        requests.get(f"{url}/api/device", timeout=10),  # no token at all
        requests.get(f"{url}/api/device", headers={"Authorization": "Bearer x.y.z"},
                     timeout=10),
        requests.get(f"{url}/device_authorization", timeout=10),
        requests.post(f"{url}/device_authorization", auth=basic, json={"scope": "openid"},
                      timeout=10),
        requests.post(f"{url}/device_authorization", auth=basic, timeout=10,
                      data=[("scope", "openid"), ("scope", "profile")]),
        requests.post(f"{url}/device_authorization", auth=basic, timeout=10,
                      data={"scope": "x" * 70000}),
        requests.post(f"{url}/token", auth=basic, data={"grant_type": DEVICE}, timeout=10),
        requests.post(f"{url}/token", auth=basic, timeout=10,
                      data=[("grant_type", DEVICE), ("device_code", "a"), ("device_code", "b")]),
    ]
    for resp in responses:
        assert resp.status_code < 500, (resp.request.method, resp.request.url, resp.text[:300])
        path = resp.request.path_url
        if path.startswith(("/device_authorization", "/token", "/api/")) \
                and resp.status_code != 414:  # the HTTP server's own answer to a 5 kB request line
            assert resp.headers["Content-Type"].startswith("application/json"), resp.text[:300]
    statuses = {r.status_code for r in responses}
    assert {400, 401, 404, 405, 413} <= statuses


def test_a_clerks_id_card_check_gives_l4_to_the_card_holder(idp_server: IdpServer,
                                                           citizen: dict[str, Any]) -> None:
    """`idp clients allow-in-person`, then a terminal attesting the clerk's check of the
    citizen's physical ID card: the app approves, the terminal's tokens say L4 (+ ``ipv``)."""
    terminal = Terminal.register(idp_server)
    # (Allowed before its first request: the server caches client records for 10 s. A client
    # not allowed is refused: tests/oidc/test_device_assurance.py.)
    idp_server.cli("clients", "allow-in-person", terminal.client_id)
    app = app_login(idp_server, citizen)
    flow = terminal.begin(id_card_number=citizen["id_number"], clerk_id="clerk-1024")
    info = app.lookup(flow["user_code"]).json()
    assert (info["required_acr"], info["in_person"]) == ("L4", True)
    assert app.approve(flow["user_code"]).status_code == 200
    tokens = terminal.poll(flow["device_code"]).json()
    claims = verify(idp_server, tokens["id_token"], terminal.client_id, tokens["access_token"])
    assert claims["acr"] == "L4" and claims["amr"][-1] == "ipv"
    assert claims["sid"] == app.login.id_claims["sid"]
    assert audit_count(idp_server, "identity:in_person:verified",
                       client_id=terminal.client_id) == 1
    assert citizen["id_number"] not in idp_server.log
    # Staff can withdraw it (every node sees it within the client cache's 10 s; the refusal
    # itself is tested in tests/oidc/test_device_assurance.py).
    revoked = idp_server.cli_json("clients", "allow-in-person", terminal.client_id, "--revoke")
    assert revoked == {"client_id": terminal.client_id, "in_person_check": False}
