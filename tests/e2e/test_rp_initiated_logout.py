"""OpenID conformance, ``oidcc-rp-initiated-logout-certification-test-plan``, plus bad input.

A portal sends the citizen's browser to ``end_session_endpoint`` (RP-Initiated Logout 1.0). With
an ID token hint naming the browser's own session the IdP signs out at once and returns to a
registered ``post_logout_redirect_uri``; without one it asks first (logout CSRF, §2 and §6).
Forged hints are refused with an error page; unregistered addresses are never redirected to.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from idp.config import load_settings
from idp.container import build_services
from tests.e2e.device_parties import audit_count
from tests.e2e.oidc_client import REDIRECT_URI, Login, RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer

pytestmark = pytest.mark.e2e

LOGGED_OUT = "https://rp.example.test/logged-out"
SCOPE = "openid offline_access"
PENDING = re.compile(r'name="pending" value="([^"]+)"')


@pytest.fixture(scope="module")
def portal(idp_server: IdpServer) -> RelyingParty:
    """A website client with a registered post-logout address."""
    data = idp_server.create_client(
        "--name", f"Logout portal {uuid.uuid4().hex[:6]}", "--channel", "website",
        "--redirect-uri", REDIRECT_URI, "--post-logout-redirect-uri", LOGGED_OUT,
        "--skip-consent")
    return RelyingParty(idp_server, data["client_id"], data["client_secret"], REDIRECT_URI)


@pytest.fixture
def browser(agent: UserAgent) -> UserAgent:
    agent.http.headers["Accept-Language"] = "en"
    return agent


@pytest.fixture
def login(portal: RelyingParty, browser: UserAgent, citizen: dict[str, Any]) -> Login:
    result = portal.login(browser, citizen, SCOPE)
    assert result.tokens.get("refresh_token")
    return result


def end_session(portal: RelyingParty, browser: UserAgent, **params: str) -> requests.Response:
    return browser.http.get(portal.endpoint("end_session"), params=params,
                            allow_redirects=False, timeout=20)


def confirm(portal: RelyingParty, browser: UserAgent, page: requests.Response,
            decision: str = "logout") -> requests.Response:
    """Answer the "Sign out?" page as the citizen would."""
    found = PENDING.search(page.text)
    assert found, page.text
    return browser.http.post(portal.endpoint("end_session"), allow_redirects=False, timeout=20,
                             data={"csrf_token": UserAgent.csrf(page), "pending": found.group(1),
                                   "decision": decision})


def assert_asks(page: requests.Response) -> None:
    assert page.status_code == 200, page.text
    assert "Location" not in page.headers
    assert "Sign out of One-Stop Government Services?" in page.text
    assert 'name="decision" value="logout"' in page.text
    assert 'name="decision" value="stay"' in page.text


def assert_signed_out_page(page: requests.Response, *, refused: bool = False) -> None:
    assert page.status_code == 200, page.text
    assert "Location" not in page.headers
    assert "You are signed out" in page.text
    assert ("not one registered for it" in page.text) is refused
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def assert_error_page(page: requests.Response) -> None:
    assert page.status_code == 400, page.text
    assert "Location" not in page.headers
    assert "This sign-out request cannot be processed" in page.text
    assert "nothing was changed" in page.text
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def assert_signed_out(portal: RelyingParty, browser: UserAgent, login: Login) -> None:
    """prompt=none needs a new sign-in; the old tokens are dead."""
    req = portal.auth_request(prompt="none")
    portal.expect_error(req, portal.authorize(browser, req, None), "login_required")
    assert portal.userinfo(login.tokens["access_token"]).status_code == 401
    refreshed = portal.refresh(login.tokens["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


def assert_still_signed_in(portal: RelyingParty, browser: UserAgent, login: Login) -> None:
    again = portal.login(browser, None, prompt="none")
    assert again.id_claims["sid"] == login.id_claims["sid"]
    assert portal.userinfo(login.tokens["access_token"]).status_code == 200


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def resigned(idp_server: IdpServer, id_token: str, **changes: Any) -> str:
    """The same ID token signed again with the server's own key, claims changed (standing in
    for time passing, or for a mistake of ours)."""
    header = _header(id_token)
    claims = {**_claims(id_token), **changes}
    svc = build_services(load_settings(idp_server.env))  # the key is sealed in the database
    try:
        signer = svc.keys.ring(force=True).signer("RS256")
    finally:
        svc.close()
    assert signer is not None and signer.kid == header["kid"]
    return jwt.encode(header, claims, signer.key, algorithms=["RS256"])


def _part(token: str, index: int) -> dict[str, Any]:
    raw = token.split(".")[index]
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    return value


def _header(token: str) -> dict[str, Any]:
    return _part(token, 0)


def _claims(token: str) -> dict[str, Any]:
    return _part(token, 1)


# -- the certification plan --------------------------------------------------------------------


def test_oidcc_rp_initiated_logout_discovery_endpoint_verification(portal: RelyingParty) -> None:
    """Discovery advertises end_session_endpoint under the issuer."""
    assert portal.config["end_session_endpoint"] == portal.issuer + "/end_session"


def test_oidcc_rp_initiated_logout(idp_server: IdpServer, portal: RelyingParty,
                                   browser: UserAgent, login: Login) -> None:
    """A matching hint signs out at once and returns to the registered address with state."""
    before = audit_count(idp_server, "session:end:success", client_id=portal.client_id)
    resp = end_session(portal, browser, id_token_hint=login.tokens["id_token"],
                       post_logout_redirect_uri=LOGGED_OUT, state="s-123")
    assert resp.status_code == 302, resp.text
    assert resp.headers["Location"] == LOGGED_OUT + "?state=s-123"
    assert_signed_out(portal, browser, login)
    after = audit_count(idp_server, "session:end:success", client_id=portal.client_id)
    assert after == before + 1


def test_oidcc_rp_initiated_logout_bad_post_logout_redirect_uri(
        portal: RelyingParty, browser: UserAgent, login: Login) -> None:
    """An unregistered address is not followed; the hint was valid, so the sign-out stands."""
    resp = end_session(portal, browser, id_token_hint=login.tokens["id_token"],
                       post_logout_redirect_uri="https://attacker.example.test/logged-out",
                       state="s")
    assert_signed_out_page(resp, refused=True)
    assert_signed_out(portal, browser, login)


def test_oidcc_rp_initiated_logout_modified_id_token_hint(
        portal: RelyingParty, browser: UserAgent, login: Login) -> None:
    """A hint rewritten to alg=none is refused with an error page; nobody is signed out."""
    header, claims, _sig = login.tokens["id_token"].split(".")
    unsigned = f"{b64({**_header(login.tokens['id_token']), 'alg': 'none'})}.{claims}."
    resp = end_session(portal, browser, id_token_hint=unsigned,
                       post_logout_redirect_uri=LOGGED_OUT, state="s")
    assert_error_page(resp)
    assert_still_signed_in(portal, browser, login)


def test_oidcc_rp_initiated_logout_no_id_token_hint(
        portal: RelyingParty, browser: UserAgent, login: Login) -> None:
    """Without a hint the citizen is asked; the portal is not identified, so no redirect."""
    page = end_session(portal, browser, post_logout_redirect_uri=LOGGED_OUT, state="s")
    assert_asks(page)
    assert_still_signed_in(portal, browser, login)
    assert_signed_out_page(confirm(portal, browser, page), refused=True)
    assert_signed_out(portal, browser, login)


def test_oidcc_rp_initiated_logout_no_params(portal: RelyingParty, browser: UserAgent,
                                             login: Login) -> None:
    """No parameters: ask, then sign out and show the signed-out page."""
    page = end_session(portal, browser)
    assert_asks(page)
    assert_signed_out_page(confirm(portal, browser, page))
    assert_signed_out(portal, browser, login)


def test_oidcc_rp_initiated_logout_no_post_logout_redirect_uri(
        portal: RelyingParty, browser: UserAgent, login: Login) -> None:
    """A matching hint without an address signs out and shows the signed-out page."""
    resp = end_session(portal, browser, id_token_hint=login.tokens["id_token"])
    assert_signed_out_page(resp)
    assert_signed_out(portal, browser, login)


def test_oidcc_rp_initiated_logout_no_state(portal: RelyingParty, browser: UserAgent,
                                            login: Login) -> None:
    """Without state the redirect is to the registered address exactly, nothing added."""
    resp = end_session(portal, browser, id_token_hint=login.tokens["id_token"],
                       post_logout_redirect_uri=LOGGED_OUT)
    assert resp.status_code == 302, resp.text
    assert resp.headers["Location"] == LOGGED_OUT
    assert_signed_out(portal, browser, login)


def test_oidcc_rp_initiated_logout_only_state(portal: RelyingParty, browser: UserAgent,
                                              login: Login) -> None:
    """Only state: ask, then show the signed-out page (state alone sends nobody anywhere)."""
    page = end_session(portal, browser, state="only")
    assert_asks(page)
    assert_signed_out_page(confirm(portal, browser, page))
    assert_signed_out(portal, browser, login)


def test_oidcc_rp_initiated_logout_query_added_to_post_logout_redirect_uri(
        portal: RelyingParty, browser: UserAgent, login: Login) -> None:
    """The registered address with ?foo=bar added is not an exact match: no redirect."""
    resp = end_session(portal, browser, id_token_hint=login.tokens["id_token"],
                       post_logout_redirect_uri=LOGGED_OUT + "?foo=bar", state="s")
    assert_signed_out_page(resp, refused=True)
    assert_signed_out(portal, browser, login)


def test_oidcc_rp_initiated_logout_bad_id_token_hint(
        portal: RelyingParty, browser: UserAgent, login: Login) -> None:
    """A hint with our claims but signed by someone else's key is refused; nobody signs out."""
    key = RSAKey.generate_key(2048, private=True)
    header = {**_header(login.tokens["id_token"]), "kid": key.thumbprint()}
    forged = jwt.encode(header, _claims(login.tokens["id_token"]), key, algorithms=["RS256"])
    resp = end_session(portal, browser, id_token_hint=forged,
                       post_logout_redirect_uri=LOGGED_OUT, state="s")
    assert_error_page(resp)
    assert_still_signed_in(portal, browser, login)


