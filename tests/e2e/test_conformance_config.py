"""OpenID conformance, ``oidcc-config-certification-test-plan``: the discovery document.

``oidcc-discovery-endpoint-verification`` checks the provider metadata against OpenID Connect
Discovery 1.0 §3 and RFC 8414 §2; the other tests cover what a client does next with it: fetch
the JWKS, and cache both documents (DESIGN.md §5: static bytes with ETag and Cache-Control).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.fixtures.server import IdpServer

pytestmark = pytest.mark.e2e

WELL_KNOWN = "/.well-known/openid-configuration"
REQUIRED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri",
            "response_types_supported", "subject_types_supported",
            "id_token_signing_alg_values_supported")
RECOMMENDED = ("userinfo_endpoint", "scopes_supported", "claims_supported")
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
             "revocation_endpoint", "introspection_endpoint")
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(scope="module")
def metadata(idp_server: IdpServer) -> dict[str, Any]:
    resp = requests.get(idp_server.url + WELL_KNOWN, timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    doc: dict[str, Any] = resp.json()
    return doc


def _secure_url(url: str) -> bool:
    """https, or http on a loopback address (development and these tests only)."""
    parts = urlsplit(url)
    if parts.fragment or not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


def test_oidcc_discovery_endpoint_verification(idp_server: IdpServer,
                                               metadata: dict[str, Any]) -> None:
    """The provider metadata has every required member with values a certified client can use."""
    for name in REQUIRED + RECOMMENDED:
        assert metadata.get(name), f"discovery lacks {name}"
    # The issuer is exactly the URL the document was fetched under (Discovery §4.3).
    assert metadata["issuer"] == idp_server.url
    issuer = urlsplit(metadata["issuer"])
    assert not issuer.query and not issuer.fragment and not metadata["issuer"].endswith("/")
    for name in ENDPOINTS:
        assert _secure_url(metadata[name]), (name, metadata[name])
        assert metadata[name].startswith(metadata["issuer"] + "/"), name

    assert "code" in metadata["response_types_supported"]
    assert set(metadata["response_modes_supported"]) >= {"query"}
    assert {"authorization_code", "refresh_token"} <= set(metadata["grant_types_supported"])
    assert "implicit" not in metadata["grant_types_supported"]
    assert metadata["subject_types_supported"]
    assert set(metadata["subject_types_supported"]) <= {"public", "pairwise"}
    assert "RS256" in metadata["id_token_signing_alg_values_supported"]
    assert "none" not in metadata["id_token_signing_alg_values_supported"]
    assert "openid" in metadata["scopes_supported"]
    assert {"sub", "iss", "aud", "exp", "iat", "auth_time"} <= set(metadata["claims_supported"])
    assert "client_secret_basic" in metadata["token_endpoint_auth_methods_supported"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) <= {
        "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt",
        "none", "tls_client_auth", "self_signed_tls_client_auth"}
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    for flag in ("request_parameter_supported", "request_uri_parameter_supported",
                 "claims_parameter_supported"):
        assert isinstance(metadata.get(flag), bool), flag
    assert metadata["acr_values_supported"]
    assert {"page", "popup"} <= set(metadata["display_values_supported"])


def test_oauth_authorization_server_metadata(idp_server: IdpServer,
                                             metadata: dict[str, Any]) -> None:
    """The RFC 8414 well-known URI serves the same metadata for OAuth-only clients."""
    resp = requests.get(idp_server.url + "/.well-known/oauth-authorization-server", timeout=10)
    assert resp.status_code == 200
    assert resp.json() == metadata


def test_endpoints_answer(metadata: dict[str, Any]) -> None:
    """Every advertised endpoint exists and answers like the endpoint it claims to be."""
    authorize = requests.get(metadata["authorization_endpoint"], timeout=10,
                             allow_redirects=False)
    assert authorize.status_code == 400 and "Location" not in authorize.headers
    token = requests.post(metadata["token_endpoint"], data={}, timeout=10)
    assert token.status_code in (400, 401) and "error" in token.json()
    for name in ("revocation_endpoint", "introspection_endpoint"):  # RFC 7009, RFC 7662
        unauthenticated = requests.post(metadata[name], data={"token": "x"}, timeout=10)
        assert unauthenticated.status_code == 401, name
        assert unauthenticated.json()["error"] == "invalid_client", name
    userinfo = requests.get(metadata["userinfo_endpoint"], timeout=10)
    assert userinfo.status_code == 401
    assert userinfo.headers["WWW-Authenticate"].startswith("Bearer")


def test_jwks(metadata: dict[str, Any]) -> None:
    """The JWKS holds public signing keys only, each with kid, alg and use, covering every
    advertised ID token algorithm."""
    resp = requests.get(metadata["jwks_uri"], timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith(("application/json",
                                                    "application/jwk-set+json"))
    keys = resp.json()["keys"]
    assert keys
    kids = [key["kid"] for key in keys]
    assert len(kids) == len(set(kids)), "kids must be unique"
    for key in keys:
        assert key.get("kid") and key.get("alg") and key.get("use") == "sig", key
        assert not PRIVATE_MEMBERS & set(key), f"private key material published: {key['kid']}"
        assert key["kty"] in ("RSA", "EC", "OKP"), key
        if key["kty"] == "RSA":
            assert key["e"] and len(key["n"]) >= 342, "RSA keys must be at least 2048 bits"
    advertised = set(metadata["id_token_signing_alg_values_supported"])
    assert advertised <= {key["alg"] for key in keys}


@pytest.mark.parametrize("path", [WELL_KNOWN, "/jwks.json"])
def test_static_documents_are_cacheable(idp_server: IdpServer, path: str) -> None:
    """Discovery and JWKS carry a stable ETag and a public max-age, answer If-None-Match with
    304 (strong, weak and * forms) and a stale ETag with the full document."""
    url = idp_server.url + path
    first = requests.get(url, timeout=10)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    cache = first.headers["Cache-Control"]
    assert "public" in cache and "no-store" not in cache
    max_age = int(cache.split("max-age=")[1].split(",")[0])
    assert max_age > 0
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    # Same bytes and ETag from every worker.
    for _ in range(4):
        again = requests.get(url, timeout=10)
        assert again.headers["ETag"] == etag and again.content == first.content

    for conditional in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        not_modified = requests.get(url, headers={"If-None-Match": conditional}, timeout=10)
        assert not_modified.status_code == 304, conditional
        assert not_modified.content == b""
        assert not_modified.headers["ETag"] == etag
        assert not_modified.headers["Cache-Control"] == cache
    stale = requests.get(url, headers={"If-None-Match": '"stale"'}, timeout=10)
    assert stale.status_code == 200 and stale.content == first.content
