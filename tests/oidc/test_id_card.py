"""Releasing the citizen ID number (scope ``id_card``, idp.oidc.id_card) and ``verified_claims``
(idp.oidc.verified_claims), through the Flask test client: staff permission, the citizen's
consent (never skipped), audited releases, and the clear number nowhere else."""

from __future__ import annotations

import base64
import json
import logging
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
from joserfc import jwt
from sqlalchemy import select

from idp.store.models import AuditEvent
from idp.tokens import IssueContext
from tests.e2e.useragent import pkce_pair
from tests.factories import make_citizen, make_client
from tests.web.test_account_centre import EN, sign_in
from tests.web.test_pages import csrf

SCOPE = "openid profile id_card"
VERIFIED = {"verified_claims": {"verification": {"trust_framework": None},
                                "claims": {"name": None, "id_number": None}}}


@pytest.fixture
def citizen(services):
    return make_citizen(services, name="王小明")


@pytest.fixture
def portal(services):
    rp = make_client(services, name="Social Security Portal")
    services.clients.set_id_card_allowed(rp.client_id, True)
    return rp


def masked(number):
    return number[:4] + "*" * 10 + number[-4:]


def authorize(browser, rp, scope=SCOPE, **extra):
    verifier, challenge = pkce_pair()
    resp = browser.get("/authorize", headers=EN, query_string={
        "response_type": "code", "client_id": rp.client_id, "redirect_uri": rp.redirect_uri,
        "scope": scope, "state": "st", "code_challenge": challenge,
        "code_challenge_method": "S256", **extra})
    return resp, verifier


def decide(browser, consent_page, decision):
    html = consent_page.get_data(as_text=True)
    action = unescape(html.split('<form method="post" action="', 1)[1].split('"', 1)[0])
    return browser.post(action, headers=EN,
                        data={"csrf_token": csrf(consent_page), "decision": decision})


def redirect_params(resp):
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return dict(parse_qsl(urlsplit(resp.headers["Location"]).query))


def redeem(browser, rp, resp, verifier):
    code = redirect_params(resp)["code"]
    basic = base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()
    tokens = browser.post("/token", headers={"Authorization": f"Basic {basic}"}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
        "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    return tokens.get_json()


def userinfo(browser, access_token):
    resp = browser.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def id_token_claims(tokens):
    return json.loads(base64.urlsafe_b64decode(
        tokens["id_token"].split(".")[1] + "==").decode())


def releases(services):
    with services.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.tag == "identity:release:success").order_by(AuditEvent.seq)))


def consent_then_tokens(client, rp, **extra):
    page, verifier = authorize(client, rp, **extra)
    assert page.status_code == 200, page.status_code
    return redeem(client, rp, decide(client, page, "allow"), verifier)


def test_a_client_without_permission_gets_invalid_scope_and_nothing(
        client, services, citizen):
    rp = make_client(services)
    sign_in(client, citizen)
    params = redirect_params(authorize(client, rp)[0])
    assert params["error"] == "invalid_scope"
    assert "not permitted to request the id_card scope" in params["error_description"]
    assert "code" not in params and releases(services) == []


def test_permission_is_granted_and_revoked_by_staff(client, services, citizen, portal):
    assert services.clients.get(portal.client_id).extra["id_card_allowed"] is True
    services.clients.set_id_card_allowed(portal.client_id, False)
    sign_in(client, citizen)
    assert redirect_params(authorize(client, portal)[0])["error"] == "invalid_scope"


def test_consent_denied_releases_nothing(client, services, citizen, portal):
    sign_in(client, citizen)
    page, _ = authorize(client, portal)
    params = redirect_params(decide(client, page, "deny"))
    assert params["error"] == "access_denied" and "code" not in params
    assert services.consents.granted(citizen.sub, portal.client_id) is None
    assert releases(services) == []


