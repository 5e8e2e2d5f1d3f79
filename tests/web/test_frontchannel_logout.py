"""Front-channel logout pages (Front-Channel Logout 1.0 §4) through the Flask test client: the
"signing you out of N portals" page after RP-initiated logout, the Sign out button and ending
this browser's session in the account centre; its iframes, continue link and CSP."""

from __future__ import annotations

import base64
import html
import re
from urllib.parse import parse_qsl, urlsplit

import pytest

from idp.web.security import CSP
from tests.e2e.useragent import pkce_pair
from tests.factories import make_citizen, make_client
from tests.fixtures.listener import jwt_parts
from tests.web.test_account_centre import EN, page, sign_in
from tests.web.test_pages import csrf

TAX = "https://tax.example.gov.cn"
TAX_FC = f"{TAX}/oidc/frontchannel?tenant=1"
TAX_BYE = f"{TAX}/signed-out"
HEALTH = "https://health.example.gov.cn:8443"
IFRAME = re.compile(r"<iframe\b[^>]*\bsrc=\"([^\"]*)\"")
SCRIPT = re.compile(r"<script\b([^>]*)>")
CONTINUE = re.compile(r"<a id=\"frontchannel-continue\" href=\"([^\"]*)\"")


@pytest.fixture
def citizen(services):
    return make_citizen(services)


def portal(services, name, *, frontchannel=None, post_logout=(), site=None):
    redirect = f"{site or f'https://{name}.example.gov.cn'}/callback"
    return make_client(services, name=name, redirect_uri=redirect, skip_consent=True,
                       frontchannel_logout_uri=frontchannel,
                       post_logout_redirect_uris=tuple(post_logout))


