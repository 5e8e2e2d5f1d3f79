"""Scan-to-login (扫码登录) over real HTTP, on both stacks: the browser shows a QR ticket, the
citizen's signed-in app scans and confirms it, and the browser joins the app's SSO session
(same ``sid``, ``amr`` gains ``mca``). Every refusal is a JSON error, never a server error."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import create_engine, text

from idp.sessions.qr import fingerprint
from tests.e2e.citizen_app import CitizenApp, QrBrowser
from tests.e2e.useragent import AuthResponse, UserAgent
from tests.fixtures.server import IdpServer, launch_on_stack

pytestmark = pytest.mark.e2e

SHORT_TTL = 2


def _error(resp: requests.Response, status: int, error: str) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    body: dict[str, Any] = resp.json()
    assert body["error"] == error, body
    assert body.get("error_description"), body
    return body


def _audited(server: IdpServer, ticket_id: str) -> list[tuple[str, str]]:
    """(tag, subject) of the audit events about one ticket, oldest first."""
    url = server.env.get("IDP_DATABASE_URL") or f"sqlite:///{server.root / 'var' / 'idp.db'}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT tag, subject, extra FROM audit_events "
                                     "WHERE tag LIKE 'qr:%' ORDER BY seq"))
            mark = fingerprint(ticket_id)
            return [(tag, subject) for tag, subject, extra in rows
                    if (extra if isinstance(extra, dict) else {}).get("ticket") == mark
                    or (isinstance(extra, str) and mark in extra)]
    finally:
        engine.dispose()


def _approved(server: IdpServer, phone: CitizenApp, next_url: str | None = "/"
              ) -> tuple[QrBrowser, str]:
    """A browser whose ticket the app has scanned and confirmed (not completed yet)."""
    browser = QrBrowser(server)
    ticket = browser.start(next_url)["ticket_id"]
    assert phone.scan(ticket).status_code == 200
    assert phone.confirm(ticket).json() == {"status": "confirmed"}
    return browser, ticket


@pytest.fixture
def phone(idp_server, citizen) -> CitizenApp:
    """The citizen's phone, signed in (its own SSO session)."""
    return CitizenApp.sign_in(idp_server, citizen)


def test_full_flow_signs_the_browser_in_to_the_apps_session(idp_server, phone, citizen,
                                                           register):
    browser = QrBrowser(idp_server)
    started = browser.start("/")
    ticket = started["ticket_id"]
    assert len(ticket) >= 22  # ≥ 128 random bits, URL-safe base64
    assert started["qr_svg"].startswith("<svg") and "<script" not in started["qr_svg"]
    assert started["qr_url"] == f"{idp_server.url}/qr/{ticket}"
    assert started["expires_in"] == 120 and started["poll_interval"] == 1.5
    assert browser.status(ticket).json()["status"] == "waiting"

    scanned = phone.scan(ticket)
    assert scanned.status_code == 200, scanned.text
    shown = scanned.json()
    assert shown["status"] == "scanned" and shown["next_client"] is None
    assert isinstance(shown["browser"], str) and shown["browser"]
    assert abs(shown["requested_at"] - time.time()) < 60
    assert browser.status(ticket).json()["status"] == "scanned"

    assert phone.confirm(ticket).json() == {"status": "confirmed"}
    assert browser.status(ticket).json()["status"] == "confirmed"
    done = browser.complete(ticket)
    assert done.status_code == 200, done.text
    assert done.json() == {"redirect": "/"}

    home = browser.home()
    assert home.status_code == 200 and citizen["name"] in home.text
    account = phone.login.id_claims["sub"]  # demo-app is not pairwise: sub is the account id
    assert _audited(idp_server, ticket) == [("qr:login:scanned", account),
                                            ("qr:login:confirmed", account),
                                            ("qr:login:completed", account)]

    # The browser is in the app's session: a portal's ID token carries the app's sid, and amr
    # shows both the original password and the multiple-channel approval (RFC 8176 mca).
    portal = register()
    login = portal.login(browser.agent, None, "openid", prompt="none")
    assert login.id_claims["sid"] == phone.sid
    assert login.id_claims["sub"]
    assert login.id_claims["amr"] == ["pwd", "mca"]
    assert phone.login.id_claims["amr"] == ["pwd"]

    # One session: signing out in the browser ends the app's session too.
    page = browser.http.get(f"{idp_server.url}/", timeout=20)
    out = browser.http.post(f"{idp_server.url}/logout", timeout=20,
                            data={"csrf_token": UserAgent.csrf(page)})
    assert out.status_code == 200
    _error(phone.scan(browser.start()["ticket_id"]), 401, "invalid_token")


