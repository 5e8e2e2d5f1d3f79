"""JWT access tokens (RFC 9068 §4, clients.common.access_tokens), and the explicit typing that
keeps an access token from passing as an ID token."""

from __future__ import annotations

import time

import pytest

from clients.common.access_tokens import AccessTokenError, validate_access_token
from clients.common.provider import Provider
from clients.common.tests.fakeidp import ISSUER, SUB, FakeIdp
from clients.website.tokens import IdTokenError, validate_id_token

ME = "mini-1"


@pytest.fixture
def idp() -> FakeIdp:
    return FakeIdp()


@pytest.fixture
def jwks(idp):
    return Provider(ISSUER, idp).jwks


def check(token, jwks, **kwargs):
    params = {"issuer": ISSUER, "audience": ME, "client_id": ME}
    params.update(kwargs)
    return validate_access_token(token, jwks, **params)


def rejected(token, jwks, code, **kwargs) -> AccessTokenError:
    with pytest.raises(AccessTokenError) as info:
        check(token, jwks, **kwargs)
    assert info.value.code == code, info.value
    assert "ID token" not in info.value.en and "ID 令牌" not in info.value.zh
    assert token not in info.value.en
    return info.value


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT"])
def test_access_token_is_accepted(idp, jwks, typ):
    claims = check(idp.access_token(ME, typ=typ), jwks)
    assert claims["sub"] == SUB and claims["client_id"] == ME


def test_plain_jwt_is_not_an_access_token(idp, jwks):
    error = rejected(idp.access_token(ME, typ="JWT"), jwks, "bad_typ")
    assert "at+jwt" in error.en


def test_audience_and_client_id_are_ours(idp, jwks):
    rejected(idp.access_token("someone-else"), jwks, "bad_aud")
    rejected(idp.access_token(ME, client_id="demo-app"), jwks, "bad_client_id")
    token = idp.access_token("demo-app")
    assert check(token, jwks, audience=None)["aud"] == "demo-app", "None: reader, not audience"


def test_expired_and_foreign_tokens(idp, jwks):
    rejected(idp.access_token(ME, exp=int(time.time()) - 3600), jwks, "expired")
    rejected(idp.access_token(ME, iss="https://evil.example.test"), jwks, "bad_iss")
    rejected("not.a.token", jwks, "malformed")


def test_access_token_is_never_accepted_as_id_token(idp, jwks):
    token = idp.access_token(ME)  # aud, iss, sub, exp, iat all fit an ID token
    with pytest.raises(IdTokenError) as info:
        validate_id_token(
            token, jwks, issuer=ISSUER, client_id=ME, nonce=None, nonce_required=False
        )
    assert info.value.code == "bad_typ"
    ok = validate_id_token(
        idp.id_token(ME), jwks, issuer=ISSUER, client_id=ME, nonce=None, nonce_required=False
    )
    assert ok["sub"] == SUB
