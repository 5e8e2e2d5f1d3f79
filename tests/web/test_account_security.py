"""The account centre's second-factor page: enrol with the QR code, confirm, recovery codes shown
once, remove — CSRF on every form, the ID number never in clear."""

from __future__ import annotations

import base64
import re

import pyotp
import pytest

from tests.factories import make_citizen
from tests.web.test_account_centre import EN, page, sign_in
from tests.web.test_pages import csrf

SECRET = re.compile(r"<code>([A-Z2-7 ]{16,})</code>")
QR = re.compile(r'<img src="data:image/svg\+xml;base64,([^"]+)"')
RECOVERY = re.compile(r"<code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code>")


@pytest.fixture
def settings(make_settings, db_url):
    """SMS codes off: an account with no factor yet adds its first one with the password alone
    (with SMS on it must confirm by SMS first: tests/web/test_enrolment_policy.py)."""
    return make_settings(IDP_DATABASE_URL=db_url, IDP_SMS_BACKEND="none")


@pytest.fixture
def citizen(services):
    return make_citizen(services)


def post(client, path, **form):
    token = csrf(client.get("/account/security", headers=EN))
    return client.post(path, headers=EN, data={"csrf_token": token, **form})


def test_the_page_needs_a_signed_in_citizen(client):
    assert client.get("/account/security").status_code == 302


def test_enrol_confirm_and_remove(client, services, citizen):
    sign_in(client, citizen)
    html = page(client, "/account/security")
    assert 'href="/account/security" aria-current="page"' in html
    assert post(client, "/account/security/totp/enrol").status_code == 302
    html = page(client, "/account/security")
    svg = base64.b64decode(QR.search(html).group(1))
    assert svg.startswith(b"<?xml") or b"<svg" in svg
    secret = SECRET.search(html).group(1).replace(" ", "")
    assert citizen.id_number not in html
    done = post(client, "/account/security/totp/confirm", code=pyotp.TOTP(secret).now())
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    codes = RECOVERY.findall(done.get_data(as_text=True))
    assert len(codes) == 10
    assert services.mfa.has_totp(citizen.sub)
    html = page(client, "/account/security")
    assert "10" in html and not RECOVERY.search(html)  # shown once only
    refused = post(client, "/account/security/totp/disable", code="000000x")
    assert refused.status_code == 401 and services.mfa.has_totp(citizen.sub)
    removed = post(client, "/account/security/totp/disable", code=codes[0])
    assert removed.status_code == 302
    assert not services.mfa.has_totp(citizen.sub)


def test_a_wrong_first_code_does_not_confirm(client, services, citizen):
    sign_in(client, citizen)
    post(client, "/account/security/totp/enrol")
    secret = SECRET.search(page(client, "/account/security")).group(1).replace(" ", "")
    good = pyotp.TOTP(secret).now()
    resp = post(client, "/account/security/totp/confirm",
                code=f"{(int(good) + 1) % 1_000_000:06d}")
    assert resp.status_code == 401
    assert SECRET.search(resp.get_data(as_text=True))  # the QR code and key are shown again
    assert not services.mfa.has_totp(citizen.sub)


def test_forms_without_csrf_token_are_refused(client, services, citizen):
    sign_in(client, citizen)
    assert client.post("/account/security/totp/enrol", headers=EN).status_code == 400
    assert not services.mfa.status(citizen.sub).pending


def test_chinese_by_default(client, citizen):
    sign_in(client, citizen)
    html = client.get("/account/security").get_data(as_text=True)
    assert 'lang="zh' in html
