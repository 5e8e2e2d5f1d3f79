"""Session limits (issue 4 §6): the browser's idle and absolute timeouts, the record kept as long
as a channel may hold tokens under its sid, only live sessions listed (idp.sessions.service, on
Redis and the embedded store), and the most sessions per citizen (idp.sessions.limits, against
the real services)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from idp.config.settings import ChannelsSettings
from idp.sessions import SessionEnding, SessionService
from idp.sessions.limits import SessionLimits
from idp.store.models import AuditEvent
from idp.tokens import IssueContext
from tests.factories import make_citizen, make_client

HOUR, DAY = 3600, 86400
IDLE, ABSOLUTE, SLACK = 1800, 8 * HOUR, 600
CHANNELS = ChannelsSettings()  # website 8 h, app 90 d, counter 15 min


@pytest.fixture
def sso(ephemeral_store, fake_clock):
    return SessionService(ephemeral_store, absolute_ttl=ABSOLUTE, idle_ttl=IDLE,
                          channels=CHANNELS, join_slack=SLACK, clock=fake_clock)


def test_the_browser_idles_out_but_nothing_is_ended(sso, fake_clock):
    session = sso.start("acct-1", amr=["pwd"], acr="L1")
    assert sso.browser_session(session.sid, session.browser) == session
    fake_clock.advance(IDLE + 1)
    assert sso.browser_session(session.sid, session.browser) is None
    assert sso.get(session.sid) == session  # the record (and any channel's tokens) stays


def test_activity_is_written_at_most_once_a_minute(sso, fake_clock):
    session = sso.start("acct-1", amr=["pwd"], acr="L1")
    fake_clock.advance(59)
    assert sso.browser_session(session.sid, session.browser).last_seen == session.last_seen
    assert sso.get(session.sid).last_seen == session.last_seen  # not written
    fake_clock.advance(2)
    assert sso.browser_session(session.sid, session.browser).last_seen == int(fake_clock())
    assert sso.get(session.sid).last_seen == int(fake_clock())


def test_an_active_browser_is_signed_out_at_the_absolute_limit(sso, fake_clock):
    session = sso.start("acct-1", amr=["pwd"], acr="L1")
    elapsed = 0
    while elapsed + IDLE - 100 <= ABSOLUTE:
        fake_clock.advance(IDLE - 100)
        elapsed += IDLE - 100
        assert sso.browser_session(session.sid, session.browser) is not None, elapsed
    fake_clock.advance(ABSOLUTE - elapsed + 1)
    assert sso.browser_session(session.sid, session.browser) is None


def test_only_the_browser_that_signed_in_last_is_signed_in(sso, fake_clock):
    """A browser that joins the session by scanning with the app takes it over: one that had
    idled out (or any other) does not come back with it."""
    session = sso.start("acct-1", amr=["pwd"], acr="L1")
    assert sso.browser_session(session.sid, "someone-else") is None
    fake_clock.advance(IDLE + 1)  # the first browser idles out
    joined = sso.join_browser(session, amr="mca")
    assert sso.browser_session(session.sid, session.browser) is None
    assert sso.browser_session(session.sid, joined.browser) is not None
    # The joining browser's absolute limit counts from its own sign-in.
    for _ in range(ABSOLUTE // (IDLE - 100)):
        fake_clock.advance(IDLE - 100)
        assert sso.browser_session(session.sid, joined.browser) is not None
    assert int(fake_clock()) - session.created_at > ABSOLUTE


def test_records_written_before_the_limits_still_load(sso, ephemeral_store, fake_clock):
    now = int(fake_clock())
    ephemeral_store.put("sso:old-sid", {
        "sid": "old-sid", "account_id": "acct-1", "auth_time": now, "created_at": now,
        "amr": ["pwd"], "acr": "L1", "clients": {}, "user_agent": None, "auth_seq": 1,
        "some_future_field": True}, HOUR)
    old = sso.get("old-sid")
    assert old.last_seen == old.browser_since == now and old.browser == ""
    assert sso.browser_session("old-sid", "") is not None  # a cookie holding the sid alone


def test_the_record_lives_as_long_as_the_app_may_hold_tokens(sso, ephemeral_store, fake_clock):
    session = sso.start("acct-1", amr=["pwd"], acr="L1")
    assert ephemeral_store.ttl(f"sso:{session.sid}") <= ABSOLUTE
    sso.add_client(session, "app-1", "app")
    app_lifetime = CHANNELS.app.session_absolute + SLACK
    assert ephemeral_store.ttl(f"sso:{session.sid}") >= app_lifetime - 5
    assert ephemeral_store.ttl("sso:account:acct-1") >= app_lifetime - 5
    # A later, shorter session does not shorten the account's list of sessions.
    sso.start("acct-1", amr=["pwd"], acr="L1")
    assert ephemeral_store.ttl("sso:account:acct-1") >= app_lifetime - 5
    fake_clock.advance(IDLE + 1)
    assert [s.sid for s in sso.for_account("acct-1")] == [session.sid]  # live through the app


def test_for_account_lists_only_live_sessions(sso, fake_clock):
    browser_only = sso.start("acct-1", amr=["pwd"], acr="L1")
    website = sso.add_client(sso.start("acct-1", amr=["pwd"], acr="L1"), "web-1", "website")
    fake_clock.advance(1)
    app = sso.add_client(sso.start("acct-1", amr=["pwd"], acr="L1"), "app-1", "app")
    assert len(sso.for_account("acct-1")) == 3
    fake_clock.advance(IDLE + 1)  # every browser idled out
    assert [s.sid for s in sso.for_account("acct-1")] == [website.sid, app.sid]
    assert sso.get(browser_only.sid) is not None  # not listed, not ended
    fake_clock.advance(CHANNELS.website.session_absolute + SLACK)
    assert [s.sid for s in sso.for_account("acct-1")] == [app.sid]


def test_a_channel_without_a_session_limit_counts_its_refresh_window(ephemeral_store,
                                                                     fake_clock):
    channels = replace(CHANNELS, website=replace(CHANNELS.website, session_absolute=0))
    sso = SessionService(ephemeral_store, absolute_ttl=ABSOLUTE, idle_ttl=IDLE,
                         channels=channels, join_slack=SLACK, clock=fake_clock)
    session = sso.add_client(sso.start("acct-1", amr=["pwd"], acr="L1"), "web-1", "website")
    assert session.channels_until == int(fake_clock()) + CHANNELS.website.refresh_token_ttl \
        + SLACK
    fake_clock.advance(HOUR)  # a refresh joins again: the window moves on
    again = sso.add_client(session, "web-1", "website")
    assert again.channels_until == session.channels_until + HOUR
    assert sso.get(session.sid).channels_until == again.channels_until


# -- the most sessions per citizen (real services: SessionEnding revokes and audits) ----------
def _limits(services, fake_clock, max_per_account):
    """The services' stores, with a session service on ``fake_clock`` (sign-ins seconds
    apart, so "oldest" is well defined)."""
    sso = SessionService(services.ephemeral, absolute_ttl=ABSOLUTE, idle_ttl=IDLE,
                         channels=services.settings.channels, clock=fake_clock)
    ending = SessionEnding(sso, services.tokens, services.audit)
    return sso, SessionLimits(sso, ending, max_per_account=max_per_account)


def _signed_in(services, sso, fake_clock, citizen, client):
    fake_clock.advance(1)
    session = sso.start(citizen.sub, amr=["pwd"], acr="L1")
    token = services.tokens.issue(IssueContext(
        client=services.clients.get(client.client_id), account_id=citizen.sub,
        scope="openid offline_access", grant_type="authorization_code", include_refresh=True,
        sid=session.sid, auth_time=session.auth_time, amr=("pwd",)))
    return session, token["access_token"]


def test_a_sign_in_past_the_limit_ends_the_oldest_sessions(services, fake_clock):
    citizen, portal = make_citizen(services), make_client(services)
    sso, limits = _limits(services, fake_clock, 2)
    first, first_token = _signed_in(services, sso, fake_clock, citizen, portal)
    second, second_token = _signed_in(services, sso, fake_clock, citizen, portal)
    assert limits.started(second) == []  # at the limit, not past it
    third, third_token = _signed_in(services, sso, fake_clock, citizen, portal)
    assert [s.sid for s in limits.started(third, ip="192.0.2.7")] == [first.sid]
    assert sso.get(first.sid) is None
    assert services.tokens.validate_access_token(first_token) is None  # revoked
    for kept, token in ((second, second_token), (third, third_token)):
        assert sso.get(kept.sid) is not None
        assert services.tokens.validate_access_token(token) is not None
    with services.sessions() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.tag == "session:end:success"))
    assert event.subject == citizen.sub and event.ip == "192.0.2.7"
    assert event.extra == {"by": "system", "reason": "session_limit"}


def test_sessions_no_longer_live_do_not_count(services, fake_clock):
    citizen, portal = make_citizen(services), make_client(services)
    sso, limits = _limits(services, fake_clock, 2)
    idle = sso.start(citizen.sub, amr=["pwd"], acr="L1")  # browser only, then idles out
    fake_clock.advance(IDLE + 1)
    second, _ = _signed_in(services, sso, fake_clock, citizen, portal)
    third, _ = _signed_in(services, sso, fake_clock, citizen, portal)
    assert limits.started(third) == []
    assert sso.get(idle.sid) is not None and sso.get(second.sid) is not None


def test_no_limit_when_max_per_account_is_zero(services, fake_clock):
    citizen, portal = make_citizen(services), make_client(services)
    sso, limits = _limits(services, fake_clock, 0)
    for _ in range(12):
        session, _token = _signed_in(services, sso, fake_clock, citizen, portal)
        assert limits.started(session) == []
    assert len(sso.for_account(citizen.sub)) == 12
