"""Two ``idp serve`` nodes sharing one PostgreSQL and one Redis behave as one IdP (issue 7 §3).

Node A and node B run on different ports with the same configuration (issuer, keys directory,
database, Redis) — as two machines behind a load balancer. A browser signed in through A is
signed in at B; a code issued by A is redeemed at B, once only; keys rotated through one are
published by both.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer, free_port, launch_on_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def nodes(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IdpServer, IdpServer]]:
    first = launch_on_stack(request, tmp_path_factory.mktemp("node-a"), "pg-redis")
    root: Path = tmp_path_factory.mktemp("node-b")
    port = free_port()
    second = IdpServer(url=f"http://127.0.0.1:{port}", env=dict(first.env), root=root,
                       stack="pg-redis", demo=first.demo)
    try:
        second.start(port)
        yield first, second
    finally:
        second.stop()
        first.stop()


def _code_at(node: IdpServer, agent: UserAgent, rp: RelyingParty, **extra: str) -> Any:
    """An authorization request sent to ``node`` with the browser's cookies."""
    at_node = UserAgent(node.url)
    at_node.http = agent.http  # the same browser: cookies are per host, not per port
    req = rp.auth_request(**extra)
    return req, at_node.authorize(req.params)


def test_a_session_started_on_one_node_is_honoured_by_the_other(nodes: Any) -> None:
    a, b = nodes
    for node in (a, b):  # both ready: database, Redis and the shared signing keys
        assert requests.get(f"{node.url}/readyz", timeout=10).json()["status"] == "ready"
    rp = RelyingParty.register(a, "multi-node portal")
    citizen = a.demo["citizens"][0]
    agent = UserAgent(a.url)
    login = rp.login(agent, {"username": citizen["phone"], "password": citizen["password"]})
    req, resp = _code_at(b, agent, rp, prompt="none")
    code = rp.expect_code(req, resp)  # no sign-in page: B knows the session A started
    tokens = requests.post(f"{b.url}/token", timeout=20, auth=(rp.client_id, rp.client_secret),
                           data=rp.code_grant(code, req)).json()
    claims = rp.verify_id_token(tokens["id_token"], nonce=req.nonce)
    assert claims["sid"] == login.id_claims["sid"] and claims["sub"] == login.sub


def test_a_code_issued_by_one_node_is_redeemed_at_the_other_once_only(nodes: Any) -> None:
    a, b = nodes
    rp = RelyingParty.register(a, "multi-node code")
    citizen = a.demo["citizens"][1]
    agent = UserAgent(a.url)
    req = rp.auth_request()
    code = rp.expect_code(req, rp.authorize(agent, req, {
        "username": citizen["phone"], "password": citizen["password"]}))
    grant = rp.code_grant(code, req)
    first = requests.post(f"{b.url}/token", data=grant, timeout=20,
                          auth=(rp.client_id, rp.client_secret))
    assert first.status_code == 200, first.text
    again = requests.post(f"{a.url}/token", data=grant, timeout=20,
                          auth=(rp.client_id, rp.client_secret))
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # The replay revoked what the code issued, on every node.
    userinfo = requests.get(f"{b.url}/userinfo", timeout=20, headers={
        "Authorization": f"Bearer {first.json()['access_token']}"})
    assert userinfo.status_code == 401


def test_keys_rotated_through_one_node_are_published_by_both(nodes: Any) -> None:
    a, b = nodes
    rotated = a.cli_json("keys", "rotate")["keys"]
    next_kids = {k["kid"] for k in rotated if k["state"] == "next"}
    assert len(next_kids) == 2
    for node in (a, b):
        published: set[str] = set()
        for _ in range(30):  # each worker re-reads the keys within about a second
            jwks = requests.get(f"{node.url}/jwks.json", timeout=10).json()
            published = {k["kid"] for k in jwks["keys"]}
            if next_kids <= published:
                break
            time.sleep(0.2)
        assert next_kids <= published, node.url
