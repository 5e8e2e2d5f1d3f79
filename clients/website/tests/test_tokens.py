"""ID token validation of the demo portal (OIDC Core §3.1.3.7), without the network.

Real keys (RSA 2048, EC P-256) from ``cryptography``, tokens signed with python-jose, and a fake
JWKS fetcher injected into :class:`JwksCache` in place of the HTTP call to ``jwks_uri``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk, jwt

from clients.website.tokens import (
    IdTokenError,
    JwksCache,
    JwksUnavailableError,
    check_refreshed,
    validate_id_token,
)

ISSUER = "https://id.example.gov.cn"
CLIENT_ID = "portal-client"
NONCE = "n-0S6_WzA2Mj"
ACCESS_TOKEN = "at-2YotnFZFEjr1zCsicMWpAA"
NOW = 1_750_000_000.0


def _pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _public_jwk(private_key: Any, alg: str, kid: str) -> dict[str, Any]:
    public = jwk.construct(_public_pem(private_key), alg).to_dict()
    return {**public, "kid": kid, "use": "sig", "alg": alg}


class SigningKey:
    def __init__(self, private_key: Any, alg: str, kid: str) -> None:
        self.private_key, self.alg, self.kid = private_key, alg, kid
        self.pem = _pem(private_key)
        self.public_jwk = _public_jwk(private_key, alg, kid)


class FakeJwks:
    """Stands in for GET jwks_uri: serves the current key set and counts the calls."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"keys": [key.public_jwk for key in self.keys]}


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey(rsa.generate_private_key(65537, 2048), "RS256", "rsa-2025")


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP256R1()), "ES256", "ec-2025")


@pytest.fixture
def fetcher(rsa_key: SigningKey, ec_key: SigningKey) -> FakeJwks:
    return FakeJwks(rsa_key, ec_key)


@pytest.fixture
def cache(fetcher: FakeJwks) -> JwksCache:
    return JwksCache(fetcher)


def claims(**overrides: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "sub": "acc_8f14e45fceea167a",
        "aud": CLIENT_ID,
        "exp": int(NOW) + 600,
        "iat": int(NOW),
        "auth_time": int(NOW) - 5,
        "nonce": NONCE,
        "sid": "sid-1",
        "acr": "urn:gov:loa:2",
        "amr": ["pwd"],
        "name": "张三",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    key: SigningKey,
    payload: dict[str, Any] | None = None,
    *,
    access_token: str | None = ACCESS_TOKEN,
    kid: str | None = "",
) -> str:
    headers = {"kid": key.kid if kid == "" else kid} if kid is not None else {}
    return jwt.encode(
        payload or claims(), key.pem, algorithm=key.alg, headers=headers, access_token=access_token
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(
    header: dict[str, Any], payload: dict[str, Any], sign_with: Callable[[bytes], bytes]
) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{_b64(sign_with(signing_input.encode()))}"


def validate(token: str, cache: JwksCache, **kwargs: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "nonce": NONCE,
        "access_token": ACCESS_TOKEN,
        "now": NOW,
    }
    params.update(kwargs)
    return validate_id_token(token, cache, **params)


def rejected(token: str, cache: JwksCache, code: str, **kwargs: Any) -> IdTokenError:
    with pytest.raises(IdTokenError) as info:
        validate(token, cache, **kwargs)
    error = info.value
    assert error.code == code, error
    assert error.en and error.zh, "every rejection explains itself in English and Chinese"
    assert token not in f"{error.en} {error.zh}", "the token is never echoed"
    return error


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


# --- the JWKS cache ----------------------------------------------------------------------


def test_jwks_is_fetched_once_and_cached(rsa_key, ec_key, fetcher, cache):
    for _ in range(3):
        validate(sign(rsa_key), cache)
        validate(sign(ec_key), cache)
    assert fetcher.calls == 1


def test_unknown_kid_refetches_once_then_fails(rsa_key, fetcher, cache):
    validate(sign(rsa_key), cache)
    assert fetcher.calls == 1
    error = rejected(sign(rsa_key, kid="retired-or-forged"), cache, "unknown_key")
    assert "retired-or-forged" in error.en
    assert fetcher.calls == 2, "exactly one refetch for the unknown kid"


def test_first_fetch_counts_as_the_refetch(rsa_key, fetcher, cache):
    rejected(sign(rsa_key, kid="never-published"), cache, "unknown_key")
    assert fetcher.calls == 1


def test_key_rotated_at_the_idp_is_picked_up_by_the_refetch(rsa_key, fetcher, cache):
    validate(sign(rsa_key), cache)
    rotated = SigningKey(rsa.generate_private_key(65537, 2048), "RS256", "rsa-2026")
    fetcher.keys.append(rotated)
    assert validate(sign(rotated), cache)["sub"]
    assert fetcher.calls == 2


def test_cached_jwks_expires_after_max_age(rsa_key, fetcher):
    clock = [0.0]
    cache = JwksCache(fetcher, max_age=600, clock=lambda: clock[0])
    validate(sign(rsa_key), cache)
    clock[0] = 599.0
    validate(sign(rsa_key), cache)
    assert fetcher.calls == 1
    clock[0] = 600.0
    validate(sign(rsa_key), cache)
    assert fetcher.calls == 2


def test_revoked_key_is_dropped_on_the_next_fetch(rsa_key, ec_key, fetcher):
    clock = [0.0]
    cache = JwksCache(fetcher, max_age=600, clock=lambda: clock[0])
    validate(sign(rsa_key), cache)
    fetcher.keys = [ec_key]
    clock[0] = 601.0
    rejected(sign(rsa_key), cache, "unknown_key")


def test_kid_less_token_is_refused_when_several_keys_fit(rsa_key):
    other = SigningKey(rsa.generate_private_key(65537, 2048), "RS256", "rsa-other")
    cache = JwksCache(FakeJwks(rsa_key, other))
    rejected(sign(rsa_key, kid=None), cache, "ambiguous_key")


def test_encryption_keys_are_not_used_to_verify(rsa_key):
    enc = dict(rsa_key.public_jwk, use="enc")
    cache = JwksCache(lambda: {"keys": [enc]})
    rejected(sign(rsa_key), cache, "unknown_key")


@pytest.mark.parametrize("document", [{}, {"keys": "nope"}, {"keys": [1, 2]}, []])
def test_malformed_jwks_is_reported(rsa_key, document):
    cache = JwksCache(lambda: document)
    error = rejected(sign(rsa_key), cache, "jwks_unavailable")
    assert isinstance(error, JwksUnavailableError)
    assert error.status == 502


def test_fetch_failure_from_the_fetcher_propagates_as_jwks_unavailable(rsa_key):
    def down() -> dict[str, Any]:
        raise JwksUnavailableError("ConnectionError")

    rejected(sign(rsa_key), JwksCache(down), "jwks_unavailable")


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
