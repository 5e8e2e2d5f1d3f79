"""Fixtures of the portal's tests: keys, the fake JWKS fetcher and cache (ID-token tests); a
fake IdP and the portal served on loopback against it (sign-in and logout tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from clients.common.tests.fakeidp import FakeIdp
from clients.common.tests.servers import served_idp, serving
from clients.website.config import PortalConfig
from clients.website.portal import create_app
from clients.website.tests.idtokens import FakeJwks, SigningKey
from clients.website.tokens import JwksCache

ME = "demo-website"  # the portal's client_id in these tests


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


@pytest.fixture
def idp() -> Iterator[FakeIdp]:
    with served_idp() as idp:
        yield idp


@pytest.fixture
def portal(idp: FakeIdp) -> Iterator[str]:
    config = PortalConfig(issuer=idp.issuer, client_id=ME, client_secret="portal-secret")
    with serving(create_app(config)) as base:
        yield base