def code_flow(client, rp):
    """The portal's code flow in this browser: the portal joins the SSO session; returns the
    ID token."""
    verifier, challenge = pkce_pair()
    resp = client.get("/authorize", headers=EN, query_string={
        "response_type": "code", "client_id": rp.client_id, "redirect_uri": rp.redirect_uri,
        "scope": "openid", "state": "st", "nonce": "n", "code_challenge": challenge,
        "code_challenge_method": "S256"})
    assert resp.status_code == 302 and resp.headers["Location"].startswith(rp.redirect_uri)
    code = dict(parse_qsl(urlsplit(resp.headers["Location"]).query))["code"]
    basic = base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()
    tokens = client.post("/token", headers={"Authorization": f"Basic {basic}"}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
        "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    return tokens.get_json()["id_token"]


def sid_of(id_token):
    return jwt_parts(id_token)[1]["sid"]


def directives(resp):
    policy = resp.headers["Content-Security-Policy"]
    return dict((d.strip().split(" ", 1) + [""])[:2] for d in policy.split(";"))


def frames(body):
    return [html.unescape(src) for src in IFRAME.findall(body)]


def continue_to(body):
    found = CONTINUE.search(body)
    assert found, body
    return html.unescape(found.group(1))


def assert_frontchannel_page(resp, *, count, origins):
    """The page: the count, a static script only (CSP), the no-JS fallback, frame-src exactly
    the given origins and everything else as strict as every other page."""
    assert resp.status_code == 200, resp.status_code
    assert "Location" not in resp.headers
    body = resp.get_data(as_text=True)
    noun = "portal" if count == 1 else "portals"
    assert f"Signing you out of {count} {noun}." in body
    assert [attrs for attrs in SCRIPT.findall(body)] == [
        ' src="/static/frontchannel-logout.js"']
    assert "<noscript>" in body and ">Continue</a>" in body
    policy = directives(resp)
    assert policy.pop("frame-src") == " ".join(origins)
    assert "; ".join(f"{k} {v}".strip() for k, v in policy.items()) == CSP
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"
    assert len(frames(body)) == count
    return body


def test_discovery_advertises_front_channel_logout_with_session(client):
    config = client.get("/.well-known/openid-configuration").get_json()
    assert config["frontchannel_logout_supported"] is True
    assert config["frontchannel_logout_session_supported"] is True


def test_rp_initiated_logout_frames_the_participating_portal_then_returns_with_state(
        client, services, citizen):
    tax = portal(services, "tax", frontchannel=TAX_FC, post_logout=[TAX_BYE])
    plain = portal(services, "plain")  # took part, no frontchannel_logout_uri: no frame
    portal(services, "absent", frontchannel="https://absent.example.gov.cn/fc")  # not used
    sign_in(client, citizen)
    hint = code_flow(client, tax)
    code_flow(client, plain)
    sid = sid_of(hint)

    resp = client.get("/end_session", headers=EN, query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": TAX_BYE, "state": "s 1"})
    body = assert_frontchannel_page(resp, count=1, origins=[TAX])
    [url] = frames(body)
    assert url.startswith(f"{TAX}/oidc/frontchannel?")
    assert parse_qsl(urlsplit(url).query) == [("tenant", "1"), ("iss", services.settings.issuer),
                                              ("sid", sid)]
    assert body.count(sid) == 1  # in the iframe URL, nowhere else
    assert continue_to(body) == f"{TAX_BYE}?state=s+1"
    assert services.sso.get(sid) is None
    assert client.get("/").status_code == 302  # signed out before the page is shown


def test_rp_initiated_logout_without_front_channel_portals_redirects_at_once(
        client, services, citizen):
    plain = portal(services, "plain", post_logout=["https://plain.example.gov.cn/bye"])
    sign_in(client, citizen)
    hint = code_flow(client, plain)
    resp = client.get("/end_session", headers=EN, query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": "https://plain.example.gov.cn/bye",
        "state": "x"})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "https://plain.example.gov.cn/bye?state=x"
    assert "frame-src" not in resp.headers["Content-Security-Policy"]
    assert services.sso.get(sid_of(hint)) is None


def test_confirmed_logout_without_an_address_goes_on_to_the_signed_out_page(
        client, services, citizen):
    """No hint: the citizen confirms; the refused address is never followed — the page goes
    on to our signed-out page, which says why."""
    tax = portal(services, "tax", frontchannel=TAX_FC, post_logout=[TAX_BYE])
    sign_in(client, citizen)
    sid = sid_of(code_flow(client, tax))
    ask = client.get("/end_session", headers=EN, query_string={
        "client_id": tax.client_id, "post_logout_redirect_uri": "https://evil.example/"})
    pending = re.search(r'name="pending" value="([^"]+)"', ask.get_data(as_text=True)).group(1)
    resp = client.post("/end_session", headers=EN, data={
        "csrf_token": csrf(ask), "pending": pending, "decision": "logout"})
    body = assert_frontchannel_page(resp, count=1, origins=[TAX])
    assert dict(parse_qsl(urlsplit(frames(body)[0]).query))["sid"] == sid
    assert continue_to(body) == "/logged_out?refused=1"
    signed_out = page(client, "/logged_out?refused=1")
    assert "You are signed out" in signed_out and "not one registered for it" in signed_out
    assert "not one registered for it" not in page(client, "/logged_out")


def test_sign_out_button_frames_every_front_channel_portal_then_goes_to_sign_in(
        client, services, citizen):
    tax = portal(services, "tax", frontchannel=TAX_FC)
    health = portal(services, "health", frontchannel=f"{HEALTH}/logout", site=HEALTH)
    sign_in(client, citizen)
    sid = sid_of(code_flow(client, tax))
    code_flow(client, health)
    code_flow(client, tax)  # again: still one frame for it

    resp = client.post("/logout", headers=EN, data={"csrf_token": csrf(client.get("/"))})
    body = assert_frontchannel_page(resp, count=2, origins=[TAX, HEALTH])
    assert [urlsplit(u)[:3] for u in frames(body)] == [
        ("https", "tax.example.gov.cn", "/oidc/frontchannel"),
        ("https", "health.example.gov.cn:8443", "/logout")]
    for url in frames(body):
        assert dict(parse_qsl(urlsplit(url).query))["sid"] == sid
    assert continue_to(body) == "/login"
    assert services.sso.get(sid) is None


def test_sign_out_button_without_front_channel_portals_redirects_as_before(
        client, services, citizen):
    plain = portal(services, "plain")
    sign_in(client, citizen)
    code_flow(client, plain)
    resp = client.post("/logout", headers=EN, data={"csrf_token": csrf(client.get("/"))})
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    assert "frame-src" not in resp.headers["Content-Security-Policy"]


def test_ending_this_browsers_session_in_the_account_centre_tells_the_portals(
        client, services, citizen):
    from idp.sessions import session_ref

    tax = portal(services, "tax", frontchannel=TAX_FC)
    sign_in(client, citizen)
    sid = sid_of(code_flow(client, tax))
    sessions_page = client.get("/account/sessions", headers=EN)
    resp = client.post("/account/sessions/end", headers=EN, data={
        "csrf_token": csrf(sessions_page), "session": session_ref(sid)})
    body = assert_frontchannel_page(resp, count=1, origins=[TAX])
    assert continue_to(body) == "/login"
