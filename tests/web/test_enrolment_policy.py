"""Adding a second factor needs L2 whenever the account can already reach L2 another way
(idp.web.factors.enrolment_needs_step_up): with SMS codes on, a stolen password alone cannot add
the thief's authenticator app or passkey — the citizen confirms by SMS first, then adds it."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from idp.store.models import MfaFactor, Passkey
from tests.factories import make_citizen
from tests.web.test_account_centre import EN, page, sign_in
from tests.web.test_pages import csrf

SMS_CODE = re.compile(r"(\d{6})")


@pytest.fixture
def citizen(services):
    return make_citizen(services)


def count(services, model):
    with services.sessions() as session:
        return session.query(model).count()


def test_with_sms_on_a_password_alone_cannot_add_a_factor(client, services, citizen, caplog):
    assert services.sms.enabled  # the default development gateway: console
    sign_in(client, citizen)
    html = page(client, "/account/security")
    assert 'action="/account/security/totp/enrol"' not in html
    assert 'data-passkey="register"' not in html
    assert "/login/verify?next=/account/security" in html
    # Posting anyway: sent to confirm first; nothing written.
    token = csrf(client.get("/login/verify", headers=EN))  # the session's CSRF token
    resp = client.post("/account/security/totp/enrol", headers=EN, data={"csrf_token": token})
    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/login/verify"
    options = client.post("/account/security/passkeys/options", json={},
                          headers={**EN, "X-CSRFToken": token})
    assert options.status_code == 403 and options.get_json()["error"] == "step_up_required"
    assert count(services, MfaFactor) == 0 and count(services, Passkey) == 0

    # Confirm by SMS (the console gateway logs the code), then the app can be added.
    verify = client.get(resp.headers["Location"], headers=EN)
    next_url = parse_qs(urlsplit(resp.headers["Location"]).query)["next"][0]
    with caplog.at_level(logging.INFO, logger="idp.accounts.sms"):
        sent = client.post("/login/verify", headers=EN, data={
            "csrf_token": csrf(verify), "action": "send_sms", "next": next_url})
    assert sent.status_code == 302
    code = SMS_CODE.findall(caplog.text)[-1]
    done = client.post("/login/verify", headers=EN, data={
        "csrf_token": csrf(verify), "sms_code": code, "next": next_url})
    assert done.status_code == 302 and done.headers["Location"] == "/account/security"
    html = page(client, "/account/security")
    assert 'action="/account/security/totp/enrol"' in html
    assert 'data-passkey="register"' in html
    token = csrf(client.get("/account/security", headers=EN))
    assert client.post("/account/security/totp/enrol", headers=EN,
                       data={"csrf_token": token}).status_code == 302
    assert services.mfa.status(citizen.sub).pending
