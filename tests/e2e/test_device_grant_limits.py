"""Device grant: expiry and user-code guessing limits (RFC 8628 §5.1), on a strict server."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.device_parties import (
    STRICT_LIMIT,
    STRICT_TTL,
    Terminal,
    app_login,
    audit_count,
    browser,
    fresh_ip,
    guess,
    open_code,
    tokens_of,
)
from tests.fixtures.server import IdpServer


# -- expiry and guessing limits (the strict server) -----------------------------------------------
def test_an_expired_device_code(strict_server: IdpServer,
                                other_citizen: dict[str, Any]) -> None:
    terminal = Terminal.demo(strict_server)
    app = app_login(strict_server, other_citizen)
    issued_before = tokens_of(strict_server, terminal.client_id)
    flow = terminal.begin()
    assert flow["expires_in"] == STRICT_TTL
    assert terminal.error(flow["device_code"]) == "authorization_pending"
    time.sleep(STRICT_TTL + 0.5)
    assert terminal.error(flow["device_code"]) == "expired_token"
    for late in (app.lookup(flow["user_code"]), app.approve(flow["user_code"])):
        assert late.status_code == 400 and late.json()["error"] == "expired_token"
    page = open_code(browser(strict_server, other_citizen), flow["user_code"])
    assert page.status_code == 400 and 'name="decision"' not in page.text
    assert terminal.error(flow["device_code"]) == "expired_token"
    assert tokens_of(strict_server, terminal.client_id) == issued_before


def test_user_code_guessing_is_throttled_per_ip(strict_server: IdpServer,
                                                citizen: dict[str, Any],
                                                other_citizen: dict[str, Any]) -> None:
    terminal = Terminal.demo(strict_server)
    network = fresh_ip()
    guesser = browser(strict_server, citizen)
    bystander = browser(strict_server, other_citizen)
    flow = terminal.begin()
    for _ in range(STRICT_LIMIT):
        assert open_code(guesser, guess(), ip=network).status_code == 404
    # From that network even the right code is refused now — for anyone signed in there.
    for agent in (guesser, bystander):
        refused = open_code(agent, flow["user_code"], ip=network)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) > 0
        assert 'name="decision"' not in refused.text and 'role="alert"' in refused.text
    assert audit_count(strict_server, "device:user_code:throttled", ip=network) == 2
    # Another network, another citizen: not refused.
    assert 'name="decision"' in open_code(bystander, flow["user_code"], ip=fresh_ip()).text
    assert terminal.error(flow["device_code"]) == "authorization_pending"


def test_user_code_guessing_is_throttled_per_account(strict_server: IdpServer) -> None:
    terminal = Terminal.demo(strict_server)
    person = strict_server.demo["citizens"][2]
    who = {"username": person["phone"], "password": person["password"]}
    app = app_login(strict_server, who)
    flow = terminal.begin()
    for _ in range(STRICT_LIMIT):  # each guess from another address
        miss = app.lookup(guess(), ip=fresh_ip())
        assert miss.status_code == 404 and miss.json()["error"] == "invalid_user_code"
    # The account is refused from any address, in the app and in the browser.
    for refused in (app.lookup(flow["user_code"], ip=fresh_ip()),
                    app.approve(flow["user_code"], ip=fresh_ip())):
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"] == "too_many_attempts"
        assert int(refused.headers["Retry-After"]) > 0
    page = open_code(browser(strict_server, who), flow["user_code"], ip=fresh_ip())
    assert page.status_code == 429
    assert audit_count(strict_server, "device:user_code:throttled",
                       subject=app.login.sub) == 3
    assert terminal.error(flow["device_code"]) == "authorization_pending"  # nothing decided
