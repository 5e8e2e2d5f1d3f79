"""Token exchange (RFC 8693) for the mini-program channel, end to end against ``idp serve``.

The citizen signs in to the app (code + PKCE, public client); the mini-program's backend (a
confidential ``miniprogram`` client) exchanges the app's access token for its own tokens in the
same SSO session. Tokens are verified with python-jose against the published JWKS alone.
Every refusal is checked for its RFC 8693 §2.2.2 / RFC 6749 §5.2 error and for issuing nothing.

``backend`` is the server's own services, built in this process from its settings (same
database, ephemeral store and keys): it inspects sessions, audit and token rows, and mints the
tokens the server would mint where the flow that yields them is not under test here (an expired
app token; a counter terminal's token, which comes from the device grant).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from idp.container import Services
from tests.e2e.exchange.parties import Jwks, exchange, issued_to, refused, sign_out
from tests.e2e.oidc_client import RelyingParty
from tests.fixtures.server import IdpServer

pytestmark = pytest.mark.e2e

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
APP_SCOPE = "openid profile phone offline_access"


# -- success -----------------------------------------------------------------------------------


def test_discovery_lists_token_exchange(mini: RelyingParty) -> None:
    assert EXCHANGE in mini.config["grant_types_supported"]


def test_exchange_issues_tokens_in_the_same_session(
        mini: RelyingParty, app_tokens: dict[str, Any], backend: Services) -> None:
    app_claims = app_tokens["claims"]
    resp = exchange(mini, app_tokens["access_token"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    tokens = resp.json()
    assert tokens["issued_token_type"] == ACCESS and tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 600  # [channels.miniprogram].access_token_ttl
    assert tokens["scope"] == APP_SCOPE  # default: the subject token's ∩ the client's scopes
    assert tokens["refresh_token"]  # offline_access, and the channel issues refresh tokens

    jwks = Jwks(mini)
    access = jwks.verify(tokens["access_token"], mini.client_id, typ="at+jwt")
    id_claims = jwks.verify(tokens["id_token"], mini.client_id, typ="JWT",
                            access_token=tokens["access_token"])
    assert access["client_id"] == mini.client_id and "act" not in access
    assert id_claims["aud"] == [mini.client_id] and id_claims["azp"] == mini.client_id
    for claims in (access, id_claims):
        assert claims["sub"] == app_claims["sub"] and claims["sid"] == app_claims["sid"]
        assert claims["auth_time"] == app_claims["auth_time"]
        assert claims["acr"] == app_claims["acr"]
    assert id_claims["amr"] == app_claims["amr"] and "nonce" not in id_claims

    # The mini-program took part in the sign-in: the session lists it (logout fan-out).
    session = backend.sso.get(app_claims["sid"])
    assert session.clients[mini.client_id] == "miniprogram"
    assert session.clients[app_tokens["claims"]["aud"][0]] == "app"
    events = backend.audit.events(tag="token:exchange:success", subject=app_claims["sub"],
                                  limit=1)
    assert events and events[0].client_id == mini.client_id
    assert events[0].extra["source"] == app_claims["aud"][0]

    # The mini-program's tokens work like any other: userinfo, then refresh (same sid).
    assert mini.claims(tokens["access_token"], app_claims["sub"])["name"]
    refreshed = mini.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    again = jwks.verify(refreshed.json()["access_token"], mini.client_id, typ="at+jwt")
    assert again["sid"] == app_claims["sid"]


def test_audience_naming_the_client_itself_is_accepted(
        mini: RelyingParty, app_tokens: dict[str, Any]) -> None:
    resp = exchange(mini, app_tokens["access_token"], audience=mini.client_id,
                    requested_token_type=ACCESS, auth="post")
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize(("scope", "granted"), [
    ("openid", "openid"),
    ("phone openid", "phone openid"),
    ("profile", "profile"),
])
def test_scope_narrows(mini: RelyingParty, app_tokens: dict[str, Any], scope: str,
                       granted: str) -> None:
    tokens = exchange(mini, app_tokens["access_token"], scope=scope).json()
    assert tokens["scope"] == granted
    assert "refresh_token" not in tokens  # no offline_access
    assert ("id_token" in tokens) == ("openid" in scope.split())
    info = mini.userinfo(tokens["access_token"])
    assert info.status_code == (200 if "openid" in scope.split() else 403)


def test_sign_out_ends_the_mini_programs_tokens_too(
        mini: RelyingParty, app_tokens: dict[str, Any], idp_server: IdpServer) -> None:
    tokens = exchange(mini, app_tokens["access_token"]).json()
    sign_out(app_tokens["browser"], idp_server)
    assert mini.userinfo(tokens["access_token"]).status_code == 401
    assert mini.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"




# -- refusals: the request ---------------------------------------------------------------------


@pytest.mark.parametrize(("params", "error", "fragment"), [
    ({"subject_token": ""}, "invalid_request", "subject_token is required"),
    ({"subject_token_type": ""}, "invalid_request", ACCESS),
    ({"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
     "invalid_request", f"subject_token_type must be {ACCESS}"),
    ({"subject_token_type": "urn:ietf:params:oauth:token-type:jwt"}, "invalid_request", ACCESS),
    ({"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
     "invalid_request", "requested_token_type"),
    ({"actor_token": "x"}, "invalid_request", "actor_token_type is required"),
    ({"actor_token_type": ACCESS}, "invalid_request", "without actor_token"),
    ({"actor_token": "x", "actor_token_type": "urn:ietf:params:oauth:token-type:jwt"},
     "invalid_request", "actor_token_type must be"),
    ({"audience": "demo-website"}, "invalid_target", "only be issued for this client"),
    ({"resource": "https://api.example.gov.cn/"}, "invalid_target", "audience"),
    ({"scope": "openid admin"}, "invalid_scope", "not allowed"),
])
def test_bad_requests(mini: RelyingParty, app_tokens: dict[str, Any], backend: Services,
                      params: dict[str, str], error: str, fragment: str) -> None:
    before = issued_to(backend, mini.client_id)
    refused(exchange(mini, app_tokens["access_token"], **params), error, fragment)
    assert issued_to(backend, mini.client_id) == before


def test_repeated_parameters_and_a_second_audience(
        mini: RelyingParty, app_tokens: dict[str, Any], backend: Services) -> None:
    before = issued_to(backend, mini.client_id)
    body = {"grant_type": EXCHANGE, "subject_token_type": ACCESS,
            "subject_token": [app_tokens["access_token"]] * 2}
    resp = mini.http.post(mini.endpoint("token"), data=body, timeout=10,
                          auth=(mini.client_id, mini.client_secret))
    refused(resp, "invalid_request", "must not be repeated")
    resp = exchange(mini, app_tokens["access_token"], audience=mini.client_id,
                    resource="https://other.example.gov.cn/")
    refused(resp, "invalid_target")
    assert issued_to(backend, mini.client_id) == before


def test_scope_escalation_is_invalid_scope(
        mini: RelyingParty, sign_in_app: Callable[..., dict[str, Any]],
        citizen: dict[str, Any], backend: Services) -> None:
    narrow = sign_in_app(citizen, "openid profile")
    before = issued_to(backend, mini.client_id)
    refused(exchange(mini, narrow["access_token"], scope="openid phone"), "invalid_scope",
            "not allowed: phone")
    refused(exchange(mini, narrow["access_token"], scope="openid offline_access"),
            "invalid_scope", "offline_access")
    assert issued_to(backend, mini.client_id) == before
    assert exchange(mini, narrow["access_token"]).json()["scope"] == "openid profile"