def test_consent_page_shows_the_masked_number_and_who_receives_it(
        client, services, citizen, portal):
    sign_in(client, citizen)
    page, _ = authorize(client, portal)
    html = page.get_data(as_text=True)
    assert masked(citizen.id_number) in html and citizen.id_number not in html
    assert "Social Security Portal will receive your full citizen ID number" in html
    assert "Your full citizen ID number" in html


def test_allowed_and_consented_releases_in_userinfo_and_id_token_audited(
        client, services, citizen, portal):
    sign_in(client, citizen)
    tokens = consent_then_tokens(
        client, portal, claims=json.dumps({"id_token": {"id_number": None}}))
    assert id_token_claims(tokens)["id_number"] == citizen.id_number
    info = userinfo(client, tokens["access_token"])
    assert info["id_number"] == citizen.id_number and info["name"] == "王小明"
    events = releases(services)
    assert [e.extra["endpoint"] for e in events] == ["id_token", "userinfo"]
    for event in events:
        assert event.client_id == portal.client_id and event.subject == citizen.sub
        assert event.extra["channel"] == "website"
        assert event.extra["id_number"] == masked(citizen.id_number)


def test_the_id_token_carries_the_number_only_when_asked(client, services, citizen, portal):
    sign_in(client, citizen)
    tokens = consent_then_tokens(client, portal)
    assert "id_number" not in id_token_claims(tokens)
    assert userinfo(client, tokens["access_token"])["id_number"] == citizen.id_number


def test_skip_consent_client_still_asks_for_id_card(client, services, citizen):
    rp = make_client(services, skip_consent=True)
    services.clients.set_id_card_allowed(rp.client_id, True)
    sign_in(client, citizen)
    # Non-sensitive scopes: no page, as before.
    assert redirect_params(authorize(client, rp, scope="openid profile")[0])["code"]
    assert redirect_params(authorize(client, rp, prompt="none")[0])["error"] == \
        "consent_required"
    page, _ = authorize(client, rp)
    assert page.status_code == 200
    assert masked(citizen.id_number) in page.get_data(as_text=True)
    page, verifier = authorize(client, rp)
    tokens = redeem(client, rp, decide(client, page, "allow"), verifier)
    assert userinfo(client, tokens["access_token"])["id_number"] == citizen.id_number
    # Consented once: the next authorization does not ask again.
    assert redirect_params(authorize(client, rp)[0])["code"]


def test_withdrawing_consent_stops_release(client, services, citizen, portal):
    sign_in(client, citizen)
    old = consent_then_tokens(client, portal)
    assert services.consents.revoke(citizen.sub, portal.client_id)
    # The old access token was revoked with the consent; the new request asks again.
    resp = client.get("/userinfo", headers={"Authorization": f"Bearer {old['access_token']}"})
    assert resp.status_code == 401
    page, _ = authorize(client, portal)
    assert page.status_code == 200 and masked(citizen.id_number) in page.get_data(as_text=True)
    # Even a token that survived (here: minted directly) no longer carries the number.
    session = services.sso.for_account(citizen.sub)[0]
    token = services.tokens.issue(IssueContext(
        client=services.clients.get(portal.client_id), account_id=citizen.sub, scope=SCOPE,
        grant_type="authorization_code", include_refresh=False, sid=session.sid,
        auth_time=session.auth_time))["access_token"]
    before = len(releases(services))
    assert "id_number" not in userinfo(client, token)
    assert len(releases(services)) == before


def test_claims_without_the_scope_release_no_number(client, services, citizen, portal):
    sign_in(client, citizen)
    tokens = consent_then_tokens(client, portal, scope="openid profile", claims=json.dumps(
        {"userinfo": {"id_number": None, **VERIFIED}, "id_token": {"id_number": None}}))
    assert "id_number" not in id_token_claims(tokens)
    info = userinfo(client, tokens["access_token"])
    assert "id_number" not in info
    assert info["verified_claims"]["claims"] == {"name": "王小明"}
    assert releases(services) == []


