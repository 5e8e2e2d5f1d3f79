"""Device authorization state without Flask (RFC 8628), on both ephemeral stores: user codes,
exactly-once decisions and hand-outs under concurrency, slow_down arithmetic, guessing limits."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from idp.audit import AuditTrail
from idp.oidc.device_flow import (
    USER_CODE_ALPHABET,
    AlreadyDecided,
    DeviceFlow,
    ExpiredUserCode,
    InsufficientAssurance,
    UnknownUserCode,
    WrongCitizen,
    new_user_code,
    normalise_user_code,
)
from idp.oidc.user_code_throttle import UserCodeThrottle, UserCodeThrottled
from idp.sessions import SessionService
from idp.store.db import create_db_engine, create_session_factory

RACERS = 8


@pytest.fixture
def audit(tmp_path: Any, sqlite_template: Any) -> Iterator[AuditTrail]:
    path = tmp_path / "idp.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    yield AuditTrail(create_session_factory(engine))
    engine.dispose()


@pytest.fixture
def sso(ephemeral_store: Any, fake_clock: Any) -> SessionService:
    return SessionService(ephemeral_store, absolute_ttl=3600, clock=fake_clock)


@pytest.fixture
def flow(ephemeral_store: Any, fake_clock: Any, sso: SessionService,
         audit: AuditTrail) -> DeviceFlow:
    return DeviceFlow(ephemeral_store, sso=sso, audit=audit, ttl=600, interval=5,
                      clock=fake_clock,
                      throttle=UserCodeThrottle(ephemeral_store, limit=3, window=900))


def _start(flow: DeviceFlow, device_code: str = "device-1", **kw: Any) -> Any:
    args = {"client_id": "counter-1", "channel": "counter", "scope": "openid",
            "login_hint": False, "hint_account": None, **kw}
    return flow.start(device_code, new_user_code(), **args)


def test_user_codes_and_their_spellings() -> None:
    for _ in range(50):
        code = new_user_code()
        assert len(code) == 9 and code[4] == "-"
        assert set(code.replace("-", "")) <= set(USER_CODE_ALPHABET)
    for spelling in ("BCDF-GHJK", "bcdfghjk", " bcdf ghjk ", "ＢＣＤＦ－ＧＨＪＫ", "bcdf–ghjk"):
        assert normalise_user_code(spelling) == "BCDFGHJK", spelling
    for bad in (None, "", "BCDF-GHJ", "BCDF-GHJKL", "ABCD-EFGH", "BCDF-GHJ1", "x" * 100):
        assert normalise_user_code(bad) is None, bad


def test_lifecycle_decide_then_hand_out_once(flow: DeviceFlow, sso: SessionService) -> None:
    record = _start(flow)
    assert flow.find("device-1") == record and flow.find("other") is None
    session = sso.start("acct-1", amr=["pwd"], acr="L1")
    assert flow.lookup(record.display_code.lower(), account_id="acct-1", ip="10.0.0.1") == record
    decided = flow.decide(record.user_code, session=session, allow=True, ip=None, via="app")
    assert decided.status == "approved" and decided.sid == session.sid
    assert sso.get(session.sid).clients == {"counter-1": "counter"}
    assert flow.hand_out(decided) == decided
    assert flow.hand_out(decided) is None and flow.find("device-1") is None
    with pytest.raises(AlreadyDecided):
        flow.lookup(record.user_code, account_id="acct-1", ip=None)


def test_login_hint_and_expiry(flow: DeviceFlow, sso: SessionService, fake_clock: Any) -> None:
    record = _start(flow, login_hint=True, hint_account="acct-2")
    with pytest.raises(WrongCitizen):
        flow.lookup(record.user_code, account_id="acct-1", ip=None)
    assert flow.lookup(record.user_code, account_id="acct-2", ip=None) == record
    fake_clock.advance(600)
    with pytest.raises(ExpiredUserCode):
        flow.lookup(record.user_code, account_id="acct-2", ip=None)
    assert flow.find("device-1").expired(fake_clock())  # still known, to answer expired_token


def test_concurrent_decisions_have_exactly_one_winner(flow: DeviceFlow,
                                                      sso: SessionService) -> None:
    record = _start(flow)
    sessions = [sso.start(f"acct-{i}", amr=["pwd"], acr="L1") for i in range(RACERS)]
    barrier = threading.Barrier(RACERS)

    def race(i: int) -> str:
        barrier.wait()
        try:
            return flow.decide(record.user_code, session=sessions[i], allow=i % 2 == 0,
                               ip=None, via="app").status
        except AlreadyDecided:
            return "lost"

    with ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(race, range(RACERS)))
    winners = [r for r in results if r != "lost"]
    assert len(winners) == 1
    assert flow.find("device-1").status == winners[0]


def test_concurrent_polls_take_the_tokens_exactly_once(flow: DeviceFlow,
                                                      sso: SessionService) -> None:
    record = _start(flow)
    session = sso.start("acct-1", amr=["pwd"], acr="L1")
    decided = flow.decide(record.user_code, session=session, allow=True, ip=None, via="app")
    barrier = threading.Barrier(RACERS)

    def race(_: int) -> bool:
        barrier.wait()
        return flow.hand_out(decided) is not None

    with ThreadPoolExecutor(RACERS) as pool:
        assert sum(pool.map(race, range(RACERS))) == 1


def test_polling_faster_than_the_interval_adds_five_seconds(flow: DeviceFlow,
                                                            fake_clock: Any) -> None:
    record = _start(flow)
    assert flow.poll_too_fast(record) is False  # the first poll
    fake_clock.advance(1)
    assert flow.poll_too_fast(record) is True  # interval now 10
    fake_clock.advance(6)
    assert flow.poll_too_fast(record) is True  # 6 s < 10 s: interval now 15
    fake_clock.advance(15)
    assert flow.poll_too_fast(record) is False


def test_guessing_is_limited_per_ip_and_per_account(flow: DeviceFlow) -> None:
    record = _start(flow)
    for bad in ("not a code", "AAAA-AAAA", "x"):  # malformed: cannot be right, not counted
        with pytest.raises(UnknownUserCode):
            flow.lookup(bad, account_id="acct-1", ip="10.0.0.1")
    for _ in range(3):
        with pytest.raises(UnknownUserCode):
            flow.lookup("BBBB-BBBB", account_id="acct-1", ip="10.0.0.1")
    with pytest.raises(UserCodeThrottled) as exc:  # the right code, from the same IP
        flow.lookup(record.user_code, account_id="acct-2", ip="10.0.0.1")
    assert exc.value.limit == "ip" and exc.value.retry_after > 0
    with pytest.raises(UserCodeThrottled) as exc:  # the same account, from elsewhere
        flow.lookup(record.user_code, account_id="acct-1", ip="10.0.0.2")
    assert exc.value.limit == "account"
    assert flow.lookup(record.user_code, account_id="acct-2", ip="10.0.0.2") == record


# -- assurance: the channel's min_acr, and L4 by the clerk's in-person check ------------------
def test_approval_below_the_channel_level_is_refused_and_nothing_decided(
        flow: DeviceFlow, sso: SessionService) -> None:
    record = _start(flow, required_acr="L2")
    l1 = sso.start("acct-1", amr=["pwd"], acr="L1")
    assert flow.assurance_gap(record, l1) == "L2"
    with pytest.raises(InsufficientAssurance) as refused:
        flow.decide(record.user_code, session=l1, allow=True, ip=None, via="app")
    assert refused.value.required == "L2" and refused.value.code == \
        "insufficient_user_authentication"
    assert flow.find("device-1").status == "pending"  # nothing decided, client not joined
    assert sso.get(l1.sid).clients == {}
    # Denying needs no level; and an L2 sign-in approves, its acr and amr carried over.
    l2 = sso.stepped_up(l1, amr="otp", acr="L2")
    assert flow.assurance_gap(record, l2) is None
    decided = flow.decide(record.user_code, session=l2, allow=True, ip=None, via="app")
    assert (decided.acr, decided.amr, decided.status) == ("L2", ["pwd", "otp"], "approved")


def test_denial_needs_no_level(flow: DeviceFlow, sso: SessionService) -> None:
    record = _start(flow, required_acr="L3")
    l1 = sso.start("acct-1", amr=["pwd"], acr="L1")
    assert flow.decide(record.user_code, session=l1, allow=False, ip=None,
                       via="app").status == "denied"


def test_in_person_check_gives_l4_to_the_card_holder_only(flow: DeviceFlow,
                                                          sso: SessionService) -> None:
    record = _start(flow, login_hint=True, hint_account="acct-1", clerk="clerk-007")
    assert (record.required_acr, record.in_person, record.clerk) == ("L4", True, "clerk-007")
    other = sso.start("acct-2", amr=["pwd"], acr="L2")
    with pytest.raises(WrongCitizen):
        flow.decide(record.user_code, session=other, allow=True, ip=None, via="app")
    holder = sso.start("acct-1", amr=["pwd"], acr="L1")
    assert flow.assurance_gap(record, holder) is None  # the clerk's check is the L4 part
    decided = flow.decide(record.user_code, session=holder, allow=True, ip=None, via="app")
    assert (decided.acr, decided.amr) == ("L4", ["pwd", "ipv"])
    assert sso.get(holder.sid).acr == "L1"  # the phone's session itself is not raised


def test_in_person_check_for_nobody_registered_binds_the_code_to_nobody(
        flow: DeviceFlow, sso: SessionService) -> None:
    record = _start(flow, login_hint=True, hint_account=None, clerk="clerk-007")
    session = sso.start("acct-1", amr=["pwd"], acr="L2")
    with pytest.raises(WrongCitizen):
        flow.decide(record.user_code, session=session, allow=True, ip=None, via="app")
