"""The scan-to-login ticket state machine (idp.sessions.qr), on Redis and the embedded store,
without Flask: waiting → scanned → confirmed|denied → completed once; browser binding; one
scanning app session; expiry."""

from __future__ import annotations

import threading

import pytest

from idp.sessions.qr import (
    CONFIRMED,
    DENIED,
    EXPIRED,
    SCANNED,
    WAITING,
    QrLoginService,
    TicketExpired,
    TicketState,
    UnknownTicket,
    WrongBrowser,
    WrongSession,
)
from idp.store.ephemeral import SqliteStore

BROWSER = "browser-secret-0123456789abcdef"
APP = {"sid": "app-session-1", "account_id": "acct-1"}


@pytest.fixture
def qr(ephemeral_store, fake_clock):
    return QrLoginService(ephemeral_store, ttl=60, clock=fake_clock)


@pytest.fixture
def later(ephemeral_store, fake_clock, elapse):
    """Let ``seconds`` pass for both the service's clock and the store."""

    def _later(seconds: float) -> None:
        elapse(seconds)  # the embedded store shares fake_clock; Redis keeps real time (sleeps)
        if not isinstance(ephemeral_store, SqliteStore):
            fake_clock.advance(seconds)

    return _later


def test_full_flow_completes_once(qr):
    ticket = qr.start(browser_secret=BROWSER, next_url="/", user_agent="Mozilla/5.0")
    assert len(ticket.ticket_id) >= 32 and ticket.status == WAITING  # 192 random bits
    assert BROWSER not in str(ticket.to_value())  # only a digest of the secret is kept
    assert qr.status(ticket.ticket_id, browser_secret=BROWSER) == (WAITING, 60)
    scanned = qr.scan(ticket.ticket_id, **APP)
    assert scanned.status == SCANNED and scanned.user_agent == "Mozilla/5.0"
    assert qr.scan(ticket.ticket_id, **APP).status == SCANNED  # the same phone again: fine
    assert qr.status(ticket.ticket_id, browser_secret=BROWSER)[0] == SCANNED
    assert qr.decide(ticket.ticket_id, allow=True, **APP).status == CONFIRMED
    assert qr.status(ticket.ticket_id, browser_secret=BROWSER)[0] == CONFIRMED
    done = qr.complete(ticket.ticket_id, browser_secret=BROWSER)
    assert (done.sid, done.account_id, done.next_url) == ("app-session-1", "acct-1", "/")
    with pytest.raises(UnknownTicket):
        qr.complete(ticket.ticket_id, browser_secret=BROWSER)
    with pytest.raises(UnknownTicket):
        qr.status(ticket.ticket_id, browser_secret=BROWSER)


def test_deny_is_final(qr):
    ticket = qr.start(browser_secret=BROWSER, next_url="/")
    qr.scan(ticket.ticket_id, **APP)
    assert qr.decide(ticket.ticket_id, allow=False, **APP).status == DENIED
    assert qr.status(ticket.ticket_id, browser_secret=BROWSER)[0] == DENIED
    with pytest.raises(TicketState) as denied:
        qr.complete(ticket.ticket_id, browser_secret=BROWSER)
    assert denied.value.code == "denied"
    with pytest.raises(TicketState) as decided:
        qr.decide(ticket.ticket_id, allow=True, **APP)
    assert decided.value.code == "already_decided"
    with pytest.raises(TicketState):
        qr.scan(ticket.ticket_id, **APP)


def test_ticket_is_bound_to_the_browser_that_started_it(qr):
    ticket = qr.start(browser_secret=BROWSER, next_url="/")
    qr.scan(ticket.ticket_id, **APP)
    qr.decide(ticket.ticket_id, allow=True, **APP)
    for other in (None, "", "another-browser-secret"):
        with pytest.raises(WrongBrowser):
            qr.status(ticket.ticket_id, browser_secret=other)
        with pytest.raises(WrongBrowser):
            qr.complete(ticket.ticket_id, browser_secret=other)
    # The refusals consumed nothing: the right browser still completes.
    assert qr.complete(ticket.ticket_id, browser_secret=BROWSER).sid == "app-session-1"


