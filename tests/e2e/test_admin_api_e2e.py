"""The staff's day over the JSON admin API, against a real ``idp serve`` (issue 6, "Done when"):
an operator bootstraps a security admin with ``idp staff create`` (the installed command), makes
an API token, then over real HTTP rotates the keys (the next keys appear in the JWKS at once,
before they sign), approves a department's dynamic registration (refused at the token endpoint
before, accepted after), ends a citizen's sessions (the citizen's tokens stop working) and
verifies the audit chain — which names each of those actions with the admin as actor.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-Admin-Password-26"  # noqa: S105 — test data


class Admin:
    def __init__(self, server: IdpServer, token: str) -> None:
        self.base = f"{server.url}/admin/api/v1"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.http.request(method, self.base + path, timeout=30, **kwargs)
        assert response.status_code == status, response.text
        assert response.headers["Cache-Control"] == "no-store"
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def admin(idp_server: IdpServer) -> Admin:
    name = f"sec-{idp_server.stack}"
    idp_server.cli("staff", "create", "--username", name, "--name", "安全管理员",
                   "--role", "security_admin", "--password-stdin", stdin=PASSWORD + "\n",
                   process=True)
    token = idp_server.cli_json("staff", "token", name, "--name", "e2e")["token"]
    return Admin(idp_server, token)


def test_openapi_document_is_served_without_a_token(idp_server: IdpServer) -> None:
    response = requests.get(f"{idp_server.url}/admin/api/v1/openapi.json", timeout=10)
    assert response.status_code == 200 and response.json()["openapi"].startswith("3.1")
    assert requests.get(f"{idp_server.url}/admin/api/v1/keys", timeout=10).status_code == 401


def test_rotate_approve_end_sessions_and_verify(idp_server: IdpServer, admin: Admin,
                                                rp: RelyingParty, agent: UserAgent,
                                                other_citizen: dict[str, Any]) -> None:
    me = admin("GET", "/me")
    actor = f"staff:{me['username']}"

    # Keys: the next key of each algorithm is published at once, and does not sign yet.
    rotated = admin("POST", "/keys/rotate", json={})
    next_kids = {k["kid"] for k in rotated["items"] if k["state"] == "next"}
    assert len(next_kids) == 2
    published: set[str] = set()
    for _ in range(30):  # every worker re-reads the keys within about a second
        jwks = requests.get(f"{idp_server.url}/jwks.json", timeout=10).json()
        published = {k["kid"] for k in jwks["keys"]}
        if next_kids <= published:
            break
        time.sleep(0.2)
    assert next_kids <= published

    # Clients: a dynamic registration waits for approval, then works.
    issued = admin("POST", "/initial-access-tokens", 201, json={"label": "e2e department"})
    registered = requests.post(
        f"{idp_server.url}/register", timeout=10,
        headers={"Authorization": f"Bearer {issued['token']}"},
        json={"client_name": "e2e department portal", "redirect_uris": [
            "https://dept.example.gov.cn/callback"], "grant_types": ["authorization_code"]})
    assert registered.status_code == 201, registered.text
    client = registered.json()
    pending = [c["client_id"] for c in admin("GET", "/clients?status=pending")["items"]]
    assert client["client_id"] in pending

    def token_error() -> str:
        answer = requests.post(rp.endpoint("token"), timeout=10, data={
            "grant_type": "authorization_code", "code": "not-a-code",
            "redirect_uri": "https://dept.example.gov.cn/callback"},
            auth=(client["client_id"], client["client_secret"]))
        return str(answer.json()["error"])

    assert token_error() in ("invalid_client", "unauthorized_client")  # pending: refused
    approved = admin("POST", f"/clients/{client['client_id']}/approve")
    assert approved["status"] == "active"
    assert token_error() == "invalid_grant"  # the client is accepted; only the code is bad

    # Sessions: find the citizen by ID number, end every session, the tokens stop working.
    login = rp.login(agent, other_citizen)
    found = admin("POST", "/citizens/search", json={"query": other_citizen["id_number"]})
    assert found["sub"] and other_citizen["id_number"] not in str(found)
    sessions = admin("GET", f"/citizens/{found['sub']}/sessions")["items"]
    assert sessions
    ended = admin("DELETE", f"/citizens/{found['sub']}/sessions")["ended"]
    assert set(ended) >= {s["ref"] for s in sessions}
    assert rp.userinfo(login.tokens["access_token"]).status_code == 401

    # Audit: intact, and it names what the admin did.
    assert admin("GET", "/audit/verify")["ok"] is True
    tags = {e["tag"] for e in admin("GET", f"/audit/events?actor={actor}&limit=200")["items"]}
    for done in ("key:", "client:approve", "session:end"):
        assert any(t.startswith(done) for t in tags), (done, tags)
