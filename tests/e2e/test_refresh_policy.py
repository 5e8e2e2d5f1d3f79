"""Channel policy ``refresh_rotation`` at the token endpoint, on both stacks.

With rotation on (the default) each refresh returns a new refresh token and the old one is dead
(reuse revokes the family — see the conformance tests). With ``refresh_rotation = false`` for a
channel, the refresh token stays valid and no new one is issued.
"""

from __future__ import annotations

import pytest

from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import launch_on_stack


@pytest.fixture(params=["embedded", "pg-redis"])
def no_rotation_server(request, tmp_path):
    server = launch_on_stack(request, tmp_path, request.param,
                             {"IDP_CHANNELS_WEBSITE_REFRESH_ROTATION": "false"})
    yield server
    server.stop()


def test_rotation_off_keeps_the_refresh_token(no_rotation_server):
    server = no_rotation_server
    rp = RelyingParty.register(server, "No-rotation portal")
    demo = server.demo["citizens"][0]
    login = rp.login(UserAgent(server.url), {"username": demo["phone"],
                                             "password": demo["password"]},
                     "openid offline_access")
    refresh = login.tokens["refresh_token"]
    for _ in range(2):
        resp = rp.refresh(refresh)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert "refresh_token" not in body and body["access_token"]
        assert rp.userinfo(body["access_token"]).status_code == 200
