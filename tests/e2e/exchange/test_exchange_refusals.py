"""Token exchange refusals: unusable subject tokens, clients not allowed, and `act` (代办)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from jose import jwt as jose_jwt
from joserfc import jwt
from joserfc.jwk import ECKey

from idp.config import load_settings
from idp.config.settings import DEVICE_CODE
from idp.container import Services, build_services
from idp.tokens import IssueContext
from tests.e2e.exchange.parties import Jwks, exchange, issued_to, refused, sign_out
from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer

pytestmark = pytest.mark.e2e

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
APP_SCOPE = "openid profile phone offline_access"


# -- refusals: the subject token ---------------------------------------------------------------


def forged(token: str) -> str:
    """The same header and claims, signed by a key that is not the IdP's."""
    head = jose_jwt.get_unverified_header(token)
    claims = jose_jwt.get_unverified_claims(token)
    return jwt.encode(head, claims, ECKey.generate_key("P-256"), algorithms=["ES256"])


@pytest.mark.parametrize("kind", ["forged", "garbage", "id_token", "expired"])
def test_unusable_subject_tokens(kind: str, mini: RelyingParty, app_tokens: dict[str, Any],
                                 backend: Services, idp_server: IdpServer) -> None:
    if kind == "forged":
        subject = forged(app_tokens["access_token"])
    elif kind == "garbage":
        subject = "not-a-token"
    elif kind == "id_token":  # ours and valid, but an ID token is not an access token
        subject = app_tokens["id_token"]
    else:  # a genuine app access token whose lifetime ended an hour ago
        past = build_services(load_settings(idp_server.env), clock=lambda: time.time() - 3600)
        try:
            claims = app_tokens["claims"]
            subject = past.tokens.issue(IssueContext(
                client=past.clients.get(claims["aud"][0]), account_id=claims["sub"],
                scope=APP_SCOPE, grant_type="authorization_code", include_refresh=False,
                sid=claims["sid"], auth_time=claims["auth_time"], acr=claims["acr"],
                amr=tuple(claims["amr"])))["access_token"]
        finally:
            past.close()
    before = issued_to(backend, mini.client_id)
    refused(exchange(mini, subject), "invalid_request", "subject_token is not a valid")
    assert issued_to(backend, mini.client_id) == before


def test_revoked_subject_token(mini: RelyingParty, app_tokens: dict[str, Any],
                               backend: Services, idp_server: IdpServer) -> None:
    """Signing out revokes every token of the session (by sid), the app's included."""
    sign_out(app_tokens["browser"], idp_server)
    before = issued_to(backend, mini.client_id)
    refused(exchange(mini, app_tokens["access_token"]), "invalid_request", "revoked")
    assert issued_to(backend, mini.client_id) == before


def test_ended_session_is_invalid_grant(mini: RelyingParty, app_tokens: dict[str, Any],
                                        backend: Services) -> None:
    """The SSO session is gone (expired, or ended by staff) while the app's token lives."""
    backend.sso.end(app_tokens["claims"]["sid"])
    before = issued_to(backend, mini.client_id)
    refused(exchange(mini, app_tokens["access_token"]), "invalid_grant", "session has ended")
    assert issued_to(backend, mini.client_id) == before
    events = backend.audit.events(tag="token:exchange:refused",
                                  subject=app_tokens["claims"]["sub"], limit=1)
    assert events[0].extra["reason"] == "invalid_grant"
    assert events[0].extra["check"] == "check_session"


# -- refusals: the clients ---------------------------------------------------------------------


def test_source_client_not_allowed(mini: RelyingParty, register: Callable[..., RelyingParty],
                                   citizen: dict[str, Any], backend: Services,
                                   idp_server: IdpServer) -> None:
    """[token_exchange].allow is "channel:app -> channel:miniprogram": a website's token is
    not a source."""
    website = register()
    login = website.login(UserAgent(idp_server.url), citizen, "openid profile")
    before = issued_to(backend, mini.client_id)
    refused(exchange(mini, login.tokens["access_token"]), "unauthorized_client",
            f"exchange from website client {website.client_id} into miniprogram client "
            f"{mini.client_id} is not allowed")
    assert issued_to(backend, mini.client_id) == before


def test_target_channel_without_token_exchange(
        register: Callable[..., RelyingParty], app_tokens: dict[str, Any],
        backend: Services) -> None:
    website = register()
    refused(exchange(website, app_tokens["access_token"]), "unauthorized_client",
            "website clients may not use token exchange")
    assert issued_to(backend, website.client_id) == 0


def test_public_client_and_bad_secret_are_invalid_client(
        app: RelyingParty, mini: RelyingParty, app_tokens: dict[str, Any],
        backend: Services) -> None:
    app_before = issued_to(backend, app.client_id)
    mini_before = issued_to(backend, mini.client_id)
    refused(exchange(app, app_tokens["access_token"], auth="none"), "invalid_client",
            status=401)
    refused(exchange(mini, app_tokens["access_token"], secret="wrong"), "invalid_client",
            status=401)
    refused(exchange(mini, app_tokens["access_token"], auth="none"), "invalid_client",
            status=401)
    assert issued_to(backend, app.client_id) == app_before
    assert issued_to(backend, mini.client_id) == mini_before


