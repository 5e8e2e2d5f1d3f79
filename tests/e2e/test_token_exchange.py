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

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from jose import jwt as jose_jwt
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import func, select

from idp.config import load_settings
from idp.config.settings import DEVICE_CODE
from idp.container import Services, build_services
from idp.store.models import Token
from idp.tokens import IssueContext
from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer

pytestmark = pytest.mark.e2e

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
APP_SCOPE = "openid profile phone offline_access"


# -- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def backend(idp_server: IdpServer) -> Iterator[Services]:
    svc = build_services(load_settings(idp_server.env))
    yield svc
    svc.close()


def _demo(idp_server: IdpServer, channel: str, redirect_uri: str | None = None) -> RelyingParty:
    demo = idp_server.demo["clients"][channel]
    return RelyingParty(idp_server, demo["client_id"], demo.get("client_secret"),
                        redirect_uri or demo["redirect_uris"][0])


@pytest.fixture(scope="module")
def app(idp_server: IdpServer) -> RelyingParty:
    return _demo(idp_server, "app", "http://127.0.0.1/callback")


@pytest.fixture(scope="module")
def mini(idp_server: IdpServer) -> RelyingParty:
    return _demo(idp_server, "miniprogram")


@pytest.fixture
def sign_in_app(idp_server: IdpServer, app: RelyingParty) -> Callable[..., dict[str, Any]]:
    """The citizen signs in to the app in a fresh browser: the app's tokens and ID claims,
    plus the browser (to sign out later)."""

    def _sign_in(who: dict[str, Any], scope: str = APP_SCOPE) -> dict[str, Any]:
        browser = UserAgent(idp_server.url)
        login = app.login(browser, who, scope, auth="none", pkce=True)
        return {**login.tokens, "claims": login.id_claims, "browser": browser}

    return _sign_in


@pytest.fixture
def app_tokens(sign_in_app: Callable[..., dict[str, Any]],
               citizen: dict[str, Any]) -> dict[str, Any]:
    return sign_in_app(citizen)


def exchange(rp: RelyingParty, subject_token: str, /, *, auth: str = "basic",
             secret: str | None = None, **params: str) -> requests.Response:
    """POST a token-exchange request; ``params`` add to or override the defaults."""
    data = {"grant_type": EXCHANGE, "subject_token": subject_token,
            "subject_token_type": ACCESS, **params}
    return rp.token_request(data, auth=auth, secret=secret)


def issued_to(backend: Services, client_id: str) -> int:
    with backend.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Token).where(
            Token.client_id == client_id)) or 0)


def refused(resp: requests.Response, error: str, fragment: str = "",
            status: int = 400) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = resp.json()
    assert body["error"] == error, body
    assert fragment in body.get("error_description", ""), body
    assert not {"access_token", "id_token", "refresh_token"} & set(body), body
    return body


class Jwks:
    """What the mini-program's backend does: fetch the JWKS, verify with python-jose by kid."""

    def __init__(self, rp: RelyingParty) -> None:
        self.issuer = rp.issuer
        jwks = rp.http.get(rp.config["jwks_uri"], timeout=10).json()
        self.keys = {key["kid"]: key for key in jwks["keys"]}

    def verify(self, token: str, audience: str, *, typ: str,
               access_token: str | None = None) -> dict[str, Any]:
        header = jose_jwt.get_unverified_header(token)
        assert header["typ"] == typ and header["alg"] in ("RS256", "ES256"), header
        claims: dict[str, Any] = jose_jwt.decode(
            token, self.keys[header["kid"]], algorithms=[header["alg"]], audience=audience,
            issuer=self.issuer, access_token=access_token)
        return claims


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


def sign_out(browser: UserAgent, idp_server: IdpServer) -> None:
    home = browser.http.get(f"{idp_server.url}/", timeout=10)
    resp = browser.http.post(f"{idp_server.url}/logout", timeout=10, allow_redirects=False,
                             data={"csrf_token": UserAgent.csrf(home)})
    assert resp.status_code in (302, 303), resp.text


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