# -- bad input and edges -----------------------------------------------------------------------


def test_garbled_hint_is_refused(portal: RelyingParty, browser: UserAgent, login: Login) -> None:
    """A hint that is not a JWT at all gets the error page."""
    for garbage in ("not-a-token", "a.b.c", login.tokens["id_token"][:-8]):
        assert_error_page(end_session(portal, browser, id_token_hint=garbage,
                                      post_logout_redirect_uri=LOGGED_OUT))
    assert_still_signed_in(portal, browser, login)


def test_hint_from_another_issuer_is_refused(idp_server: IdpServer, portal: RelyingParty,
                                             browser: UserAgent, login: Login) -> None:
    """Another issuer's ID token (its own key), or one naming another issuer, is refused."""
    key = RSAKey.generate_key(2048, private=True)
    claims = {**_claims(login.tokens["id_token"]), "iss": "https://other-idp.example.test"}
    theirs = jwt.encode({"alg": "RS256", "kid": key.thumbprint(), "typ": "JWT"}, claims, key,
                        algorithms=["RS256"])
    ours_but_other_iss = resigned(idp_server, login.tokens["id_token"],
                                  iss="https://other-idp.example.test")
    for hint in (theirs, ours_but_other_iss):
        assert_error_page(end_session(portal, browser, id_token_hint=hint,
                                      post_logout_redirect_uri=LOGGED_OUT))
    assert_still_signed_in(portal, browser, login)


