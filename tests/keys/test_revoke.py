"""Emergency revoke (SQLite and PostgreSQL): the key leaves the JWKS at once, its private key
is dropped, every token it signed is revoked (introspection says inactive), and signing goes
on with a replacement."""

from __future__ import annotations

import base64
import json

import pytest

from idp.errors import Conflict
from idp.tokens import IssueContext
from tests.factories import make_citizen, make_client


def _issue(services, client_id, account_id):
    """An access and a refresh token (no sid: an access token with one needs a live SSO
    session to introspect as active, which is not what these tests are about)."""
    return services.tokens.issue(IssueContext(
        client=services.clients.get(client_id), account_id=account_id,
        scope="openid offline_access", grant_type="authorization_code", include_refresh=True,
        sid=None, auth_time=1_700_000_000, acr="L1", amr=("pwd",)))


def _header(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


def _introspect(client, rp, token):
    basic = base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()
    resp = client.post("/introspect", headers={"Authorization": f"Basic {basic}"},
                       data={"token": token})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def _active(services, alg="ES256"):
    return next(k for k in services.keys.list_keys() if k.alg == alg and k.state == "active")


def test_revoking_the_active_key_removes_it_and_revokes_what_it_signed(services, client):
    citizen, rp = make_citizen(services), make_client(services)
    compromised = _active(services)
    before = _issue(services, rp.client_id, citizen.sub)
    assert _header(before["access_token"])["kid"] == compromised.kid
    assert _introspect(client, rp, before["access_token"])["active"] is True
    other = _issue(services, rp.client_id, citizen.sub)

    result = services.keys.revoke(compromised.kid, actor="staff:sec", reason="leaked backup")

    assert result.kid == compromised.kid and result.alg == "ES256"
    assert result.tokens_revoked == 2 and result.replacement not in (None, compromised.kid)
    assert compromised.kid not in {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}
    row = next(k for k in services.keys.list_keys() if k.kid == compromised.kid)
    assert row.state == "revoked" and row.revoked_at and row.private_enc is None
    for token in (before["access_token"], before["refresh_token"], other["access_token"]):
        assert _introspect(client, rp, token) == {"active": False}
    assert services.tokens.validate_access_token(before["access_token"]) is None
    assert services.tokens.rotate_refresh(before["refresh_token"], rp.client_id) is None

    after = _issue(services, rp.client_id, citizen.sub)  # signing never stopped
    assert _header(after["access_token"])["kid"] == result.replacement
    assert _introspect(client, rp, after["access_token"])["active"] is True
    [event] = services.audit.events(tag="key:revoke")
    assert event.actor == "staff:sec" and event.extra["reason"] == "leaked backup"
    assert event.extra["tokens_revoked"] == 2 and event.extra["replacement"] == result.replacement
    assert {e.extra["kid"] for e in services.audit.events(tag="key:activate")} == {
        result.replacement}


def test_revoking_the_active_key_promotes_the_next_key_when_there_is_one(services):
    active = _active(services)
    [upcoming] = services.keys.rotate(actor="cli", algs=["ES256"])
    result = services.keys.revoke(active.kid, actor="cli")
    assert result.replacement == upcoming.kid
    assert services.keys.ring().signer("ES256").kid == upcoming.kid
    assert len([k for k in services.keys.list_keys() if k.alg == "ES256"]) == 2


def test_revoking_a_retired_key_revokes_its_tokens_without_touching_signing(services, clock):
    citizen, rp = make_citizen(services), make_client(services)
    old = _active(services)
    issued = _issue(services, rp.client_id, citizen.sub)
    services.keys.rotate(actor="cli", algs=["ES256"])
    new = services.keys.retire(old.kid, actor="cli")  # the next key signs now
    assert new.state == "retired"
    assert services.tokens.validate_access_token(issued["access_token"]) is not None
    result = services.keys.revoke(old.kid, actor="cli", reason="precaution")
    assert result.replacement is None and result.tokens_revoked == 1
    assert services.tokens.validate_access_token(issued["access_token"]) is None
    assert old.kid not in {j["kid"] for j in services.keys.ring().published}


def test_revoking_a_next_key(services):
    [upcoming] = services.keys.rotate(actor="cli", algs=["RS256"])
    result = services.keys.revoke(upcoming.kid, actor="cli")
    assert result.replacement is None and result.tokens_revoked == 0
    assert upcoming.kid not in {j["kid"] for j in services.keys.ring().published}


def test_revoke_twice_or_a_removed_key_is_a_conflict_and_changes_nothing(services):
    active = _active(services)
    services.keys.revoke(active.kid, actor="cli")
    states = {k.kid: k.state for k in services.keys.list_keys()}
    head = len(services.audit.events(limit=1000))
    with pytest.raises(Conflict, match="already revoked"):
        services.keys.revoke(active.kid, actor="cli")
    assert {k.kid: k.state for k in services.keys.list_keys()} == states
    assert len(services.audit.events(limit=1000)) == head
