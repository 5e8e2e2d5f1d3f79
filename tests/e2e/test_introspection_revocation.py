"""Token revocation (RFC 7009) and introspection (RFC 7662), end to end against ``idp serve``.

Tokens come from real code flows (a website client, and the public demo app with PKCE); a
department back-end registered on the ``service`` channel introspects them. Revocation never
tells whether a token exists or whose it is, and never touches another client's token;
introspection answers ``{"active": false}`` for anything the caller may not see.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.e2e.oidc_client import Login, RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer

pytestmark = pytest.mark.e2e

SCOPE = "openid offline_access"
INACTIVE = {"active": False}


@pytest.fixture(scope="module")
def service(idp_server: IdpServer) -> tuple[str, str]:
    """A department back-end (resource server): ``idp clients create --channel service``."""
    data = idp_server.create_client("--name", f"resource-{uuid.uuid4().hex[:6]}",
                                    "--channel", "service")
    assert data["client_secret"]
    return data["client_id"], data["client_secret"]


@pytest.fixture
def login(rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any]) -> Login:
    result = rp.login(agent, citizen, SCOPE)
    assert result.tokens.get("refresh_token")
    return result


def introspect(server: IdpServer, token: str, auth: tuple[str, str] | None, *,
               post: bool = False, **extra: str) -> requests.Response:
    data = {"token": token, **extra}
    if post and auth is not None:
        data.update(client_id=auth[0], client_secret=auth[1])
        auth = None
    resp = requests.post(f"{server.url}/introspect", data=data, auth=auth, timeout=20)
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Type"].startswith("application/json")
    return resp


def introspected(server: IdpServer, token: str, auth: tuple[str, str],
                 **extra: str) -> dict[str, Any]:
    resp = introspect(server, token, auth, post=False, **extra)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def revoke(server: IdpServer, token: str, auth: tuple[str, str] | None = None,
           **extra: str) -> requests.Response:
    """POST /revoke; RFC 7009 §2.2: 200 with an empty body, whatever happened."""
    resp = requests.post(f"{server.url}/revoke", data={"token": token, **extra}, auth=auth,
                         timeout=20)
    assert resp.status_code == 200, resp.text
    assert resp.content == b""
    assert resp.headers["Cache-Control"] == "no-store"
    return resp


def creds(rp: RelyingParty) -> tuple[str, str]:
    assert rp.client_secret
    return rp.client_id, rp.client_secret


def revocations(server: IdpServer, client_id: str) -> list[dict[str, Any]]:
    """The ``token:revoke:success`` audit events of one client (read from the database)."""
    url = server.env.get("IDP_DATABASE_URL") or f"sqlite:///{server.root / 'var' / 'idp.db'}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT extra FROM audit_events WHERE tag = :tag AND "
                                     "client_id = :client ORDER BY seq"),
                                {"tag": "token:revoke:success", "client": client_id})
            return [e if isinstance(e, dict) else json.loads(e) for (e,) in rows]
    finally:
        engine.dispose()


def _error(resp: requests.Response, status: int, error: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.json()["error"] == error, resp.text


# -- discovery ------------------------------------------------------------------------------


def test_discovery_advertises_both_endpoints(rp: RelyingParty) -> None:
    assert rp.endpoint("revocation") == f"{rp.issuer}/revoke"
    assert rp.endpoint("introspection") == f"{rp.issuer}/introspect"
    assert rp.config["revocation_endpoint_auth_methods_supported"] == [
        "client_secret_basic", "client_secret_post", "none"]
    assert rp.config["introspection_endpoint_auth_methods_supported"] == [
        "client_secret_basic", "client_secret_post"]


# -- introspection ----------------------------------------------------------------------------


def test_introspect_active_access_token(idp_server: IdpServer, rp: RelyingParty, login: Login,
                                        service: tuple[str, str]) -> None:
    """RFC 7662 §2.2 for a JWT access token, for the resource server (basic and post) and
    for the client it was issued to."""
    access = login.tokens["access_token"]
    body = introspected(idp_server, access, service)
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert body["client_id"] == rp.client_id and body["aud"] == rp.client_id
    assert body["sub"] == login.sub and body["iss"] == rp.issuer
    assert set(body["scope"].split()) == set(SCOPE.split())
    assert body["sid"] == login.id_claims["sid"]
    assert body["auth_time"] == login.id_claims["auth_time"]
    assert body["acr"] == login.id_claims["acr"] and body["channel"] == "website"
    assert isinstance(body["jti"], str) and body["jti"]
    assert body["iat"] <= body["exp"] and body["exp"] - body["iat"] == login.tokens["expires_in"]

    assert introspect(idp_server, access, service, post=True).json() == body
    assert introspected(idp_server, access, creds(rp)) == body  # the owner may look too
    # The hint is advisory: a wrong one, or an unknown one, changes nothing.
    assert introspected(idp_server, access, service, token_type_hint="refresh_token") == body
    assert introspected(idp_server, access, service, token_type_hint="id_token") == body


def test_introspect_active_refresh_token(idp_server: IdpServer, rp: RelyingParty, login: Login,
                                         service: tuple[str, str]) -> None:
    body = introspected(idp_server, login.tokens["refresh_token"], service)
    assert body["active"] is True and body["token_type"] == "refresh_token"
    assert body["client_id"] == rp.client_id and body["sub"] == login.sub
    assert set(body["scope"].split()) == set(SCOPE.split())
    assert body["sid"] == login.id_claims["sid"]
    assert body["iat"] < body["exp"]
    assert introspected(idp_server, login.tokens["refresh_token"], creds(rp),
                        token_type_hint="refresh_token") == body

    # Used (rotated) it is spent; its successor is the active one.
    fresh = rp.refresh(login.tokens["refresh_token"])
    assert fresh.status_code == 200, fresh.text
    assert introspected(idp_server, login.tokens["refresh_token"], service) == INACTIVE
    assert introspected(idp_server, fresh.json()["refresh_token"], service)["active"] is True


def test_introspection_by_another_client_is_inactive(
        idp_server: IdpServer, register: Callable[..., RelyingParty], login: Login,
        service: tuple[str, str]) -> None:
    """A confidential client that is neither a service nor the owner learns nothing."""
    other = creds(register())
    for token in (login.tokens["access_token"], login.tokens["refresh_token"]):
        assert introspected(idp_server, token, other) == INACTIVE
        assert introspected(idp_server, token, service)["active"] is True


def _unsigned_jwt() -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'at+jwt'})}.{part({'jti': 'x', 'exp': 2**31})}."


UNKNOWN = ["garbage", secrets.token_urlsafe(32), "a.b.c", "x" * 5000, "令牌", _unsigned_jwt()]


@pytest.mark.parametrize("token", UNKNOWN, ids=["word", "random", "dots", "long", "cjk", "none"])
def test_unknown_tokens(idp_server: IdpServer, rp: RelyingParty, service: tuple[str, str],
                        token: str) -> None:
    """Unknown or malformed: introspection says inactive, revocation says 200 (RFC 7009 §2.2)
    and records nothing."""
    assert introspected(idp_server, token, service) == INACTIVE
    revoke(idp_server, token, creds(rp))
    revoke(idp_server, token, creds(rp), token_type_hint="access_token")
    assert revocations(idp_server, rp.client_id) == []


# -- revocation -------------------------------------------------------------------------------


def test_revoke_access_token(idp_server: IdpServer, register: Callable[..., RelyingParty],
                             agent: UserAgent, citizen: dict[str, Any],
                             service: tuple[str, str]) -> None:
    """An access token revokes its issuance: that token (introspection, userinfo) and the
    refresh token issued with it. Audited once; revoking again changes nothing."""
    rp = register()
    login = rp.login(agent, citizen, SCOPE)
    access = login.tokens["access_token"]
    assert rp.userinfo(access).status_code == 200
    revoke(idp_server, access, creds(rp), token_type_hint="access_token")
    assert introspected(idp_server, access, service) == INACTIVE
    assert rp.userinfo(access).status_code == 401
    assert rp.refresh(login.tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert revocations(idp_server, rp.client_id) == [{"token_type": "access_token",
                                                       "revoked": 1}]
    revoke(idp_server, access, creds(rp))
    assert len(revocations(idp_server, rp.client_id)) == 1


def test_revoke_refresh_token_revokes_its_family(
        idp_server: IdpServer, register: Callable[..., RelyingParty], agent: UserAgent,
        citizen: dict[str, Any], service: tuple[str, str]) -> None:
    """RFC 7009 §2.1: every token of the grant goes — the rotated-from tokens too."""
    rp = register()
    login = rp.login(agent, citizen, SCOPE)
    rotated = rp.refresh(login.tokens["refresh_token"]).json()
    # client_secret_post, with an unknown hint (ignored, not unsupported_token_type).
    resp = requests.post(rp.endpoint("revocation"), timeout=20, data={
        "token": rotated["refresh_token"], "token_type_hint": "banana",
        "client_id": rp.client_id, "client_secret": rp.client_secret})
    assert resp.status_code == 200 and resp.content == b"", resp.text
    for access in (login.tokens["access_token"], rotated["access_token"]):
        assert introspected(idp_server, access, service) == INACTIVE
        assert rp.userinfo(access).status_code == 401
    assert introspected(idp_server, rotated["refresh_token"], service) == INACTIVE
    assert rp.refresh(rotated["refresh_token"]).json()["error"] == "invalid_grant"
    assert revocations(idp_server, rp.client_id) == [{"token_type": "refresh_token",
                                                       "revoked": 2}]


def test_revocation_by_another_client_changes_nothing(
        idp_server: IdpServer, rp: RelyingParty, register: Callable[..., RelyingParty],
        login: Login, service: tuple[str, str]) -> None:
    other = register()
    for token in (login.tokens["access_token"], login.tokens["refresh_token"]):
        revoke(idp_server, token, creds(other))
        assert introspected(idp_server, token, service)["active"] is True
    assert revocations(idp_server, other.client_id) == []
    assert rp.userinfo(login.tokens["access_token"]).status_code == 200
    assert rp.refresh(login.tokens["refresh_token"]).status_code == 200


def test_public_client_revokes_its_own_refresh_token(
        idp_server: IdpServer, agent: UserAgent, citizen: dict[str, Any],
        service: tuple[str, str]) -> None:
    """The app (public, PKCE) authenticates with its client_id alone (RFC 7009 §2.1)."""
    app = RelyingParty(idp_server, "demo-app", None, "http://127.0.0.1:53121/callback")
    login = app.login(agent, citizen, SCOPE, pkce=True, auth="none")
    refresh = login.tokens["refresh_token"]
    assert introspected(idp_server, refresh, service)["active"] is True
    # Without a client_id nobody is authenticated.
    _error(requests.post(app.endpoint("revocation"), data={"token": refresh}, timeout=20),
           401, "invalid_client")
    revoke(idp_server, refresh, None, client_id=app.client_id)
    assert introspected(idp_server, refresh, service) == INACTIVE
    assert introspected(idp_server, login.tokens["access_token"], service) == INACTIVE
    assert app.refresh(refresh, auth="none").json()["error"] == "invalid_grant"
    # A public client cannot introspect, even its own tokens.
    _error(requests.post(app.endpoint("introspection"), timeout=20,
                         data={"token": refresh, "client_id": app.client_id}),
           401, "invalid_client")


def test_sign_out_makes_tokens_inactive(idp_server: IdpServer, login: Login, agent: UserAgent,
                                        service: tuple[str, str]) -> None:
    tokens = (login.tokens["access_token"], login.tokens["refresh_token"])
    assert all(introspected(idp_server, t, service)["active"] for t in tokens)
    home = agent.http.get(f"{idp_server.url}/", timeout=20)
    out = agent.http.post(f"{idp_server.url}/logout", timeout=20, allow_redirects=False,
                          data={"csrf_token": UserAgent.csrf(home)})
    assert out.status_code in (302, 303), out.text
    for token in tokens:
        assert introspected(idp_server, token, service) == INACTIVE


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
def test_client_authentication_is_required(idp_server: IdpServer, rp: RelyingParty,
                                           login: Login, path: str) -> None:
    """No credentials, a wrong secret or a confidential client_id alone: 401 invalid_client
    (RFC 6749 §5.2), and nothing is revoked."""
    url = idp_server.url + path
    token = login.tokens["refresh_token"]
    for kwargs in ({"data": {"token": token}},
                   {"data": {"token": token}, "auth": (rp.client_id, "wrong")},
                   {"data": {"token": token, "client_id": rp.client_id}},
                   {"data": {"token": token, "client_id": rp.client_id,
                             "client_secret": "wrong"}}):
        resp = requests.post(url, timeout=20, **kwargs)
        _error(resp, 401, "invalid_client")
        assert "active" not in resp.json()
    assert rp.refresh(token).status_code == 200


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
def test_token_is_required(idp_server: IdpServer, rp: RelyingParty, path: str) -> None:
    url = idp_server.url + path
    for data in ({}, {"token": ""}):
        _error(requests.post(url, data=data, auth=creds(rp), timeout=20), 400,
               "invalid_request")
    get = requests.get(url, timeout=20)
    assert get.status_code == 405 and get.json()["error"] == "invalid_request"
