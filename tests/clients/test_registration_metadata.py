"""RFC 7591 metadata checks (idp.clients.registration), without a database: what a department
may register for itself, the defaults it gets, and every refusal with its error code."""

from __future__ import annotations

from typing import Any

import pytest

from idp.clients import ChannelPolicies, ClientRecord
from idp.clients.records import secret_digest
from idp.clients.registration import (
    InvalidClientMetadata,
    parse_metadata,
    registration_token_matches,
)

WEB = {"client_name": "社保门户", "redirect_uris": ["https://si.example.gov.cn/cb"]}


@pytest.fixture
def policies(make_settings: Any) -> ChannelPolicies:
    settings = make_settings()
    return ChannelPolicies(settings.channels, settings.token_exchange)


def _record(**changes: Any) -> ClientRecord:
    base: dict[str, Any] = {
        "client_id": "website-1", "name": "社保门户", "channel": "website",
        "client_type": "confidential", "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": ("https://si.example.gov.cn/cb",), "post_logout_redirect_uris": (),
        "backchannel_logout_uri": None, "grant_types": ("authorization_code", "refresh_token"),
        "scopes": ("openid", "profile"), "id_token_signed_response_alg": "RS256",
        "skip_consent": False, "status": "active"}
    return ClientRecord(**(base | changes))


def test_a_website_registration_gets_the_defaults(policies: ChannelPolicies) -> None:
    parsed = parse_metadata(WEB, policies=policies)
    assert parsed.client.channel == "website" and parsed.application_type == "web"
    assert parsed.grant_types == ("authorization_code", "refresh_token")
    assert parsed.response_types == ("code",)
    assert parsed.token_endpoint_auth_method == "client_secret_basic"
    assert parsed.client.scopes == ("openid", "profile", "phone", "email", "offline_access")
    assert parsed.client.skip_consent is False


@pytest.mark.parametrize(("extra", "channel"), [
    ({"application_type": "native", "redirect_uris": ["http://127.0.0.1/cb"]}, "app"),
    ({"grant_types": ["client_credentials"], "redirect_uris": None}, "service"),
    ({"channel": "service", "redirect_uris": None}, "service"),
])
def test_the_channel_is_inferred_or_named(policies: ChannelPolicies, extra: dict[str, Any],
                                          channel: str) -> None:
    parsed = parse_metadata(WEB | extra, policies=policies)
    assert parsed.client.channel == channel


def test_a_native_app_may_use_loopback_and_private_schemes(policies: ChannelPolicies) -> None:
    parsed = parse_metadata({"client_name": "App", "application_type": "native",
                             "redirect_uris": ["http://localhost/cb", "cn.gov.example.app:/cb"],
                             "token_endpoint_auth_method": "none"}, policies=policies)
    assert parsed.client.redirect_uris == ("http://localhost/cb", "cn.gov.example.app:/cb")


BAD = [
    # (metadata, error code, words of the description)
    ([], "invalid_client_metadata", "JSON object"),
    (WEB | {"redirect_uris": "https://si.example.gov.cn/cb"}, "invalid_client_metadata",
     "redirect_uris must be an array of strings"),
    (WEB | {"client_name": 7}, "invalid_client_metadata", "client_name must be a string"),
    ({"redirect_uris": WEB["redirect_uris"]}, "invalid_client_metadata", "client_name is required"),
    (WEB | {"redirect_uris": ["http://si.example.gov.cn/cb"]}, "invalid_redirect_uri", "use https"),
    (WEB | {"redirect_uris": ["http://localhost:8080/cb"]}, "invalid_redirect_uri",
     "plain http is allowed only for loopback"),
    (WEB | {"redirect_uris": ["https://si.example.gov.cn/cb#x"]}, "invalid_redirect_uri",
     "fragment"),
    (WEB | {"redirect_uris": []}, "invalid_redirect_uri", "redirect_uris is required"),
    (WEB | {"post_logout_redirect_uris": ["http://si.example.gov.cn/"]},
     "invalid_redirect_uri", "use https"),
    (WEB | {"grant_types": ["authorization_code", "password"]}, "invalid_client_metadata",
     "unsupported grant type(s): password"),
    (WEB | {"channel": "website", "grant_types": ["client_credentials"]},
     "invalid_client_metadata", "not allowed for a website client"),
    (WEB | {"grant_types": []}, "invalid_client_metadata", "must not be empty"),
    (WEB | {"response_types": ["token"]}, "invalid_client_metadata",
     "unsupported response type(s): token"),
    (WEB | {"grant_types": ["client_credentials"], "channel": "service",
            "response_types": ["code"], "redirect_uris": None}, "invalid_client_metadata",
     "response_types and grant_types disagree"),
    (WEB | {"response_types": []}, "invalid_client_metadata",
     "response_types and grant_types disagree"),
    (WEB | {"scope": "openid id_card"}, "invalid_client_metadata", "id_card scope"),
    (WEB | {"scope": "openid address"}, "invalid_client_metadata",
     "scope(s) address cannot be registered"),
    (WEB | {"skip_consent": True}, "invalid_client_metadata", "set by the security staff"),
    (WEB | {"in_person_check": True}, "invalid_client_metadata", "set by the security staff"),
    (WEB | {"channel": "counter"}, "invalid_client_metadata", "registered by the security staff"),
    (WEB | {"channel": "miniprogram"}, "invalid_client_metadata",
     "registered by the security staff"),
    (WEB | {"channel": "fax"}, "invalid_client_metadata", "unknown channel"),
    (WEB | {"application_type": "native", "redirect_uris": ["myapp:/cb"]},
     "invalid_redirect_uri", "private-use scheme in reverse-domain form"),
    (WEB | {"channel": "website", "application_type": "native"}, "invalid_client_metadata",
     "does not fit a website client"),
    (WEB | {"application_type": "desktop"}, "invalid_client_metadata", "web or native"),
    (WEB | {"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata",
     "use client_secret_basic or client_secret_post"),
    (WEB | {"channel": "service", "grant_types": ["client_credentials"]},
     "invalid_redirect_uri", "only with the authorization_code grant"),
]


@pytest.mark.parametrize(("data", "code", "words"), BAD)
def test_bad_metadata_is_refused(policies: ChannelPolicies, data: Any, code: str,
                                 words: str) -> None:
    with pytest.raises(InvalidClientMetadata) as refused:
        parse_metadata(data, policies=policies)
    assert refused.value.code == code
    assert words in refused.value.message


def test_an_update_keeps_the_channel_and_the_granted_scopes(policies: ChannelPolicies) -> None:
    granted = _record(scopes=("openid", "address"))  # staff granted address later
    parsed = parse_metadata(WEB | {"scope": "openid address"}, policies=policies,
                            current=granted)
    assert parsed.client.scopes == ("openid", "address")
    with pytest.raises(InvalidClientMetadata, match="stays a website client"):
        parse_metadata(WEB | {"channel": "service"}, policies=policies, current=granted)
    with pytest.raises(InvalidClientMetadata, match="cannot be registered"):
        parse_metadata(WEB | {"scope": "openid address phone_secret"}, policies=policies,
                       current=granted)
    kept = parse_metadata(WEB, policies=policies, current=_record(skip_consent=True))
    assert kept.client.skip_consent is True  # staff's choice stays


def test_the_registration_token_is_compared_by_digest() -> None:
    record = _record(extra={"registration_token_digest": secret_digest("the-token")})
    assert registration_token_matches(record, "the-token")
    assert not registration_token_matches(record, "the-token2")
    assert not registration_token_matches(record, "")
    assert not registration_token_matches(_record(), "the-token")  # staff-made: no token