def test_qr_login_continues_an_authorization_request(idp_server, phone, register):
    portal = register()
    req = portal.auth_request("openid profile")
    agent = UserAgent(idp_server.url)
    agent.http.headers["Accept-Language"] = "en"
    page = agent.visit(req.params)  # not signed in: the sign-in page, with next
    assert page.status_code == 200 and 'name="password"' in page.text
    next_url = UserAgent._hidden(page, "next")
    assert next_url.startswith("/authorize?")

    browser = QrBrowser(idp_server)
    browser.agent = agent
    browser.http = agent.http
    browser.csrf_token = UserAgent.csrf(page)
    ticket = browser.start(next_url)["ticket_id"]
    shown = phone.scan(ticket).json()
    assert shown["next_client"] and shown["next_client"].startswith("conformance-")
    phone.confirm(ticket)
    done = browser.complete(ticket)
    assert done.json() == {"redirect": next_url}

    resp = agent.http.get(f"{idp_server.url}{next_url}", allow_redirects=False, timeout=20)
    assert resp.status_code == 302, resp.text[:300]
    location = resp.headers["Location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    code = portal.expect_code(req, AuthResponse(location, params))
    tokens = portal.redeem(code, req)
    claims = portal.verify_id_token(tokens["id_token"], nonce=req.nonce,
                                    access_token=tokens["access_token"])
    assert claims["sid"] == phone.sid and "mca" in claims["amr"]


def test_next_is_a_local_path_only(idp_server, phone):
    for hostile in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        browser, ticket = _approved(idp_server, phone, hostile)
        assert browser.complete(ticket).json() == {"redirect": "/"}


def test_the_citizen_denies_on_the_phone(idp_server, phone):
    browser = QrBrowser(idp_server)
    ticket = browser.start()["ticket_id"]
    phone.scan(ticket)
    assert phone.confirm(ticket, "deny").json() == {"status": "denied"}
    assert browser.status(ticket).json()["status"] == "denied"
    _error(browser.complete(ticket), 409, "denied")
    _error(phone.confirm(ticket, "allow"), 409, "already_decided")
    assert browser.home().status_code == 302  # still signed out
    assert [tag for tag, _ in _audited(idp_server, ticket)] == ["qr:login:scanned",
                                                                "qr:login:denied"]


def test_a_ticket_completes_once(idp_server, phone):
    browser, ticket = _approved(idp_server, phone)
    assert browser.complete(ticket).status_code == 200
    _error(browser.complete(ticket), 404, "unknown_ticket")
    _error(phone.scan(ticket), 404, "unknown_ticket")


def test_concurrent_completions_one_wins(idp_server, phone):
    browser, ticket = _approved(idp_server, phone)
    results: list[int] = []
    barrier = threading.Barrier(6)

    def complete() -> None:
        racer = requests.Session()
        racer.cookies.update(browser.http.cookies)
        barrier.wait()
        resp = racer.post(f"{idp_server.url}/qr/complete", json={"ticket_id": ticket},
                          headers={"X-CSRFToken": browser.csrf_token}, timeout=20)
        results.append(resp.status_code)
        racer.close()

    threads = [threading.Thread(target=complete) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [404] * 5


def test_completion_from_another_browser_is_refused(idp_server, phone):
    browser, ticket = _approved(idp_server, phone)
    thief = QrBrowser(idp_server)
    thief.open_login()
    _error(thief.complete(ticket), 403, "wrong_browser")
    _error(thief.status(ticket), 403, "wrong_browser")
    assert thief.home().status_code == 302
    assert browser.complete(ticket).status_code == 200  # nothing was used up
    assert _audited(idp_server, ticket).count(("qr:login:refused", None)) == 2


def test_only_the_scanning_app_session_may_decide(idp_server, phone, citizen, other_citizen):
    browser = QrBrowser(idp_server)
    ticket = browser.start()["ticket_id"]
    second_install = CitizenApp.sign_in(idp_server, citizen)  # same citizen, another session
    stranger = CitizenApp.sign_in(idp_server, other_citizen)
    assert second_install.sid != phone.sid

    _error(phone.confirm(ticket), 409, "not_scanned")  # confirm before scan
    assert phone.scan(ticket).status_code == 200
    _error(second_install.scan(ticket), 409, "already_scanned")
    for intruder in (second_install, stranger):
        for decision in ("allow", "deny"):
            _error(intruder.confirm(ticket, decision), 403, "wrong_session")
    assert browser.status(ticket).json()["status"] == "scanned"  # nothing changed
    refused = [who for tag, who in _audited(idp_server, ticket) if tag == "qr:login:refused"]
    assert sorted(refused) == sorted([second_install.login.sub] * 2 + [stranger.login.sub] * 2)
    _error(browser.complete(ticket), 409, "not_confirmed")

    assert phone.confirm(ticket).json() == {"status": "confirmed"}
    assert browser.complete(ticket).status_code == 200
    assert browser.home().status_code == 200


def test_only_the_app_may_call_the_api(idp_server, phone, citizen, register):
    browser = QrBrowser(idp_server)
    ticket = browser.start()["ticket_id"]
    portal = register()
    website_token = portal.login(UserAgent(idp_server.url), citizen, "openid").tokens[
        "access_token"]
    for path in ("/api/qr/scan", "/api/qr/confirm"):
        body = {"ticket_id": ticket, "decision": "allow"}
        _error(phone.call(path, body, token=website_token), 403, "insufficient_scope")
        _error(phone.call(path, body, token="not-a-token"), 401, "invalid_token")
        bare = requests.post(f"{idp_server.url}{path}", json=body, timeout=20)
        _error(bare, 401, "invalid_token")
        assert bare.headers["WWW-Authenticate"].startswith("Bearer ")
    assert browser.status(ticket).json()["status"] == "waiting"


@pytest.mark.parametrize(("path", "body", "raw"), [
    ("/api/qr/scan", None, "not json"),
    ("/api/qr/scan", None, "[1, 2]"),
    ("/api/qr/scan", {}, None),
    ("/api/qr/scan", {"ticket_id": 5}, None),
    ("/api/qr/scan", {"ticket_id": ""}, None),
    ("/api/qr/confirm", {"ticket_id": "x" * 32}, None),
    ("/api/qr/confirm", {"ticket_id": "x" * 32, "decision": "maybe"}, None),
    ("/api/qr/confirm", {"ticket_id": "x" * 32, "decision": ["allow"]}, None),
    ("/api/qr/confirm", {"decision": "allow"}, None),
])
def test_malformed_app_requests_are_400_json(idp_server, phone, path, body, raw):
    _error(phone.call(path, body, data=raw), 400, "invalid_request")


def test_unknown_tickets_and_browser_side_errors_are_json(idp_server, phone):
    for ticket in ("x" * 32, "../../etc/passwd", "a" * 500):
        _error(phone.scan(ticket), 404, "unknown_ticket")
        _error(phone.confirm(ticket), 404, "unknown_ticket")
    browser = QrBrowser(idp_server)
    browser.open_login()
    _error(browser.post("/qr/start", {}, csrf=False), 400, "csrf")
    _error(browser.status("x" * 32), 404, "unknown_ticket")
    _error(browser.complete("x" * 32), 404, "unknown_ticket")
    _error(browser.http.get(f"{idp_server.url}/qr/status", timeout=20), 400, "invalid_request")
    for raw in ("{oops", "[]", '{"ticket_id": 7}', "{}"):
        bad = browser.http.post(f"{idp_server.url}/qr/complete", data=raw,
                                headers={"X-CSRFToken": browser.csrf_token,
                                         "Content-Type": "application/json"}, timeout=20)
        _error(bad, 400, "invalid_request")
    wrong_method = browser.http.get(f"{idp_server.url}/api/qr/scan", timeout=20)
    _error(wrong_method, 405, "invalid_request")


def test_a_phone_camera_gets_a_pointer_to_the_app(idp_server):
    browser = QrBrowser(idp_server)
    ticket = browser.start()["ticket_id"]
    page = requests.get(f"{idp_server.url}/qr/{ticket}", headers={"Accept-Language": "en"},
                        timeout=20)
    assert page.status_code == 200 and "一网通办 app" in page.text
    assert browser.status(ticket).json()["status"] == "waiting"  # opening it changes nothing


@pytest.fixture(scope="module")
def short_ttl_server(idp_server, tmp_path_factory, request):
    """A second IdP on the same stack whose QR codes live SHORT_TTL seconds."""
    server = launch_on_stack(request, tmp_path_factory.mktemp(f"idp-qr-{idp_server.stack}"),
                             idp_server.stack, {"IDP_QR_TICKET_TTL": str(SHORT_TTL)})
    yield server
    server.stop()


def test_tickets_expire(short_ttl_server):
    server = short_ttl_server
    citizen = server.demo["citizens"][0]
    phone = CitizenApp.sign_in(server, {"username": citizen["phone"], **citizen})
    idle = QrBrowser(server)
    started = idle.start()
    assert started["expires_in"] == SHORT_TTL
    idle_ticket = started["ticket_id"]
    confirmed, ticket = _approved(server, phone)
    time.sleep(SHORT_TTL + 0.3)
    assert idle.status(idle_ticket).json() == {"status": "expired", "expires_in": 0}
    _error(phone.scan(idle_ticket), 410, "expired_ticket")
    _error(confirmed.complete(ticket), 410, "expired_ticket")
    _error(phone.confirm(ticket, "deny"), 410, "expired_ticket")
    assert confirmed.home().status_code == 302