def test_access_token_is_not_a_hint(portal: RelyingParty, browser: UserAgent,
                                    login: Login) -> None:
    """Our access tokens are signed with the same key but are not ID tokens."""
    assert_error_page(end_session(portal, browser, id_token_hint=login.tokens["access_token"]))
    assert_still_signed_in(portal, browser, login)


def test_client_id_not_matching_the_hint_is_refused(
        register: Any, portal: RelyingParty, browser: UserAgent, login: Login) -> None:
    """client_id must be the hint's audience (§2)."""
    other = register()
    resp = end_session(portal, browser, id_token_hint=login.tokens["id_token"],
                       client_id=other.client_id, post_logout_redirect_uri=LOGGED_OUT)
    assert_error_page(resp)
    assert_still_signed_in(portal, browser, login)


def test_expired_hint_is_accepted(idp_server: IdpServer, portal: RelyingParty,
                                  browser: UserAgent, login: Login) -> None:
    """An expired ID token is still a valid hint (§2)."""
    long_ago = int(time.time()) - 7200
    expired = resigned(idp_server, login.tokens["id_token"], iat=long_ago, exp=long_ago + 300)
    resp = end_session(portal, browser, id_token_hint=expired, client_id=portal.client_id,
                       post_logout_redirect_uri=LOGGED_OUT, state="late")
    assert resp.status_code == 302, resp.text
    assert resp.headers["Location"] == LOGGED_OUT + "?state=late"
    assert_signed_out(portal, browser, login)


