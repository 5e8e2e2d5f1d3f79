"""Passkeys through the Flask test client: registered from /account/security, step-up to L2 at
/login/verify (acr L2, amr pwd + hwk) — CSRF header required, bad JSON answered as JSON, never a
500, nothing written."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from idp.store.models import Passkey
from tests.factories import make_citizen, make_client
from tests.fixtures.soft_authenticator import SoftAuthenticator, b64url
from tests.oidc.test_step_up import id_token_claims
from tests.web.test_account_centre import EN, page, sign_in
from tests.web.test_pages import csrf
from tests.web.test_session_limits import authorize

ORIGIN = "http://localhost:5000"


@pytest.fixture
def settings(make_settings, db_url):
    """SMS codes off: an account with no factor yet adds its first one with the password alone
    (with SMS on it must confirm by SMS first: tests/web/test_enrolment_policy.py)."""
    return make_settings(IDP_DATABASE_URL=db_url, IDP_SMS_BACKEND="none")


@pytest.fixture
def citizen(services):
    return make_citizen(services)


@pytest.fixture
def authenticator():
    return SoftAuthenticator(ORIGIN)


def rows(services):
    with services.sessions() as session:
        return session.scalar(select(func.count()).select_from(Passkey))


DATA_CSRF = re.compile(r'data-csrf="([^"]+)"')


def token(client, path="/account/security"):
    """The CSRF token the page hands to static/passkeys.js (a form's, or the panel's)."""
    html = client.get(path, headers=EN).get_data(as_text=True)
    found = DATA_CSRF.search(html)
    return found.group(1) if found else csrf(client.get(path, headers=EN))


def post_json(client, path, body, csrf_token):
    headers = {**EN, "Accept": "application/json"}
    if csrf_token:
        headers["X-CSRFToken"] = csrf_token
    return client.post(path, json=body, headers=headers)


def register(client, authenticator, name="My phone"):
    tok = token(client)
    options = post_json(client, "/account/security/passkeys/options", {}, tok)
    assert options.status_code == 200, options.get_data(as_text=True)
    return post_json(client, "/account/security/passkeys",
                     {"name": name, "credential": authenticator.register(options.get_json())},
                     tok)


def test_register_list_and_remove(client, services, citizen, authenticator):
    sign_in(client, citizen)
    html = page(client, "/account/security")
    assert 'data-passkey="register"' in html and "/static/passkeys.js" in html
    assert "<script>" not in html  # no inline script (CSP)
    done = register(client, authenticator)
    assert done.status_code == 201 and done.get_json() == {"redirect": "/account/security"}
    assert rows(services) == 1
    html = page(client, "/account/security")
    assert "My phone" in html and "The passkey was added" in html
    assert citizen.id_number not in html
    [info] = services.passkeys.list(citizen.sub)
    tok = csrf(client.get("/account/security", headers=EN))
    # Removing a factor takes a session that has shown one (L2): first to /login/verify.
    refused = client.post(f"/account/security/passkeys/{info.id}/delete", headers=EN,
                          data={"csrf_token": tok})
    assert urlsplit(refused.headers["Location"]).path == "/login/verify"
    assert rows(services) == 1
    tok = token(client, "/login/verify")
    options = post_json(client, "/login/verify/passkey/options", {}, tok).get_json()
    assert post_json(client, "/login/verify/passkey", {
        "credential": authenticator.assertion(options), "next": "/account/security"},
        tok).get_json() == {"redirect": "/account/security"}
    gone = client.post(f"/account/security/passkeys/{info.id}/delete", headers=EN,
                       data={"csrf_token": tok})
    assert gone.status_code == 302 and rows(services) == 0
    assert "The passkey was removed" in page(client, "/account/security")


def test_a_passkey_steps_up_to_l2(client, services, citizen, authenticator):
    portal = make_client(services, skip_consent=True)
    sign_in(client, citizen)
    assert register(client, authenticator).status_code == 201
    resp, verifier = authorize(client, portal, acr_values="L2")
    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/login/verify"
    verify_page = client.get(resp.headers["Location"], headers=EN)
    html = verify_page.get_data(as_text=True)
    assert 'data-passkey="verify"' in html and 'name="password"' not in html
    next_url = parse_qs(urlsplit(resp.headers["Location"]).query)["next"][0]
    tok = DATA_CSRF.search(html).group(1)
    options = post_json(client, "/login/verify/passkey/options", {}, tok)
    assert options.status_code == 200
    done = post_json(client, "/login/verify/passkey",
                     {"credential": authenticator.assertion(options.get_json()),
                      "next": next_url}, tok)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json() == {"redirect": next_url}
    [session] = services.sso.for_account(citizen.sub)
    assert session.acr == "L2" and session.amr == ["pwd", "hwk"]
    back = client.get(next_url, headers=EN)
    claims = id_token_claims(client, portal, back, verifier)
    assert claims["acr"] == "L2" and claims["amr"] == ["pwd", "hwk"]


def test_a_foreign_next_is_not_followed(client, services, citizen, authenticator):
    sign_in(client, citizen)
    register(client, authenticator)
    tok = token(client, "/login/verify")
    options = post_json(client, "/login/verify/passkey/options", {}, tok).get_json()
    done = post_json(client, "/login/verify/passkey",
                     {"credential": authenticator.assertion(options),
                      "next": "https://evil.example/"}, tok)
    assert done.get_json() == {"redirect": "/"}


def test_csrf_header_is_required(client, services, citizen, authenticator):
    sign_in(client, citizen)
    for path in ("/account/security/passkeys/options", "/account/security/passkeys",
                 "/login/verify/passkey/options", "/login/verify/passkey"):
        resp = post_json(client, path, {}, None)
        assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"
    tok = token(client)
    options = post_json(client, "/account/security/passkeys/options", {}, tok).get_json()
    resp = post_json(client, "/account/security/passkeys",
                     {"name": "x", "credential": authenticator.register(options)}, "forged")
    assert resp.status_code == 400 and rows(services) == 0


@pytest.mark.parametrize("body", [
    "not json", "[]", '{"credential": "x"}', '{"name": "k"}',
    '{"credential": {"id": "AA", "rawId": "AA", "response": {}}}',
])
def test_bad_json_is_a_json_400(client, services, citizen, authenticator, body):
    sign_in(client, citizen)
    tok = token(client)
    post_json(client, "/account/security/passkeys/options", {}, tok)
    resp = client.post("/account/security/passkeys", data=body, headers={
        **EN, "X-CSRFToken": tok, "Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.is_json
    assert set(resp.get_json()) == {"error", "error_description"}
    assert rows(services) == 0


def test_bad_assertions_are_json_errors(client, services, citizen, authenticator):
    sign_in(client, citizen)
    register(client, authenticator)
    tok = token(client, "/login/verify")
    # no options asked for: no challenge
    unasked = {"challenge": "AAAA",
               "allowCredentials": [{"id": b64url(authenticator.credentials[0].id)}]}
    resp = post_json(client, "/login/verify/passkey",
                     {"credential": authenticator.assertion(unasked)}, tok)
    assert resp.status_code == 401 and resp.get_json()["error"] == "passkey_failed"
    options = post_json(client, "/login/verify/passkey/options", {}, tok).get_json()
    resp = post_json(client, "/login/verify/passkey", {
        "credential": authenticator.assertion(options, origin="http://evil.example")}, tok)
    assert resp.status_code == 401
    for body in ("{", "[1]"):
        resp = client.post("/login/verify/passkey", data=body, headers={
            **EN, "X-CSRFToken": tok, "Content-Type": "application/json"})
        assert resp.status_code == 400 and resp.is_json
    [session] = services.sso.for_account(citizen.sub)
    assert session.acr == "L1" and session.amr == ["pwd"]


def test_signed_out_is_a_json_401(client):
    tok = token(client, "/login")
    resp = post_json(client, "/login/verify/passkey/options", {}, tok)
    assert resp.status_code == 401 and resp.get_json()["error"] == "login_required"


def test_a_second_passkey_needs_l2(client, services, citizen, authenticator):
    sign_in(client, citizen)
    register(client, authenticator)
    resp = post_json(client, "/account/security/passkeys/options", {}, token(client))
    assert resp.status_code == 403 and resp.get_json()["error"] == "step_up_required"


def test_verify_page_without_other_factors_offers_the_passkey(make_settings, db_url):
    from idp.container import build_services
    from idp.web import create_app

    settings = make_settings(IDP_DATABASE_URL=db_url, IDP_SMS_BACKEND="none")
    svc = build_services(settings, create_keys=True)
    svc.keys.ensure_keys()
    try:
        app = create_app(settings, svc)
        app.config["TESTING"] = True
        browser = app.test_client()
        citizen = make_citizen(svc)
        sign_in(browser, citizen)
        assert browser.get("/login/verify?next=/account/sessions").status_code == 302
        register(browser, SoftAuthenticator(ORIGIN))
        resp = browser.get("/login/verify?next=/account/sessions", headers=EN)
        assert resp.status_code == 200
        assert re.search(r'data-passkey="verify"', resp.get_data(as_text=True))
    finally:
        svc.close()

