"""Per-channel token limits (SQLite and PostgreSQL): ``refresh_token_ttl`` is the idle timeout,
``session_absolute`` caps every token of a refresh-token family from its first issuance."""

from __future__ import annotations

import pytest

from idp.clock import as_aware
from idp.tokens import IssueContext, TokenService
from tests.factories import make_citizen, make_client
from tests.fixtures.services import FakeClock

DAY = 86400


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def tokens(services, clock):
    s = services.settings
    return TokenService(services.sessions, services.keys, services.audit, issuer=s.issuer,
                        access_alg=s.keys.access_token_alg, policies=services.policies,
                        subjects=services.subjects, clock=clock)


def _ctx(services, client, account_id, **kw):
    return IssueContext(client=services.clients.get(client.client_id), account_id=account_id,
                        scope="openid offline_access", grant_type="authorization_code",
                        include_refresh=True, sid="sid-1", auth_time=1_700_000_000, acr="L1",
                        amr=("pwd",), **kw)


def _refresh(services, tokens, client, account_id, value):
    """What the refresh grant does: rotate, then issue with the family's context."""
    row = tokens.rotate_refresh(value, client.client_id)
    if row is None:
        return None
    end = row.session_expires_at
    return tokens.issue(_ctx(services, client, account_id, family_id=row.family_id,
                             session_expires_at=int(as_aware(end).timestamp()) if end else None))


def test_the_first_issuance_starts_the_channels_session(services, tokens, clock):
    """Counted from the channel's sign-in (now), not from ``auth_time``: a mini-program's or a
    counter's sign-in may rest on an app session authenticated weeks ago."""
    citizen, app = make_citizen(services), make_client(
        services, channel="app", redirect_uri="cn.gov.example.app:/callback")
    token = tokens.issue(_ctx(services, app, citizen.sub))
    found = tokens.find(token["refresh_token"])
    cap = services.settings.channels.app.session_absolute
    assert int(as_aware(found.row.session_expires_at).timestamp()) == int(clock()) + cap
    assert token["expires_in"] == services.settings.channels.app.access_token_ttl


def test_refresh_is_an_idle_window_within_the_absolute_limit(services, tokens, clock):
    citizen, app = make_citizen(services), make_client(
        services, channel="app", redirect_uri="cn.gov.example.app:/callback")
    policy = services.settings.channels.app  # idle 30 days, absolute 90 days
    start = int(clock())
    token = tokens.issue(_ctx(services, app, citizen.sub))
    for _ in range(3):  # used every 29 days: each use rotates and restarts the idle window
        clock.advance(29 * DAY)
        token = _refresh(services, tokens, app, citizen.sub, token["refresh_token"])
        assert token is not None
    clock.advance(policy.session_absolute - 87 * DAY - 300)  # 5 minutes before the limit
    token = _refresh(services, tokens, app, citizen.sub, token["refresh_token"])
    assert token["expires_in"] == 300  # the access token stops at the limit too
    row = tokens.find(token["refresh_token"]).row
    assert int(as_aware(row.refresh_expires_at).timestamp()) == start + policy.session_absolute
    clock.advance(301)
    assert tokens.rotate_refresh(token["refresh_token"], app.client_id) is None
    assert tokens.session_limit_reached(token["refresh_token"], app.client_id)
    assert tokens.find(token["refresh_token"]).expired
    assert tokens.find(token["access_token"]).expired


def test_an_unused_refresh_token_expires_before_the_limit(services, tokens, clock):
    citizen, app = make_citizen(services), make_client(
        services, channel="app", redirect_uri="cn.gov.example.app:/callback")
    token = tokens.issue(_ctx(services, app, citizen.sub))
    clock.advance(services.settings.channels.app.refresh_token_ttl + 1)
    assert tokens.rotate_refresh(token["refresh_token"], app.client_id) is None
    assert not tokens.session_limit_reached(token["refresh_token"], app.client_id)


def test_the_limit_is_not_reported_for_a_spent_or_foreign_token(services, tokens, clock):
    citizen, web = make_citizen(services), make_client(services)
    other = make_client(services)
    token = tokens.issue(_ctx(services, web, citizen.sub))
    assert tokens.rotate_refresh(token["refresh_token"], web.client_id) is not None
    clock.advance(services.settings.channels.website.session_absolute + 1)
    assert not tokens.session_limit_reached(token["refresh_token"], web.client_id)  # rotated
    fresh = tokens.issue(_ctx(services, web, citizen.sub))
    clock.advance(services.settings.channels.website.session_absolute + 1)
    assert not tokens.session_limit_reached(fresh["refresh_token"], other.client_id)
    assert tokens.session_limit_reached(fresh["refresh_token"], web.client_id)


def test_no_limit_for_client_credentials(services, tokens):
    service = make_client(services, channel="service")
    token = tokens.issue(IssueContext(client=services.clients.get(service.client_id),
                                      account_id=None, scope="", grant_type="client_credentials",
                                      include_refresh=False))
    assert tokens.find(token["access_token"]).row.session_expires_at is None
