"""Signing-key rotation end to end (issue 6 §3), on both stacks, against a real ``idp serve``
with a short overlap, changed through the real CLI (``idp keys rotate|revoke``).

A relying party that caches the JWKS and honours its ``Cache-Control`` fetches it at most once
per ``max-age`` — a quarter of the overlap. The test models the two caches that matter:

* one fetched **before** the rotation: every token issued during the overlap is still signed by
  the old key, so it keeps verifying with that cache;
* one fetched **during** the overlap (the next key already published, not yet signing): after
  the switch, new tokens are signed by the new kid, which is already in that cache — no refetch
  on an unknown kid is needed.

Tokens signed before the rotation keep verifying until they expire (the retired key stays
published); an emergency revoke takes the key out of the JWKS at once and the tokens it signed
become inactive. Sleeps are real but short (the overlap is a few seconds); polls wait for the
server's two workers to look at the key table again (at most a second apart).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.config import load_settings
from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer, launch_on_stack

pytestmark = pytest.mark.e2e

OVERLAP = 6  # seconds a next key is published before it signs
SCOPE = "openid offline_access"


@pytest.fixture(params=["embedded", "pg-redis"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[IdpServer]:
    idp = launch_on_stack(request, tmp_path_factory.mktemp(f"keys-{request.param}"),
                          request.param, {"IDP_KEYS_OVERLAP": str(OVERLAP)})
    yield idp
    idp.stop()


def fetch_jwks(server: IdpServer) -> tuple[KeySet, set[str], requests.Response]:
    resp = requests.get(f"{server.url}/jwks.json", timeout=10)
    resp.raise_for_status()
    body = resp.json()
    return KeySet.import_key_set(body), {k["kid"] for k in body["keys"]}, resp


def wait_for(what: str, check: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.2)


def header(token: str) -> dict[str, Any]:
    head: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    return head


def verifies(token: str, keys: KeySet) -> bool:
    try:
        jwt.decode(token, keys, algorithms=["ES256", "RS256"])
    except (JoseError, ValueError):
        return False
    return True


def introspect(rp: RelyingParty, token: str) -> dict[str, Any]:
    resp = requests.post(rp.endpoint("introspection"), data={"token": token}, timeout=20,
                         auth=(rp.client_id, rp.client_secret or ""))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def keys_by_state(server: IdpServer) -> dict[tuple[str, str], list[dict[str, Any]]]:
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for key in server.cli_json("keys", "list")["keys"]:
        rows.setdefault((key["alg"], key["state"]), []).append(key)
    return rows


def test_jwks_cache_control_follows_the_overlap(idp_server: IdpServer) -> None:
    resp = requests.get(f"{idp_server.url}/jwks.json", timeout=10)
    expected = load_settings({}).keys.jwks_max_age  # the default overlap: 2 days → 12 h
    assert resp.headers["Cache-Control"] == f"public, max-age={expected}"
    assert resp.headers["ETag"]


def test_rotation_end_to_end(server: IdpServer) -> None:
    max_age = load_settings({"IDP_KEYS_OVERLAP": str(OVERLAP)}).keys.jwks_max_age
    rp = RelyingParty.register(server, f"rotation-{uuid.uuid4().hex[:8]}")
    demo = server.demo["citizens"][0]
    citizen = {"username": demo["phone"], "password": demo["password"]}

    def sign_in() -> dict[str, Any]:
        """A code flow; the RP verifies the ID token with its *cached* JWKS (rp.key_set)."""
        return rp.login(UserAgent(server.url), citizen, SCOPE).tokens

    def signed_by(kid: str) -> dict[str, Any] | None:
        """A sign-in whose access token ``kid`` signed (the workers switch within a second)."""
        tokens = sign_in()
        return tokens if header(tokens["access_token"])["kid"] == kid else None

    # Before the rotation: a sign-in; the RP caches the JWKS as it is now.
    first = sign_in()
    before_keys = rp.key_set()
    _keys, before_kids, resp = fetch_jwks(server)
    assert resp.headers["Cache-Control"] == f"public, max-age={max_age}"
    old = keys_by_state(server)
    old_es, old_rs = old[("ES256", "active")][0]["kid"], old[("RS256", "active")][0]["kid"]
    assert header(first["access_token"])["kid"] == old_es
    assert header(first["id_token"])["kid"] == old_rs

    # Rotate: the next keys are published now and sign once the overlap has passed.
    rotated = {k["alg"]: k for k in server.cli_json("keys", "rotate")["keys"]}
    new_es, new_rs = rotated["ES256"]["kid"], rotated["RS256"]["kid"]
    activates = min(datetime.fromisoformat(k["activates_at"]).timestamp()
                    for k in rotated.values())

    # During the overlap every token is still signed by the old key: the cache from before
    # the rotation verifies it.
    if time.time() >= activates - 2:
        pytest.fail(f"rotating took longer than the {OVERLAP} s overlap: nothing to observe")
    during = rp.refresh(first["refresh_token"])
    assert during.status_code == 200, during.text
    if time.time() < activates:  # issued within the overlap (the server switches only after)
        assert header(during.json()["access_token"])["kid"] == old_es
        assert verifies(during.json()["access_token"], before_keys)

    # The RP's cache expires during the overlap and it refetches: the next keys are in it.
    def jwks_with_next_keys() -> tuple[KeySet, set[str]] | None:
        keys, kids, _resp = fetch_jwks(server)
        return (keys, kids) if {new_es, new_rs} <= kids else None

    overlap_keys, overlap_kids = wait_for("the next keys in the JWKS", jwks_with_next_keys)
    assert before_kids <= overlap_kids
    rp._jwks = overlap_keys  # its cache from now on: no refetch below

    # After the overlap the new keys sign; the cache taken during the overlap verifies their
    # tokens (sign_in checks the ID token with it) — the pre-rotation cache would not.
    time.sleep(max(0.0, activates - time.time()) + 0.5)
    after = wait_for("a token signed by the new ES256 key", lambda: signed_by(new_es))
    assert header(after["id_token"])["kid"] == new_rs
    assert verifies(after["access_token"], overlap_keys)
    assert not verifies(after["access_token"], before_keys)
    assert rp.key_set() is overlap_keys
    states = keys_by_state(server)
    assert [k["kid"] for k in states[("ES256", "active")]] == [new_es]
    assert [k["kid"] for k in states[("ES256", "retired")]] == [old_es]
    assert states[("ES256", "retired")][0]["remove_after"]

    # Tokens signed before the rotation keep working until they expire: the retired keys are
    # still published.
    fresh_keys, fresh_kids, _ = fetch_jwks(server)
    assert {old_es, old_rs, new_es, new_rs} <= fresh_kids
    assert verifies(first["access_token"], fresh_keys)
    assert verifies(first["id_token"], fresh_keys)
    assert introspect(rp, first["access_token"])["active"] is True
    assert rp.userinfo(first["access_token"]).status_code == 200

    # Emergency revoke of the key that signs now: out of the JWKS at once, its tokens dead,
    # a replacement signs.
    revoked = server.cli_json("keys", "revoke", new_es, "--reason", "e2e drill")
    assert revoked["kid"] == new_es and revoked["tokens_revoked"] >= 1
    replacement = revoked["replacement"]
    assert replacement and replacement != new_es
    assert introspect(rp, after["access_token"]) == {"active": False}
    assert rp.userinfo(after["access_token"]).status_code == 401
    wait_for("the revoked key out of every worker's JWKS",
             lambda: all(new_es not in fetch_jwks(server)[1] for _ in range(4)))
    assert introspect(rp, first["access_token"])["active"] is True  # another key's token
    rp._jwks = None  # the RP refetches (told to, or its cache expired)
    later = wait_for("a token signed by the replacement", lambda: signed_by(replacement))
    assert introspect(rp, later["access_token"])["active"] is True
    assert verifies(later["access_token"], fetch_jwks(server)[0])