@pytest.mark.parametrize("raw", ["{", "[]", '{"userinfo": []}', '{"id_token": {"x": 1}}',
                                 '{"userinfo": {"verified_claims": {"claims": []}}}'])
def test_malformed_claims_parameter_is_invalid_request(client, services, citizen, portal, raw):
    sign_in(client, citizen)
    params = redirect_params(authorize(client, portal, claims=raw)[0])
    assert params["error"] == "invalid_request"
    assert params["error_description"].startswith("claims")


def check_verified_claims(value):
    """The rules of OpenID Connect for Identity Assurance 1.0 and its schema for what we
    send: verification.trust_framework required; claims a non-empty object; evidence items
    of type document with document_details.type; issuer country an ISO 3166-1 alpha-3 code."""
    assert set(value) == {"verification", "claims"}
    verification = value["verification"]
    assert isinstance(verification["trust_framework"], str) and verification["trust_framework"]
    assert set(verification) <= {"trust_framework", "assurance_level", "time",
                                 "verification_process", "evidence"}
    for evidence in verification.get("evidence", []):
        assert evidence["type"] == "document"
        details = evidence["document_details"]
        assert isinstance(details["type"], str) and details["type"]
        country = details["issuer"]["country_code"]
        assert len(country) == 3 and country.isupper()
    assert isinstance(value["claims"], dict) and value["claims"]
    assert "verification" not in value["claims"]


def test_verified_claims_structure(client, services, citizen, portal):
    sign_in(client, citizen)
    tokens = consent_then_tokens(client, portal, claims=json.dumps(
        {"userinfo": VERIFIED, "id_token": VERIFIED}))
    for where in (id_token_claims(tokens), userinfo(client, tokens["access_token"])):
        value = where["verified_claims"]
        check_verified_claims(value)
        assert value["verification"] == {
            "trust_framework": "cn_gov_ctid", "assurance_level": "L1",
            "evidence": [{"type": "document", "document_details": {
                "type": "idcard", "issuer": {"country_code": "CHN"}}}]}
        assert value["claims"] == {"name": "王小明", "id_number": citizen.id_number}
    assert len(releases(services)) == 2


def test_discovery_advertises_id_card_and_verified_claims(client):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert "id_card" in meta["scopes_supported"]
    assert {"id_number", "verified_claims"} <= set(meta["claims_supported"])
    assert meta["claims_parameter_supported"] is True
    assert meta["verified_claims_supported"] is True
    assert meta["trust_frameworks_supported"] == ["cn_gov_ctid"]
    assert meta["evidence_supported"] == ["document"]
    assert meta["documents_supported"] == ["idcard"]
    assert "id_number" in meta["claims_in_verified_claims_supported"]


def test_the_clear_number_appears_only_in_the_permitted_responses(
        client, services, citizen, portal, caplog):
    caplog.set_level(logging.DEBUG)
    sign_in(client, citizen)
    page, verifier = authorize(client, portal, claims=json.dumps(
        {"userinfo": VERIFIED, "id_token": {"id_number": None}}))
    pages = [page.get_data(as_text=True)]
    tokens = redeem(client, portal, decide(client, page, "allow"), verifier)
    info = userinfo(client, tokens["access_token"])
    assert info["id_number"] == citizen.id_number
    for path in ("/", "/account/consents", "/account/history", "/account/sessions"):
        pages.append(client.get(path, headers=EN).get_data(as_text=True))
    assert all(citizen.id_number not in html for html in pages)
    assert "Your full citizen ID number" in pages[2]  # the account centre lists the consent
    assert citizen.id_number not in caplog.text
    assert citizen.id_number.lower() not in caplog.text.lower()
    with services.sessions() as session:
        for event in session.scalars(select(AuditEvent)):
            assert citizen.id_number not in json.dumps(
                [event.actor, event.subject, event.client_id, event.extra], default=str)
    # The access token carries the request, never the number.
    access = jwt.decode(tokens["access_token"], services.tokens.verification_keys())
    assert citizen.id_number not in json.dumps(access.claims)
