"""Redirect URI matching: exact, except any port on a native app's loopback IP (RFC 8252 §7.3)."""

from __future__ import annotations

import pytest

from idp.clients import ChannelPolicies, ClientRecord
from idp.config import load_settings
from idp.oidc.models import OAuthClient


def _client(client_type: str, uris: tuple[str, ...]) -> OAuthClient:
    return OAuthClient(ClientRecord(
        client_id="c", name="n", channel="app" if client_type == "public" else "website",
        client_type=client_type, token_endpoint_auth_method="none",
        redirect_uris=uris, post_logout_redirect_uris=(), backchannel_logout_uri=None,
        grant_types=("authorization_code",), scopes=("openid",),
        id_token_signed_response_alg="RS256", skip_consent=False, status="active"),
        ChannelPolicies(load_settings({}).channels, load_settings({}).token_exchange))


@pytest.mark.parametrize(("uri", "ok"), [
    ("http://127.0.0.1/callback", True),
    ("http://127.0.0.1:51234/callback", True),
    ("http://[::1]:8080/cb6", True),
    ("http://127.0.0.1:51234/callback/", False),
    ("http://127.0.0.1:51234/other", False),
    ("http://localhost:51234/callback", False),
    ("https://127.0.0.1:51234/callback", False),
    ("http://user@127.0.0.1:51234/callback", False),
    ("http://127.0.0.1:99999/callback", False),
    ("cn.gov.example.app:/cb", True),
    ("cn.gov.example.app:/cb2", False),
])
def test_native_app_loopback_any_port(uri, ok):
    app = _client("public", ("http://127.0.0.1/callback", "http://[::1]/cb6",
                             "cn.gov.example.app:/cb"))
    assert app.check_redirect_uri(uri) is ok


def test_confidential_clients_get_exact_match_only():
    web = _client("confidential", ("http://127.0.0.1/callback",))
    assert web.check_redirect_uri("http://127.0.0.1/callback")
    assert not web.check_redirect_uri("http://127.0.0.1:5001/callback")
