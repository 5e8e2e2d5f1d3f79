"""The portal's JWKS cache: fetch once, refetch once on an unknown kid, expire, report."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from clients.website.tests.idtokens import FakeJwks, SigningKey, rejected, sign, validate
from clients.website.tokens import JwksCache, JwksUnavailableError

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