def test_logout_without_a_session(portal: RelyingParty, browser: UserAgent,
                                  login: Login) -> None:
    """With no session left, a valid request still returns to the portal; no hint: the page."""
    first = end_session(portal, browser, id_token_hint=login.tokens["id_token"])
    assert_signed_out_page(first)
    again = end_session(portal, browser, id_token_hint=login.tokens["id_token"],
                        post_logout_redirect_uri=LOGGED_OUT, state="twice")
    assert again.status_code == 302 and again.headers["Location"] == LOGGED_OUT + "?state=twice"
    assert_signed_out_page(end_session(portal, browser))
    stranger = UserAgent(portal.server.url)
    resp = end_session(portal, stranger, client_id=portal.client_id,
                       post_logout_redirect_uri=LOGGED_OUT)
    assert resp.status_code == 302 and resp.headers["Location"] == LOGGED_OUT


def test_unregistered_address_without_a_hint_is_never_followed(
        portal: RelyingParty, browser: UserAgent, login: Login) -> None:
    """client_id plus an unregistered address: ask, then the page, never the address."""
    page = end_session(portal, browser, client_id=portal.client_id,
                       post_logout_redirect_uri="https://attacker.example.test/")
    assert_asks(page)
    assert_signed_out_page(confirm(portal, browser, page), refused=True)
    assert_signed_out(portal, browser, login)


def test_client_id_without_hint_returns_after_confirmation(
        portal: RelyingParty, browser: UserAgent, login: Login) -> None:
    """client_id identifies the portal; after the citizen confirms, back to it with state."""
    page = end_session(portal, browser, client_id=portal.client_id,
                       post_logout_redirect_uri=LOGGED_OUT, state="c")
    assert_asks(page)
    assert "Logout portal" in page.text and "asked to sign you out" in page.text
    resp = confirm(portal, browser, page)
    assert resp.status_code == 302 and resp.headers["Location"] == LOGGED_OUT + "?state=c"
    assert_signed_out(portal, browser, login)


def test_stay_signed_in(portal: RelyingParty, browser: UserAgent, login: Login) -> None:
    """Choosing to stay keeps the session and the tokens, and goes to the account page."""
    page = end_session(portal, browser, client_id=portal.client_id,
                       post_logout_redirect_uri=LOGGED_OUT)
    resp = confirm(portal, browser, page, decision="stay")
    assert resp.status_code == 302 and browser.is_ours(resp.headers["Location"])
    assert_still_signed_in(portal, browser, login)


def test_confirmation_needs_the_csrf_token(portal: RelyingParty, browser: UserAgent,
                                           login: Login) -> None:
    """A forged "Sign out" click from another site does nothing."""
    end_session(portal, browser)
    resp = browser.http.post(portal.endpoint("end_session"), allow_redirects=False, timeout=20,
                             data={"decision": "logout"})
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert_still_signed_in(portal, browser, login)


def test_hint_for_another_session_asks(portal: RelyingParty, browser: UserAgent,
                                       login: Login, other_citizen: dict[str, Any]) -> None:
    """A valid hint naming someone else's sign-in does not sign this browser out silently."""
    elsewhere = UserAgent(portal.server.url)
    theirs = portal.login(elsewhere, other_citizen, SCOPE)
    page = end_session(portal, browser, id_token_hint=theirs.tokens["id_token"],
                       post_logout_redirect_uri=LOGGED_OUT)
    assert_asks(page)
    assert_still_signed_in(portal, browser, login)
    assert_still_signed_in(portal, elsewhere, theirs)


def test_post_from_the_portal_becomes_a_get(portal: RelyingParty, browser: UserAgent,
                                            login: Login) -> None:
    """A form POST (§2) is turned into the same request as a GET, which carries the cookie."""
    params = {"id_token_hint": login.tokens["id_token"], "post_logout_redirect_uri": LOGGED_OUT,
              "state": "p", "unrelated": "dropped"}
    resp = browser.http.post(portal.endpoint("end_session"), data=params, timeout=20,
                             allow_redirects=False)
    assert resp.status_code == 303 and "unrelated" not in resp.headers["Location"]
    final = browser.http.get(urljoin(portal.endpoint("end_session"), resp.headers["Location"]),
                             allow_redirects=False, timeout=20)
    assert final.status_code == 302 and final.headers["Location"] == LOGGED_OUT + "?state=p"
    assert_signed_out(portal, browser, login)
