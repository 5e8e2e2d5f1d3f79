"""Configurable names of the assurance levels (``[assurance] l1…l4``): relying parties see the
configured names in discovery, ID tokens, access tokens and introspection, and use them in
``acr_values`` and the ``claims`` parameter; the configuration itself says L1–L4."""

from __future__ import annotations

import base64
import json

import pyotp
import pytest

from idp.config.loader import ConfigError
from idp.container import build_services
from idp.oidc.acr import AcrNames
from tests.factories import make_citizen, make_client
from tests.fixtures.listener import jwt_parts
from tests.fixtures.services import FakeClock
from tests.oidc.test_step_up import enrol, id_token_claims, second_factor
from tests.web.test_account_centre import EN, sign_in
from tests.web.test_session_limits import authorize, redirect_params

NAMES = {"IDP_ASSURANCE_L1": "urn:cn:gov:loa:1", "IDP_ASSURANCE_L2": "urn:cn:gov:loa:2",
         "IDP_ASSURANCE_L3": "urn:cn:gov:loa:3", "IDP_ASSURANCE_L4": "urn:cn:gov:loa:4"}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def named(make_settings, db_url, clock):
    svc = build_services(make_settings(IDP_DATABASE_URL=db_url, **NAMES), create_keys=True,
                         clock=clock)
    svc.keys.ensure_keys()
    from idp.web import create_app

    app = create_app(svc.settings, svc)
    app.config["TESTING"] = True
    yield svc, app
    svc.close()


def test_names_go_out_and_come_in(named, clock):
    svc, app = named
    browser = app.test_client()
    metadata = browser.get("/.well-known/openid-configuration").get_json()
    assert metadata["acr_values_supported"] == [NAMES[f"IDP_ASSURANCE_L{n}"] for n in (1, 2, 3, 4)]
    citizen, portal = make_citizen(svc), make_client(svc, skip_consent=True)
    secret, _ = enrol(svc, citizen, clock)
    sign_in(browser, citizen)
    # A plain sign-in: L1 under its configured name.
    resp, verifier = authorize(browser, portal)
    assert id_token_claims(browser, portal, resp, verifier)["acr"] == "urn:cn:gov:loa:1"
    # The portal asks for the L2 name: the second factor is asked for, the tokens name it.
    clock.advance(31)
    resp, verifier = authorize(browser, portal, claims=json.dumps(
        {"id_token": {"acr": {"essential": True, "values": ["urn:cn:gov:loa:2"]}}}))
    done = second_factor(browser, resp, pyotp.TOTP(secret).at(clock.now))
    back = browser.get(done.headers["Location"], headers=EN)
    code = redirect_params(back)["code"]
    basic = base64.b64encode(f"{portal.client_id}:{portal.secret}".encode()).decode()
    tokens = browser.post("/token", headers={"Authorization": f"Basic {basic}"}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": portal.redirect_uri,
        "code_verifier": verifier}).get_json()
    assert jwt_parts(tokens["id_token"])[1]["acr"] == "urn:cn:gov:loa:2"
    assert jwt_parts(tokens["access_token"])[1]["acr"] == "urn:cn:gov:loa:2"
    [session] = svc.sso.for_account(citizen.sub)
    assert session.acr == "L2"  # inside, levels keep their L1–L4 identifiers


def test_the_internal_identifiers_are_not_names_a_client_can_use(named):
    svc, app = named
    browser = app.test_client()
    sign_in(browser, make_citizen(svc))
    portal = make_client(svc, skip_consent=True)
    # "L2" is not a configured name: an essential request for it cannot be met.
    error = redirect_params(authorize(browser, portal, claims=json.dumps(
        {"id_token": {"acr": {"essential": True, "values": ["L2"]}}}))[0])
    assert error["error"] == "unmet_authentication_requirements"
    assert "L2" in error["error_description"]
    # Unmet levels are described with their configured names.
    error = redirect_params(authorize(browser, portal, claims=json.dumps(
        {"id_token": {"acr": {"essential": True, "values": ["urn:cn:gov:loa:4"]}}}))[0])
    assert "urn:cn:gov:loa:4" in error["error_description"]


def test_acr_names_translate_both_ways():
    names = AcrNames(("a", "b", "c", "d"))
    assert [names.external(level) for level in ("L1", "L2", "L3", "L4")] == list("abcd")
    assert [names.internal(v) for v in "abcd"] == ["L1", "L2", "L3", "L4"]
    assert names.internal("L1") not in ("L1", "L2", "L3", "L4")
    assert names.external(None) is None


@pytest.mark.parametrize("env", [
    {"IDP_ASSURANCE_L2": "L1"},  # two levels, one name
    {"IDP_ASSURANCE_L3": "two words"},  # acr_values are space-separated
    {"IDP_ASSURANCE_L4": ""},
    {"IDP_ASSURANCE_L1": "x" * 129},
])
def test_bad_names_are_refused_at_start(make_settings, env):
    with pytest.raises(ConfigError, match="assurance"):
        make_settings(**env)
