"""Issued tokens (SQLite and PostgreSQL): JWT access tokens per RFC 9068, refresh rotation with
family-wide reuse detection, and revocation by code, family and session."""

from __future__ import annotations

import time

from joserfc import jwt
from sqlalchemy import select

from idp.store.models import AuditEvent
from idp.tokens import IssueContext, TokenService
from tests.factories import make_citizen, make_client


def _ctx(services, client_id, account_id, **kw):
    return IssueContext(client=services.clients.get(client_id), account_id=account_id,
                        scope="openid profile offline_access", grant_type="authorization_code",
                        include_refresh=True, sid="sid-1", auth_time=1_700_000_000, acr="L1",
                        amr=("pwd",), **kw)


def test_access_token_is_an_rfc9068_jwt_verifiable_from_jwks(services):
    citizen, client = make_citizen(services), make_client(services)
    token = services.tokens.issue(_ctx(services, client.client_id, citizen.sub))
    decoded = jwt.decode(token["access_token"], services.tokens.verification_keys())
    assert decoded.header["typ"] == "at+jwt" and decoded.header["alg"] == "ES256"
    claims = decoded.claims
    assert claims["iss"] == services.settings.issuer and claims["sub"] == citizen.sub
    assert claims["client_id"] == claims["aud"] == client.client_id
    assert claims["sid"] == "sid-1" and claims["scope"] == "openid profile offline_access"
    assert claims["exp"] - claims["iat"] == services.settings.channels.website.access_token_ttl
    info = services.tokens.validate_access_token(token["access_token"])
    assert info.account_id == citizen.sub and info.sid == "sid-1"


def test_tampered_or_foreign_tokens_are_invalid(services):
    citizen, client = make_citizen(services), make_client(services)
    token = services.tokens.issue(_ctx(services, client.client_id, citizen.sub))["access_token"]
    head, body, sig = token.split(".")
    assert services.tokens.validate_access_token(f"{head}.{body}x.{sig}") is None
    assert services.tokens.validate_access_token("not-a-jwt") is None
    assert services.tokens.validate_access_token("") is None


def test_refresh_rotates_and_reuse_revokes_the_family(services):
    citizen, client = make_citizen(services), make_client(services)
    first = services.tokens.issue(_ctx(services, client.client_id, citizen.sub))
    row = services.tokens.rotate_refresh(first["refresh_token"], client.client_id)
    assert row is not None
    second = services.tokens.issue(_ctx(services, client.client_id, citizen.sub,
                                        family_id=row.family_id))
    # Reusing the rotated token revokes every token of the family, new ones included.
    assert services.tokens.rotate_refresh(first["refresh_token"], client.client_id) is None
    assert services.tokens.rotate_refresh(second["refresh_token"], client.client_id) is None
    assert services.tokens.validate_access_token(second["access_token"]) is None
    with services.sessions() as s:
        tags = list(s.scalars(select(AuditEvent.tag).where(
            AuditEvent.tag == "token:refresh:reuse")))
    assert tags == ["token:refresh:reuse"]


def test_refresh_token_is_bound_to_its_client(services):
    citizen = make_citizen(services)
    mine, other = make_client(services), make_client(services)
    token = services.tokens.issue(_ctx(services, mine.client_id, citizen.sub))
    assert services.tokens.rotate_refresh(token["refresh_token"], other.client_id) is None
    # The wrong client's attempt does not burn the token for its owner.
    assert services.tokens.rotate_refresh(token["refresh_token"], mine.client_id) is not None


def test_revoke_by_code_and_by_sid(services):
    citizen, client = make_citizen(services), make_client(services)
    a = services.tokens.issue(_ctx(services, client.client_id, citizen.sub, code_digest="c1"))
    b = services.tokens.issue(_ctx(services, client.client_id, citizen.sub, code_digest="c2"))
    assert services.tokens.revoke_by_code("c1") == 1
    assert services.tokens.validate_access_token(a["access_token"]) is None
    assert services.tokens.validate_access_token(b["access_token"]) is not None
    assert services.tokens.revoke_sid("sid-1") == 1
    assert services.tokens.validate_access_token(b["access_token"]) is None


def test_find_matches_either_kind_whatever_its_state(services):
    """RFC 7009 / RFC 7662 look-up: by JWT (jti) or by refresh digest, revoked or not; the
    hint only orders the look-ups; anything not ours is None."""
    citizen, client = make_citizen(services), make_client(services)
    token = services.tokens.issue(_ctx(services, client.client_id, citizen.sub))
    for hint in (None, "access_token", "refresh_token", "banana"):
        access = services.tokens.find(token["access_token"], hint)
        refresh = services.tokens.find(token["refresh_token"], hint)
        assert access.kind == "access_token" and access.claims["sub"] == citizen.sub
        assert refresh.kind == "refresh_token" and refresh.claims == {}
        assert access.row.id == refresh.row.id
        assert not access.expired and not access.revoked and not refresh.revoked
    for junk in ("", "garbage", "a.b.c", "x" * 5000):
        assert services.tokens.find(junk) is None

    services.tokens.rotate_refresh(token["refresh_token"], client.client_id)
    assert services.tokens.find(token["refresh_token"]).revoked  # used: spent
    assert not services.tokens.find(token["access_token"]).revoked
    assert services.tokens.revoke_issuance(access.row.access_jti, reason="test") == 1
    assert services.tokens.find(token["access_token"]).revoked
    assert services.tokens.validate_access_token(token["access_token"]) is None


def test_find_reports_expiry(services):
    citizen, client = make_citizen(services), make_client(services)
    token = services.tokens.issue(_ctx(services, client.client_id, citizen.sub))
    s = services.settings
    later = TokenService(services.sessions, services.keys, services.audit, issuer=s.issuer,
                         access_alg=s.keys.access_token_alg, policies=services.policies,
                         subjects=services.subjects,
                         clock=lambda: time.time() + s.channels.website.access_token_ttl + 1)
    assert later.find(token["access_token"]).expired
    assert not later.find(token["refresh_token"]).expired
    assert later.validate_access_token(token["access_token"]) is None


def test_a_grant_without_scopes_states_none(services):
    """A service client registered without scopes: no ``"scope": ""`` in the access token or
    the token response (RFC 9068 §2.2.3, RFC 6749 §5.1 — the claim is for granted scopes)."""
    client = make_client(services, channel="service")
    token = services.tokens.issue(IssueContext(
        client=services.clients.get(client.client_id), account_id=None, scope="",
        grant_type="client_credentials", include_refresh=False))
    claims = jwt.decode(token["access_token"], services.tokens.verification_keys()).claims
    assert "scope" not in claims and "scope" not in token
    assert services.tokens.validate_access_token(token["access_token"]).scope == ""
