"""OpenID conformance, ``oidcc-basic-certification-test-plan``: sessions, prompts, consent.

The modules that call the authorization endpoint twice — once to sign in, once to test what the
SSO session does (``prompt``, ``max_age``, ``id_token_hint``) — plus the consent page, which the
suite leaves to screenshots. ``auth_time`` has one-second resolution, so the tests that need a
later sign-in wait just over a second.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent

pytestmark = pytest.mark.e2e


def _wait_next_second(since: int) -> None:
    """Sleep until the wall clock is at least one whole second past ``since``."""
    time.sleep(max(0.0, since + 1.1 - time.time()))


def test_oidcc_prompt_login(rp: RelyingParty, agent: UserAgent,
                            citizen: dict[str, Any]) -> None:
    """prompt=login makes a signed-in citizen sign in again, giving a later auth_time."""
    first = rp.login(agent, citizen)
    _wait_next_second(first.id_claims["auth_time"])
    second = rp.login(agent, citizen, prompt="login")
    assert agent.sign_ins == 2
    assert second.sub == first.sub
    assert second.id_claims["auth_time"] > first.id_claims["auth_time"]
    # Signing in again keeps the SSO session (one sid per sign-in session, DESIGN.md §2).
    assert second.id_claims["sid"] == first.id_claims["sid"]
    # A later silent request reports the new sign-in time.
    third = rp.login(agent, None, prompt="none")
    assert third.id_claims["auth_time"] == second.id_claims["auth_time"]


def test_prompt_login_cannot_be_replayed(rp: RelyingParty, agent: UserAgent,
                                         citizen: dict[str, Any]) -> None:
    """A fresh sign-in satisfies one prompt=login request once: sending the very same request
    again asks again."""
    rp.login(agent, citizen)
    req = rp.auth_request(prompt="login")
    rp.expect_code(req, rp.authorize(agent, req, citizen))
    assert agent.sign_ins == 2
    rp.expect_code(req, rp.authorize(agent, req, citizen))
    assert agent.sign_ins == 3


def test_oidcc_prompt_none_not_logged_in(rp: RelyingParty, agent: UserAgent) -> None:
    """prompt=none without an SSO session redirects back with login_required."""
    req = rp.auth_request(prompt="none")
    rp.expect_error(req, rp.authorize(agent, req, None), "login_required")
    assert agent.sign_ins == 0


def test_oidcc_prompt_none_logged_in(rp: RelyingParty, agent: UserAgent,
                                     citizen: dict[str, Any]) -> None:
    """prompt=none with an SSO session issues a code silently, for the same citizen and sign-in."""
    first = rp.login(agent, citizen)
    second = rp.login(agent, None, prompt="none")
    assert agent.sign_ins == 1
    assert second.sub == first.sub
    assert second.id_claims["auth_time"] == first.id_claims["auth_time"]
    assert second.id_claims["sid"] == first.id_claims["sid"]


def test_oidcc_max_age_1(rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any]) -> None:
    """After more than max_age=1 seconds the citizen must sign in again (later auth_time);
    with prompt=none that is login_required instead."""
    first = rp.login(agent, citizen)
    _wait_next_second(first.id_claims["auth_time"])
    time.sleep(1.0)  # now strictly more than one second since auth_time
    silent = rp.auth_request(max_age="1", prompt="none")
    rp.expect_error(silent, rp.authorize(agent, silent, None), "login_required")
    second = rp.login(agent, citizen, max_age="1")
    assert agent.sign_ins == 2
    assert any('name="password"' in page.text for page in agent.pages[-4:])
    assert second.sub == first.sub
    assert second.id_claims["auth_time"] > first.id_claims["auth_time"]


def test_oidcc_max_age_10000(rp: RelyingParty, agent: UserAgent,
                             citizen: dict[str, Any]) -> None:
    """A recent enough sign-in satisfies max_age without asking again; auth_time is kept."""
    first = rp.login(agent, citizen, max_age="15000")
    second = rp.login(agent, None, max_age="10000")
    assert agent.sign_ins == 1
    assert second.sub == first.sub
    assert second.id_claims["auth_time"] == first.id_claims["auth_time"]


def test_max_age_malformed(rp: RelyingParty, agent: UserAgent) -> None:
    """A max_age that is not a non-negative integer is invalid_request, sent to the client."""
    for value in ("abc", "-1", "1.5"):
        req = rp.auth_request(max_age=value)
        rp.expect_error(req, rp.authorize(agent, req, None), "invalid_request")


def test_oidcc_id_token_hint(rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any],
                             other_citizen: dict[str, Any]) -> None:
    """prompt=none with the previous ID token as id_token_hint succeeds silently for the same
    citizen; a hint naming someone else, or not issued here, is refused."""
    first = rp.login(agent, citizen)
    hint = first.tokens["id_token"]
    second = rp.login(agent, None, prompt="none", id_token_hint=hint)
    assert agent.sign_ins == 1
    assert second.sub == first.sub
    assert second.id_claims["auth_time"] == first.id_claims["auth_time"]

    someone_else = rp.login(UserAgent(rp.server.url), other_citizen).tokens["id_token"]
    req = rp.auth_request(prompt="none", id_token_hint=someone_else)
    rp.expect_error(req, rp.authorize(agent, req, None), "login_required")

    head, body, _ = hint.split(".")
    req = rp.auth_request(prompt="none", id_token_hint=f"{head}.{body}.AAAA")
    rp.expect_error(req, rp.authorize(agent, req, None), "invalid_request")


def test_prompt_none_with_another_value(rp: RelyingParty, agent: UserAgent,
                                        citizen: dict[str, Any]) -> None:
    """prompt=none together with another value is invalid_request (OIDC Core §3.1.2.1)."""
    rp.login(agent, citizen)
    req = rp.auth_request(prompt="none login")
    rp.expect_error(req, rp.authorize(agent, req, None), "invalid_request")


def test_consent_allow_is_remembered(register: Any, agent: UserAgent,
                                     citizen: dict[str, Any]) -> None:
    """A portal that needs consent shows the consent page once; after allow, the citizen is not
    asked again for the same scopes, but prompt=consent asks again."""
    portal = register(skip_consent=False)
    req = portal.auth_request("openid profile")
    resp = portal.authorize(agent, req, citizen, consent="allow")
    portal.expect_code(req, resp)
    assert any('name="decision"' in page.text for page in agent.pages)

    pages_before = len(agent.pages)
    again = portal.auth_request("openid profile")
    portal.expect_code(again, portal.authorize(agent, again, None, consent=None))
    assert not any('name="decision"' in p.text for p in agent.pages[pages_before:])

    forced = portal.auth_request("openid profile", prompt="consent")
    page = agent.visit(forced.params)
    assert page.status_code == 200 and 'name="decision"' in page.text


def test_consent_deny(register: Any, agent: UserAgent, citizen: dict[str, Any]) -> None:
    """Denying consent sends access_denied (with iss and state) and grants nothing."""
    portal = register(skip_consent=False)
    req = portal.auth_request("openid profile")
    portal.expect_error(req, portal.authorize(agent, req, citizen, consent="deny"),
                        "access_denied")
    silent = portal.auth_request("openid profile", prompt="none")
    portal.expect_error(silent, portal.authorize(agent, silent, None), "consent_required")


def test_consent_form_needs_csrf_token(register: Any, agent: UserAgent,
                                       citizen: dict[str, Any]) -> None:
    """A consent decision posted without the page's CSRF token is refused, not a grant."""
    portal = register(skip_consent=False)
    req = portal.auth_request("openid profile")
    page = agent.visit(req.params, username=citizen["username"], password=citizen["password"])
    assert page.status_code == 200 and 'name="decision"' in page.text
    forged = agent.http.post(page.url, data={"decision": "allow"}, allow_redirects=False,
                             timeout=10)
    assert forged.status_code == 400 and "Location" not in forged.headers


def test_first_visit_asks_consent_even_for_openid_alone(register, citizen):
    """A portal that needs consent gets no identifier for the citizen before they agree."""
    rp: RelyingParty = register(skip_consent=False)
    agent = UserAgent(rp.server.url)
    req = rp.auth_request(scope="openid")
    page = agent.visit(req.params, username=citizen["phone"], password=citizen["password"])
    assert page.status_code == 200 and 'name="decision"' in page.text