def test_only_the_scanning_app_session_decides(qr):
    ticket = qr.start(browser_secret=BROWSER, next_url="/")
    with pytest.raises(TicketState) as early:
        qr.decide(ticket.ticket_id, allow=True, **APP)
    assert early.value.code == "not_scanned"
    qr.scan(ticket.ticket_id, **APP)
    with pytest.raises(TicketState) as taken:
        qr.scan(ticket.ticket_id, sid="app-session-2", account_id="acct-1")
    assert taken.value.code == "already_scanned"
    for intruder in ({"sid": "app-session-2", "account_id": "acct-1"},
                     {"sid": "app-session-3", "account_id": "acct-2"},
                     {"sid": "app-session-1", "account_id": "acct-2"}):
        with pytest.raises(WrongSession):
            qr.decide(ticket.ticket_id, allow=True, **intruder)
        with pytest.raises(WrongSession):
            qr.decide(ticket.ticket_id, allow=False, **intruder)
    assert qr.status(ticket.ticket_id, browser_secret=BROWSER)[0] == SCANNED  # nothing changed
    with pytest.raises(TicketState) as unconfirmed:
        qr.complete(ticket.ticket_id, browser_secret=BROWSER)
    assert unconfirmed.value.code == "not_confirmed"


def test_concurrent_scans_one_session_wins(qr):
    ticket = qr.start(browser_secret=BROWSER, next_url="/")
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def scan(n: int) -> None:
        barrier.wait()
        try:
            qr.scan(ticket.ticket_id, sid=f"sid-{n}", account_id="acct-1")
            winners.append(f"sid-{n}")
        except TicketState:
            pass

    threads = [threading.Thread(target=scan, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert qr.decide(ticket.ticket_id, sid=winners[0], account_id="acct-1",
                     allow=True).status == CONFIRMED


def test_concurrent_completions_exactly_one_wins(qr):
    ticket = qr.start(browser_secret=BROWSER, next_url="/")
    qr.scan(ticket.ticket_id, **APP)
    qr.decide(ticket.ticket_id, allow=True, **APP)
    results: list[str] = []
    barrier = threading.Barrier(8)

    def complete() -> None:
        barrier.wait()
        try:
            results.append(qr.complete(ticket.ticket_id, browser_secret=BROWSER).sid or "")
        except UnknownTicket:
            results.append("refused")

    threads = [threading.Thread(target=complete) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["app-session-1"] + ["refused"] * 7


def test_expiry(ephemeral_store, fake_clock, later):
    qr = QrLoginService(ephemeral_store, ttl=1, clock=fake_clock)
    waiting = qr.start(browser_secret=BROWSER, next_url="/")
    confirmed = qr.start(browser_secret=BROWSER, next_url="/")
    qr.scan(confirmed.ticket_id, **APP)
    qr.decide(confirmed.ticket_id, allow=True, **APP)
    later(1.2)
    assert qr.status(waiting.ticket_id, browser_secret=BROWSER) == (EXPIRED, 0)
    with pytest.raises(TicketExpired):
        qr.scan(waiting.ticket_id, **APP)
    with pytest.raises(TicketExpired):
        qr.complete(confirmed.ticket_id, browser_secret=BROWSER)
    with pytest.raises(TicketExpired):
        qr.decide(confirmed.ticket_id, allow=False, **APP)


def test_expired_tickets_leave_the_store(ephemeral_store, fake_clock):
    qr = QrLoginService(ephemeral_store, ttl=1, clock=fake_clock)
    ticket = qr.start(browser_secret=BROWSER, next_url="/")
    assert 1 < ephemeral_store.ttl(f"qr:{ticket.ticket_id}") <= 61  # ttl + grace for late polls
    qr.scan(ticket.ticket_id, **APP)  # replace keeps the expiry
    assert 1 < ephemeral_store.ttl(f"qr:{ticket.ticket_id}") <= 61


@pytest.mark.parametrize("ticket_id", [None, "", "short", "x" * 65, "../../etc", "a b" * 10,
                                       "x" * 32 + "\n"])
def test_malformed_ticket_ids_are_unknown(qr, ticket_id):
    with pytest.raises(UnknownTicket):
        qr.status(ticket_id, browser_secret=BROWSER)
    with pytest.raises(UnknownTicket):
        qr.scan(ticket_id, **APP)
    with pytest.raises(UnknownTicket):
        qr.decide(ticket_id, allow=True, **APP)
    with pytest.raises(UnknownTicket):
        qr.complete(ticket_id, browser_secret=BROWSER)
