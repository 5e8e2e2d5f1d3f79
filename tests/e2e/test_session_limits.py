"""A channel's absolute session limit (``session_absolute``) at a real ``idp serve``: the
portal refreshes freely inside it; past it the refresh grant is ``invalid_grant`` saying the
citizen must sign in again. (The other limits, on a moved clock: tests/web/test_session_limits.py.)
"""

from __future__ import annotations

import time

import pytest

from idp.oidc.grants import SESSION_LIMIT_REACHED
from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import launch_on_stack

LIMIT = 4  # seconds


@pytest.fixture
def short_session_server(request, tmp_path):
    server = launch_on_stack(request, tmp_path, "embedded", {
        "IDP_CHANNELS_WEBSITE_ACCESS_TOKEN_TTL": "2",
        "IDP_CHANNELS_WEBSITE_SESSION_ABSOLUTE": str(LIMIT)})
    yield server
    server.stop()


def test_refresh_past_the_channels_session_limit_says_sign_in_again(short_session_server):
    server = short_session_server
    rp = RelyingParty.register(server, "Short-session portal")
    demo = server.demo["citizens"][0]
    login = rp.login(UserAgent(server.url), {"username": demo["phone"],
                                             "password": demo["password"]},
                     "openid offline_access")
    signed_in = time.monotonic()
    resp = rp.refresh(login.tokens["refresh_token"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["expires_in"] <= 2
    time.sleep(max(0.0, signed_in + LIMIT + 1.1 - time.monotonic()))
    resp = rp.refresh(resp.json()["refresh_token"])
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_grant", "error_description": SESSION_LIMIT_REACHED}
