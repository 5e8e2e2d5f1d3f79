"""The portal's four sign-in buttons (plain, assurance levels L2 and L3, sharing the ID number): the
authorization request each one sends, and how the page shows the outcome — the ID number only
masked. Over real HTTP on loopback against the scripted IdP."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from clients.common.tests.fakeidp import SID, SUB, json_response
from clients.website.display import mask_id_number

ME = "demo-website"
NUMBER = "11010519491231002X"
MASKED = "1101**********002X"
SCOPE = "openid profile phone offline_access"


def press(portal: str, kind: str | None) -> tuple[requests.Session, dict[str, str]]:
    """Press a button of the home page (a POST with its CSRF token); the authorization
    request's parameters."""
    browser = requests.Session()
    home = browser.get(f"{portal}/", timeout=10).text
    csrf = home.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": csrf, **({"kind": kind} if kind is not None else {})}
    resp = browser.post(f"{portal}/login", data=form, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert all(len(v) == 1 for v in query.values())
    return browser, {k: v[0] for k, v in query.items()}


def assert_protected(query: dict[str, str]) -> None:
    """state, nonce and PKCE S256 are there whatever the button."""
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["response_type"] == "code" and query["client_id"] == ME


def test_the_home_page_offers_four_sign_ins(portal):
    text = requests.get(f"{portal}/", timeout=10).text
    assert "Sign in with Unified Identity" in text
    assert "Sign in at assurance level L2" in text and 'name="kind" value="L2"' in text
    assert "Sign in at assurance level L3" in text and 'name="kind" value="L3"' in text
    assert "Sign in and share my ID number" in text and 'name="kind" value="id_card"' in text


def test_the_plain_sign_in_asks_for_nothing_more(portal):
    _, query = press(portal, None)
    assert_protected(query)
    assert query["scope"] == SCOPE
    assert "acr_values" not in query and "claims" not in query


@pytest.mark.parametrize("level", ["L2", "L3"])
def test_the_l2_and_l3_sign_ins_ask_for_their_level_both_ways(portal, level):
    _, query = press(portal, level)
    assert_protected(query)
    assert query["acr_values"] == level
    assert json.loads(query["claims"]) == {
        "id_token": {"acr": {"essential": True, "values": [level]}}}
    assert query["scope"] == SCOPE


def test_the_id_card_sign_in_adds_the_scope_only(portal):
    _, query = press(portal, "id_card")
    assert_protected(query)
    assert query["scope"].split() == [*SCOPE.split(), "id_card"]
    assert "claims" not in query, "the number comes from UserInfo, never in the ID token"


def test_each_press_is_a_fresh_request(portal):
    _, first = press(portal, "L2")
    _, second = press(portal, "L2")
    for name in ("state", "nonce", "code_challenge"):
        assert first[name] != second[name]


def test_an_unknown_kind_is_refused(portal):
    resp = requests.get(f"{portal}/login", params={"kind": "L4"}, allow_redirects=False,
                        timeout=10)
    assert resp.status_code == 400 and "no such sign-in" in resp.text


def test_the_page_shows_acr_amr_and_the_number_masked_only(idp, portal):
    browser, query = press(portal, "id_card")

    def token(_request):
        access = idp.access_token(ME, sid=SID)
        id_token = idp.id_token(ME, access_token=access, nonce=query["nonce"], sid=SID,
                                acr="L2", amr=["pwd", "otp"])
        return json_response(200, {"access_token": access, "token_type": "Bearer",
                                   "id_token": id_token, "scope": f"{SCOPE} id_card"})

    idp.on("POST", "/token", token)
    idp.on("GET", "/userinfo", json_response(200, {
        "sub": SUB, "name": "张三", "id_number": NUMBER,
        "verified_claims": {"verification": {"trust_framework": "cn_gov_ctid"},
                            "claims": {"id_number": NUMBER}}}))
    back = {"code": "c-1", "state": query["state"], "iss": idp.issuer}
    text = browser.get(f"{portal}/callback", params=back, timeout=10).text
    assert "you are signed in" in text, text
    assert "<code>L2</code>" in text and "<code>pwd, otp</code>" in text
    assert MASKED in text and "this demo page shows it masked" in text
    for form in (NUMBER, NUMBER[:17], NUMBER.lower(), NUMBER[4:14]):
        assert form not in text


def test_without_a_released_number_no_row_is_shown(idp, portal):
    browser, query = press(portal, None)

    def token(_request):
        access = idp.access_token(ME, sid=SID)
        id_token = idp.id_token(ME, access_token=access, nonce=query["nonce"], sid=SID,
                                acr="L1", amr=["pwd"])
        return json_response(200, {"access_token": access, "token_type": "Bearer",
                                   "id_token": id_token})

    idp.on("POST", "/token", token)
    idp.on("GET", "/userinfo", json_response(200, {"sub": SUB, "name": "张三"}))
    back = {"code": "c-1", "state": query["state"], "iss": idp.issuer}
    text = browser.get(f"{portal}/callback", params=back, timeout=10).text
    assert "<code>L1</code>" in text and "<code>pwd</code>" in text
    assert "this demo page shows it masked" not in text


@pytest.mark.parametrize(("value", "shown"), [
    (NUMBER, MASKED), ("110105194912310", "1101*******2310"), ("12345678", "********"),
])
def test_mask_id_number(value, shown):
    assert mask_id_number(value) == shown
