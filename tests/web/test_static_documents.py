"""Discovery and the JWKS answered before Flask (idp.web.static_documents): the same bytes and
headers as the app's own views, conditional requests, HEAD, and everything else left to Flask."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

DISCOVERY = "/.well-known/openid-configuration"


def _security_headers_present(resp) -> None:
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert "no-store" not in resp.headers.get("Cache-Control", "")


def test_discovery_is_the_metadata_with_its_cache_headers(client, settings):
    resp = client.get(DISCOVERY)
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert json.loads(resp.data)["issuer"] == settings.issuer
    assert resp.headers["Cache-Control"] == "public, max-age=3600"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Content-Length"] == str(len(resp.data))
    assert resp.headers["ETag"].startswith('"')
    _security_headers_present(resp)
    assert client.get("/.well-known/oauth-authorization-server").data == resp.data


@pytest.mark.parametrize("path", [DISCOVERY, "/jwks.json"])
def test_conditional_requests_get_304_with_strong_or_weak_etags(client, path):
    etag = client.get(path).headers["ETag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        resp = client.get(path, headers={"If-None-Match": header})
        assert resp.status_code == 304 and resp.data == b"", header
        assert resp.headers["ETag"] == etag
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_head_has_the_headers_and_no_body(client):
    full = client.get("/jwks.json")
    head = client.head("/jwks.json")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(full.data))
    assert head.headers["ETag"] == full.headers["ETag"]


def test_jwks_follows_the_key_ring(client, services):
    before = client.get("/jwks.json")
    services.keys.rotate(actor="test", algs=["ES256"])  # publishes the next key at once
    after = client.get("/jwks.json")
    assert after.headers["ETag"] != before.headers["ETag"]
    kids = {k["kid"] for k in json.loads(after.data)["keys"]}
    assert {k["kid"] for k in json.loads(before.data)["keys"]} < kids
    assert after.headers["Cache-Control"] == \
        f"public, max-age={services.settings.keys.jwks_max_age}"


def test_other_methods_and_query_strings_go_to_the_app(client):
    assert client.post("/jwks.json").status_code == 405
    with_query = client.get(DISCOVERY + "?x=1")
    assert with_query.status_code == 200
    assert with_query.data == client.get(DISCOVERY).data


def test_they_are_counted_in_the_metrics_under_the_apps_endpoint_names(client):
    from tests.web.test_metrics import scrape, value

    etag = client.get("/jwks.json").headers["ETag"]
    client.get("/jwks.json", headers={"If-None-Match": etag})
    client.head(DISCOVERY)
    text = scrape(client)
    assert value(text, "idp_http_requests_total", endpoint="oidc.jwks", method="GET",
                 status="200") == 1
    assert value(text, "idp_http_requests_total", endpoint="oidc.jwks", method="GET",
                 status="304") == 1
    assert value(text, "idp_http_requests_total", endpoint="oidc.discovery", method="HEAD",
                 status="200") == 1
