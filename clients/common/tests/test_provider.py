"""The IdP as the clients see it (discovery, JWKS, token endpoint, UserInfo, app API), against
a scripted IdP at the network edge."""

from __future__ import annotations

import base64

import pytest

from clients.common.errors import ClientError, OAuthErrorResponse
from clients.common.http import HttpResponse, basic_auth
from clients.common.provider import Provider
from clients.common.tests.fakeidp import ISSUER, SUB, FakeIdp, json_response, oauth_error
from clients.website.errors import PortalError


@pytest.fixture
def idp() -> FakeIdp:
    return FakeIdp()


@pytest.fixture
def provider(idp: FakeIdp) -> Provider:
    return Provider(ISSUER, idp)


def test_discovery_is_fetched_once(idp, provider):
    assert provider.endpoint("token_endpoint") == f"{ISSUER}/token"
    assert provider.endpoint("device_authorization_endpoint").endswith("/device_authorization")
    assert len(idp.sent("GET", "/.well-known/openid-configuration")) == 1


def test_discovery_of_another_issuer_is_refused(idp, provider):
    idp.metadata["issuer"] = "https://evil.example.test"
    with pytest.raises(PortalError) as info:
        provider.metadata()
    assert info.value.code == "discovery_mismatch"


def test_missing_feature_is_named(idp, provider):
    del idp.metadata["device_authorization_endpoint"]
    with pytest.raises(ClientError) as info:
        provider.endpoint("device_authorization_endpoint")
    assert info.value.code == "discovery_incomplete"
    assert "device_authorization_endpoint" in info.value.en


def test_unreadable_discovery(idp, provider):
    idp.on("GET", "/.well-known/openid-configuration", HttpResponse(503, b"busy"))
    with pytest.raises(ClientError) as info:
        provider.metadata()
    assert info.value.code == "discovery_failed" and "503" in info.value.en


def test_jwks_comes_from_jwks_uri(idp, provider):
    assert provider.jwks.key_for("ec-test", "ES256")["kid"] == "ec-test"
    assert len(idp.sent("GET", "/jwks.json")) == 1


def test_oauth_error_keeps_code_and_description(idp, provider):
    idp.on("POST", "/token", oauth_error("invalid_grant", "the session has ended\nreally"))
    with pytest.raises(OAuthErrorResponse) as info:
        provider.post_form("token_endpoint", {"grant_type": "x"}, basic_auth("c", "s"))
    error = info.value
    assert (error.error, error.http_status) == ("invalid_grant", 400)
    assert error.description == "the session has ended really", "one line"
    assert "invalid_grant" in error.en and "invalid_grant" in error.zh
    sent = idp.sent("POST", "/token")[0]
    assert sent.form == {"grant_type": "x"}
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"c:s").decode()


def test_non_json_answer_is_a_bad_response(idp, provider):
    idp.on("POST", "/token", HttpResponse(502, b"<html>bad gateway</html>"))
    with pytest.raises(ClientError) as info:
        provider.post_form("token_endpoint", {})
    assert info.value.code == "bad_response" and "502" in info.value.en


def test_userinfo_must_be_about_the_expected_subject(idp, provider):
    idp.on("GET", "/userinfo", json_response(200, {"sub": "someone-else"}))
    with pytest.raises(ClientError) as info:
        provider.userinfo("at", SUB)
    assert info.value.code == "userinfo_sub_mismatch"
    assert idp.sent("GET", "/userinfo")[0].headers["Authorization"] == "Bearer at"


def test_userinfo_bearer_error(idp, provider):
    idp.on(
        "GET",
        "/userinfo",
        HttpResponse(401, b"", {"www-authenticate": 'Bearer error="invalid_token"'}),
    )
    with pytest.raises(OAuthErrorResponse) as info:
        provider.userinfo("at", SUB)
    assert info.value.error == "invalid_token"


def test_app_api_errors_and_missing_features(idp, provider):
    idp.on("POST", "/api/qr/scan", oauth_error("already_scanned", "scanned twice", 409))
    with pytest.raises(OAuthErrorResponse) as info:
        provider.api("POST", "/api/qr/scan", "at", json={"ticket_id": "t"})
    assert (info.value.error, info.value.http_status) == ("already_scanned", 409)
    assert "scanned twice" in info.value.en
    with pytest.raises(ClientError) as missing:
        provider.api("GET", "/api/device", "at", params={"user_code": "X"})
    assert missing.value.code == "not_available"
