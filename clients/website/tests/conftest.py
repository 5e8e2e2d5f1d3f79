"""Fixtures for the portal's ID-token tests (keys, the fake JWKS fetcher, the cache)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from clients.website.tests.idtokens import FakeJwks, SigningKey
from clients.website.tokens import JwksCache


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