def test_consent_is_required_for_a_client_that_asks_it(
        register: Callable[..., RelyingParty], sign_in_app: Callable[..., dict[str, Any]],
        citizen: dict[str, Any], idp_server: IdpServer) -> None:
    """A mini-program registered without --skip-consent gets only what the citizen consented
    to it (once, through the authorization endpoint in a web view)."""
    department = register(channel="miniprogram", skip_consent=False,
                           redirect_uri="https://mp.example.gov.cn/cb")
    tokens = sign_in_app(citizen)
    refused(exchange(department, tokens["access_token"]), "invalid_scope", "not consented")
    department.login(tokens["browser"], None, "openid profile", pkce=True)  # consents
    assert exchange(department, tokens["access_token"]).json()["scope"] == "openid profile"
    refused(exchange(department, tokens["access_token"], scope="openid phone"),
            "invalid_scope", "not consented to this client for: phone")


# -- act: a counter terminal or an authorised family member acts for the citizen ---------------


def counter_token(backend: Services, idp_server: IdpServer) -> str:
    """A counter terminal's own access token, as its device grant issues it."""
    counter = backend.clients.get(idp_server.demo["clients"]["counter"]["client_id"])
    return str(backend.tokens.issue(IssueContext(
        client=counter, account_id=None, scope="openid", grant_type=DEVICE_CODE,
        include_refresh=False))["access_token"])


def test_counter_terminal_acts_for_the_citizen(
        mini: RelyingParty, app_tokens: dict[str, Any], backend: Services,
        idp_server: IdpServer) -> None:
    counter_id = idp_server.demo["clients"]["counter"]["client_id"]
    resp = exchange(mini, app_tokens["access_token"], actor_token=counter_token(
        backend, idp_server), actor_token_type=ACCESS)
    assert resp.status_code == 200, resp.text
    tokens = resp.json()
    assert "refresh_token" not in tokens  # delegated access is renewed by exchanging again
    jwks = Jwks(mini)
    act = {"sub": counter_id, "client_id": counter_id}
    access = jwks.verify(tokens["access_token"], mini.client_id, typ="at+jwt")
    id_claims = jwks.verify(tokens["id_token"], mini.client_id, typ="JWT",
                            access_token=tokens["access_token"])
    assert access["act"] == act and id_claims["act"] == act
    assert access["sub"] == id_claims["sub"] == app_tokens["claims"]["sub"]


def test_family_member_acts_only_with_a_delegation(
        mini: RelyingParty, sign_in_app: Callable[..., dict[str, Any]],
        citizen: dict[str, Any], other_citizen: dict[str, Any], backend: Services,
        idp_server: IdpServer) -> None:
    elder, relative = sign_in_app(citizen), sign_in_app(other_citizen)

    def as_relative() -> requests.Response:
        return exchange(mini, elder["access_token"], actor_token=relative["access_token"],
                        actor_token_type=ACCESS)

    before = issued_to(backend, mini.client_id)
    refused(as_relative(), "invalid_grant", "the actor may not act for this citizen")
    assert issued_to(backend, mini.client_id) == before

    granted = idp_server.cli_json("delegations", "grant", "--citizen", citizen["phone"],
                                  "--agent", other_citizen["id_number"], "--days", "1")
    try:
        assert granted["agent"] == relative["claims"]["sub"]
        resp = as_relative()
        assert resp.status_code == 200, resp.text
        claims = Jwks(mini).verify(resp.json()["access_token"], mini.client_id, typ="at+jwt")
        assert claims["sub"] == elder["claims"]["sub"]
        assert claims["act"] == {"sub": relative["claims"]["sub"],
                                 "client_id": relative["claims"]["aud"][0]}
        # The delegation runs one way: the elder may not act for the relative.
        refused(exchange(mini, relative["access_token"], actor_token=elder["access_token"],
                         actor_token_type=ACCESS), "invalid_grant", "may not act")
    finally:
        idp_server.cli("delegations", "revoke", "--citizen", citizen["phone"], "--agent",
                       other_citizen["phone"])
    refused(as_relative(), "invalid_grant", "may not act")


def test_unusable_actor_tokens(mini: RelyingParty, app_tokens: dict[str, Any],
                               backend: Services) -> None:
    before = issued_to(backend, mini.client_id)
    for actor in ("garbage", forged(app_tokens["access_token"])):
        refused(exchange(mini, app_tokens["access_token"], actor_token=actor,
                         actor_token_type=ACCESS), "invalid_request", "actor_token is not a valid")
    # The citizen's own app token is no actor: nobody delegates to themselves.
    refused(exchange(mini, app_tokens["access_token"], actor_token=app_tokens["access_token"],
                     actor_token_type=ACCESS), "invalid_grant", "may not act")
    assert issued_to(backend, mini.client_id) == before
