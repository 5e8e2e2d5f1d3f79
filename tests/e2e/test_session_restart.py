"""The SSO session lives in the ephemeral store, so it survives an IdP restart (Redis and the
embedded store alike): after ``idp serve`` stops and starts again, the same browser signs in
to a portal silently (``prompt=none``) with the same ``sid``."""

from __future__ import annotations

import pytest

from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import free_port, launch_on_stack


@pytest.fixture(params=["embedded", "pg-redis"])
def restartable(request, tmp_path):
    server = launch_on_stack(request, tmp_path, request.param, None)
    yield server
    server.stop()


def test_sso_session_survives_a_restart(restartable):
    server = restartable
    rp = RelyingParty.register(server, "Restart portal")
    demo = server.demo["citizens"][0]
    citizen = {"username": demo["phone"], "password": demo["password"]}
    agent = UserAgent(server.url)
    first = rp.login(agent, citizen, "openid")
    server.stop()
    server.start(int(server.url.rsplit(":", 1)[1]))
    req = rp.auth_request("openid", prompt="none")
    resp = rp.authorize(agent, req, None)
    tokens = rp.redeem(rp.expect_code(req, resp), req)
    again = rp.verify_id_token(tokens["id_token"], nonce=req.nonce)
    assert again["sid"] == first.id_claims["sid"] and again["sub"] == first.sub
    assert agent.sign_ins == 1


def test_free_port_helper_gives_distinct_ports():
    assert len({free_port() for _ in range(5)}) >= 4
