"""Helpers for the portal's ID-token tests: real keys, signed tokens, a fake JWKS fetcher.

Real keys (RSA 2048, EC P-256) from ``cryptography``, tokens signed with python-jose, and a fake
JWKS fetcher injected into :class:`JwksCache` in place of the HTTP call to ``jwks_uri``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk, jwt

from clients.website.tokens import (
    IdTokenError,
    JwksCache,
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
