"""ID token validation of the demo portal (OIDC Core §3.1.3.7), without the network."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from clients.website.tests.idtokens import (
    CLIENT_ID,
    ISSUER,
    NOW,
    FakeJwks,
    SigningKey,
    _b64,
    _public_pem,
    claims,
    forge,
    rejected,
    sign,
    validate,
)
from clients.website.tokens import IdTokenError, JwksCache, check_refreshed

# --- accepted ----------------------------------------------------------------------------


@pytest.mark.parametrize("key_name", ["rsa_key", "ec_key"])
def test_valid_token_is_accepted(key_name: str, request: pytest.FixtureRequest, cache: JwksCache):
    key: SigningKey = request.getfixturevalue(key_name)
    verified = validate(sign(key), cache)
    assert verified["sub"] == "acc_8f14e45fceea167a"
    assert verified["name"] == "张三"
    assert verified["at_hash"]  # python-jose added it, and it was checked


def test_audience_list_with_our_client_and_azp_is_accepted(rsa_key, cache):
    token = sign(rsa_key, claims(aud=[CLIENT_ID, "other"], azp=CLIENT_ID))
    assert validate(token, cache, trusted_audiences=frozenset({"other"}))["azp"] == CLIENT_ID


def test_token_without_at_hash_is_accepted_in_the_code_flow(rsa_key, cache):
    assert "at_hash" not in validate(sign(rsa_key, access_token=None), cache)


def test_token_without_kid_uses_the_only_key_of_its_type(rsa_key):
    cache = JwksCache(FakeJwks(rsa_key))
    assert validate(sign(rsa_key, kid=None), cache)["iss"] == ISSUER


def test_clock_skew_within_leeway_is_tolerated(rsa_key, cache):
    token = sign(rsa_key, claims(exp=int(NOW) - 30, iat=int(NOW) + 30))
    assert validate(token, cache, leeway=60)["sub"]


# --- claims rejected ---------------------------------------------------------------------


def test_wrong_issuer_is_rejected(rsa_key, cache):
    rejected(sign(rsa_key, claims(iss="https://evil.example")), cache, "bad_iss")


def test_issuer_must_match_exactly(rsa_key, cache):
    rejected(sign(rsa_key, claims(iss=ISSUER + "/")), cache, "bad_iss")


@pytest.mark.parametrize("aud", ["another-client", ["another-client"], [], 42])
def test_wrong_audience_is_rejected(rsa_key, cache, aud):
    rejected(sign(rsa_key, claims(aud=aud)), cache, "bad_aud")


def test_untrusted_extra_audience_is_rejected(rsa_key, cache):
    rejected(sign(rsa_key, claims(aud=[CLIENT_ID, "stranger"], azp=CLIENT_ID)), cache, "bad_aud")


def test_azp_naming_another_client_is_rejected(rsa_key, cache):
    rejected(sign(rsa_key, claims(azp="another-client")), cache, "bad_azp")


def test_several_audiences_need_azp(rsa_key, cache):
    token = sign(rsa_key, claims(aud=[CLIENT_ID, "other"]))
    rejected(token, cache, "bad_azp", trusted_audiences=frozenset({"other"}))


def test_expired_token_is_rejected(rsa_key, cache):
    token = sign(rsa_key, claims(exp=int(NOW) - 3600, iat=int(NOW) - 4200))
    error = rejected(token, cache, "expired")
    assert "过期" in error.zh and "expired" in error.en


def test_expiry_is_checked_against_the_real_clock_by_default(rsa_key, cache):
    token = sign(rsa_key, claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 4200))
    rejected(token, cache, "expired", now=None)


@pytest.mark.parametrize(("name", "value"), [("exp", None), ("iat", None), ("exp", "soon")])
def test_missing_or_non_numeric_time_claims_are_rejected(rsa_key, cache, name, value):
    rejected(sign(rsa_key, claims(**{name: value})), cache, f"missing_{name}")


def test_token_issued_in_the_future_is_rejected(rsa_key, cache):
    rejected(sign(rsa_key, claims(iat=int(NOW) + 3600)), cache, "bad_iat")


def test_missing_sub_is_rejected(rsa_key, cache):
    rejected(sign(rsa_key, claims(sub=None)), cache, "missing_sub")


@pytest.mark.parametrize("nonce", ["another-nonce", None, 7])
def test_wrong_or_missing_nonce_is_rejected(rsa_key, cache, nonce):
    rejected(sign(rsa_key, claims(nonce=nonce)), cache, "bad_nonce")


def test_bad_at_hash_is_rejected(rsa_key, cache):
    token = sign(rsa_key, access_token="a-different-access-token")
    rejected(token, cache, "bad_at_hash")


def test_at_hash_without_an_access_token_to_compare_is_rejected(ec_key, cache):
    rejected(sign(ec_key), cache, "bad_at_hash", access_token=None)


# --- algorithms and signatures -----------------------------------------------------------


def test_alg_none_is_rejected(rsa_key, cache):
    unsigned = forge({"alg": "none", "kid": rsa_key.kid}, claims(), lambda _: b"")
    rejected(unsigned, cache, "bad_alg")


def test_hs256_signed_with_the_public_key_as_secret_is_rejected(rsa_key, cache):
    """The classic key-confusion attack: the public key (PEM or JWK) used as an HMAC secret."""
    for secret in (_public_pem(rsa_key.private_key), json.dumps(rsa_key.public_jwk).encode()):
        token = forge(
            {"alg": "HS256", "kid": rsa_key.kid},
            claims(),
            lambda data, secret=secret: hmac.new(secret, data, hashlib.sha256).digest(),
        )
        error = rejected(token, cache, "bad_alg")
        assert "HS256" in error.en


def test_other_asymmetric_algorithms_are_rejected(rsa_key, cache):
    rejected(jwt.encode(claims(), rsa_key.pem, algorithm="RS512"), cache, "bad_alg")


def test_tampered_payload_is_rejected(rsa_key, cache):
    header, _, signature = sign(rsa_key).split(".")
    payload = _b64(json.dumps(claims(sub="someone-else")).encode())
    rejected(f"{header}.{payload}.{signature}", cache, "bad_signature")


def test_token_signed_by_a_stranger_under_our_kid_is_rejected(rsa_key, cache):
    impostor = SigningKey(rsa.generate_private_key(65537, 2048), "RS256", rsa_key.kid)
    rejected(sign(impostor), cache, "bad_signature")


def test_ec_signature_under_an_rsa_kid_is_not_tried_with_the_wrong_key(rsa_key, ec_key, cache):
    rejected(sign(ec_key, kid=rsa_key.kid), cache, "unknown_key")


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d.e", "!!.??.##"])
def test_malformed_token_is_rejected(cache, token):
    with pytest.raises(IdTokenError) as info:
        validate(token, cache)
    assert info.value.code == "malformed"


def test_critical_header_extensions_are_rejected(rsa_key, cache):
    token = jwt.encode(
        claims(), rsa_key.pem, algorithm="RS256", headers={"kid": rsa_key.kid, "crit": ["exp"]}
    )
    rejected(token, cache, "bad_header")


# --- tokens from a refresh (OIDC Core §12.2) ---------------------------------------------


def test_refreshed_token_may_omit_the_nonce(rsa_key, cache):
    original = validate(sign(rsa_key), cache)
    refreshed = validate(
        sign(rsa_key, claims(nonce=None, iat=int(NOW) + 10)), cache, nonce_required=False
    )
    check_refreshed(original, refreshed)


def test_refreshed_token_must_not_carry_another_nonce(rsa_key, cache):
    rejected(sign(rsa_key, claims(nonce="other")), cache, "bad_nonce", nonce_required=False)


@pytest.mark.parametrize(
    ("name", "value"), [("sub", "acc_other"), ("auth_time", int(NOW) + 100), ("azp", "x")]
)
def test_refreshed_token_for_another_sign_in_is_refused(rsa_key, cache, name, value):
    original = validate(sign(rsa_key), cache)
    changed = dict(original, **{name: value})
    with pytest.raises(IdTokenError) as info:
        check_refreshed(original, changed)
    assert info.value.code == "refresh_mismatch"
