"""SSO sessions in the ephemeral store (Redis and embedded): start, re-authenticate, end."""

from __future__ import annotations

from idp.sessions import SessionService


def test_session_lifecycle(ephemeral_store, fake_clock):
    sso = SessionService(ephemeral_store, absolute_ttl=3600, clock=fake_clock)
    first = sso.start("acct-1", amr=["pwd"], acr="L1", user_agent="Mozilla/5.0")
    assert sso.get(first.sid) == first and first.auth_seq == 1
    fake_clock.advance(5)
    again = sso.reauthenticated(first, amr=["pwd", "otp"], acr="L2")
    assert again.sid == first.sid and again.auth_time > first.auth_time
    assert again.auth_seq == 2 and again.amr == ["pwd", "otp"]
    with_client = sso.add_client(again, "demo-website", "website")
    assert sso.get(first.sid).clients == {"demo-website": "website"}
    assert [s.sid for s in sso.for_account("acct-1")] == [first.sid]
    ended = sso.end(first.sid)
    assert ended == with_client
    assert sso.get(first.sid) is None and sso.for_account("acct-1") == []
    assert sso.end(first.sid) is None


def test_sessions_expire_and_bad_ids_are_absent(ephemeral_store, elapse):
    sso = SessionService(ephemeral_store, absolute_ttl=1)
    session = sso.start("acct-2", amr=["pwd"], acr="L1")
    assert sso.get("") is None and sso.get("x" * 100) is None
    elapse(1.2)
    assert sso.get(session.sid) is None
    assert sso.for_account("acct-2") == []


def test_join_browser_adds_amr_keeps_auth_time_and_takes_the_browser_over(ephemeral_store,
                                                                          fake_clock):
    sso = SessionService(ephemeral_store, absolute_ttl=3600, clock=fake_clock)
    session = sso.start("acct-3", amr=["pwd"], acr="L1")
    fake_clock.advance(5)
    joined = sso.join_browser(session, amr="mca")
    assert joined is not None and joined.amr == ["pwd", "mca"]
    assert joined.auth_time == session.auth_time and joined.auth_seq == session.auth_seq
    assert joined.browser != session.browser and joined.browser_since == session.auth_time + 5
    assert sso.get(session.sid) == joined
    again = sso.join_browser(joined, amr="mca")
    assert again is not None and again.amr == ["pwd", "mca"]  # recorded once
    sso.end(session.sid)
    assert sso.join_browser(session, amr="otp") is None  # the session has ended
