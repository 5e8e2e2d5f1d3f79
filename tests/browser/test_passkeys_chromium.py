"""Passkeys in real headless Chromium with a virtual authenticator (Chrome DevTools Protocol,
``WebAuthn`` domain), on both stacks: a citizen signs in with the password, adds a passkey in
the account centre, and a portal that asks for L2 gets it after the passkey alone — the ID token
says ``acr`` L2 and ``amr`` pwd + hwk.

WebAuthn refuses IP-address RP IDs, so these tests run their own IdP whose issuer is
``http://localhost:PORT`` (``localhost`` is a secure context over plain HTTP).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.oidc_client import RelyingParty
from tests.fixtures.server import IdpServer, launch_on_stack

pytestmark = pytest.mark.browser


# One stack: the browser ceremony does not depend on it; the passkey store is tested on SQLite
# and PostgreSQL in tests/accounts/test_passkeys.py (and make test stays within its budget).
@pytest.fixture(scope="module", params=["embedded"])
def localhost_idp(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdpServer]:
    server = launch_on_stack(request, tmp_path_factory.mktemp(f"passkeys-{request.param}"),
                             request.param, host="localhost",
                             # SMS off: the citizen's first factor is added with the password
                             # alone (with SMS on it takes an SMS code first: tests/web).
                             extra_env={"IDP_SMS_BACKEND": "none"})
    yield server
    server.stop()


@pytest.fixture
def authenticator(context: BrowserContext, page: Page) -> dict[str, Any]:
    """A platform authenticator with user verification (fingerprint "always matches")."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True}})
    return {"cdp": cdp, "id": added["authenticatorId"]}


def sign_in(page: Page, server: IdpServer, person: dict[str, Any]) -> None:
    page.goto(f"{server.url}/login")
    page.fill("#username", person["phone"])
    page.fill("#password", person["password"])
    page.click("form button[type=submit]")
    page.wait_for_url(f"{server.url}/")


def add_passkey(page: Page, server: IdpServer, name: str) -> None:
    page.goto(f"{server.url}/account/security")
    add = page.locator("#passkey-add")
    expect(add).to_be_visible()  # revealed by passkeys.js: WebAuthn is there
    page.fill("#passkey_name", name)
    add.click()
    expect(page.locator("#passkey-list")).to_contain_text(name)
    expect(page.locator("main")).to_contain_text("The passkey was added")


def test_a_passkey_steps_up_to_l2(localhost_idp, portal_site, page, authenticator, tmp_path):
    server = localhost_idp
    person = server.demo["citizens"][0]
    sign_in(page, server, person)
    add_passkey(page, server, "Laptop")
    credentials = authenticator["cdp"].send("WebAuthn.getCredentials",
                                            {"authenticatorId": authenticator["id"]})
    [credential] = credentials["credentials"]
    assert credential["rpId"] == "localhost" and credential["signCount"] >= 0
    page.screenshot(path=tmp_path / "passkey-added.png", full_page=True)

    portal = RelyingParty.register(server, f"passkey-{uuid.uuid4().hex[:8]}",
                                   redirect_uri=f"{portal_site}/cb")
    req = portal.auth_request("openid", acr_values="L2")
    page.goto(f"{server.url}/authorize?{urlencode(req.params)}")
    page.wait_for_url(re.compile(rf"^{re.escape(server.url)}/login/verify\?"))
    expect(page.locator("#password")).to_have_count(0)  # the password is not asked again
    use = page.locator("#passkey-start")
    expect(use).to_be_visible()
    page.screenshot(path=tmp_path / "passkey-verify.png", full_page=True)
    use.click()
    page.wait_for_url(re.compile(rf"^{re.escape(portal_site)}/cb\?"))

    query = parse_qs(urlsplit(page.url).query)
    assert query["state"] == [req.state]
    tokens = portal.redeem(query["code"][0], req)
    claims = portal.verify_id_token(tokens["id_token"], nonce=req.nonce)
    assert claims["acr"] == "L2"
    assert claims["amr"] == ["pwd", "hwk"]
    assert server.cli_json("audit", "verify")["ok"] is True  # passkey events chained too


def test_a_cancelled_passkey_shows_an_error(localhost_idp, page, authenticator):
    server = localhost_idp
    person = server.demo["citizens"][1]
    sign_in(page, server, person)
    # the "fingerprint" no longer matches: the browser refuses, nothing is posted
    authenticator["cdp"].send("WebAuthn.setUserVerified", {
        "authenticatorId": authenticator["id"], "isUserVerified": False})
    page.goto(f"{server.url}/account/security")
    page.fill("#passkey_name", "Phone")
    page.click("#passkey-add")
    alert = page.locator("#passkey-register [role=alert]")
    expect(alert).to_be_visible()
    expect(alert).not_to_be_empty()
    expect(page.locator("#passkey-list")).to_have_count(0)
