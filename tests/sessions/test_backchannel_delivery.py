"""Back-channel logout delivery: the durable queue, the logout token, retries with back-off,
outcomes recorded — against a real HTTP listener on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.container import Services
from idp.sessions import SsoSession
from idp.sessions.backchannel import BackchannelLogout
from idp.sessions.logout_queue import DELIVERED, FAILED, PENDING, REJECTED, LogoutQueue
from idp.sessions.logout_tokens import BACKCHANNEL_EVENT, LogoutTokenSigner
from tests.factories import make_citizen, make_client
from tests.fixtures.listener import LogoutListener
from tests.fixtures.services import FakeClock


@pytest.fixture
def fanout(services: Services, fake_clock: FakeClock) -> BackchannelLogout:
    settings = dataclasses.replace(services.settings.logout, timeout=2.0, retry_initial=2.0,
                                   retry_max=8.0, give_up_after=60)
    signer = LogoutTokenSigner(services.keys, issuer=services.settings.issuer, ttl=120,
                               clock=fake_clock)
    return BackchannelLogout(LogoutQueue(services.sessions, clock=fake_clock), signer,
                             services.clients, services.audit, settings, default_alg="RS256",
                             subjects=services.subjects, clock=fake_clock)


def _session(services: Services, *client_ids: str, sid: str = "sid-" + "a" * 28) -> SsoSession:
    citizen = make_citizen(services)
    return SsoSession(sid=sid, account_id=citizen.sub, auth_time=1, created_at=1,
                      clients={cid: "website" for cid in client_ids})


def _verify(services: Services, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(services.keys.ring().jwks)  # type: ignore[arg-type]
    decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
    assert decoded.header["typ"] == "logout+jwt"
    return dict(decoded.claims)


def test_one_signed_logout_token_per_client_that_took_part(
        services: Services, fanout: BackchannelLogout, make_listener: Any,
        fake_clock: FakeClock) -> None:
    first, second = make_listener(), make_listener()
    rp1 = make_client(services, backchannel_logout_uri=first.uri)
    rp2 = make_client(services, backchannel_logout_uri=second.uri,
                      id_token_signed_response_alg="ES256")
    silent = make_client(services)  # no backchannel_logout_uri: nothing to send
    ended = _session(services, rp1.client_id, rp2.client_id, silent.client_id)

    assert fanout.session_ended(ended) == 2
    assert fanout.deliver_due() == 2

    for listener, rp, alg in ((first, rp1, "RS256"), (second, rp2, "ES256")):
        [received] = listener.received
        assert received.content_type == "application/x-www-form-urlencoded"
        header, _ = listener.tokens[0]
        assert header["alg"] == alg
        claims = _verify(services, received.logout_token)
        assert claims["iss"] == services.settings.issuer
        assert claims["aud"] == rp.client_id
        assert claims["sub"] == ended.account_id and claims["sid"] == ended.sid
        assert claims["events"] == {BACKCHANNEL_EVENT: {}}
        assert claims["iat"] == int(fake_clock.now)
        assert claims["exp"] == int(fake_clock.now) + 120
        assert len(claims["jti"]) == 32 and "nonce" not in claims
    deliveries = fanout.queue.list(sid=ended.sid)
    assert {d.status for d in deliveries} == {DELIVERED}
    assert {d.last_status for d in deliveries} == {200}
    events = services.audit.events(tag="logout:backchannel:success")
    assert {e.client_id for e in events} == {rp1.client_id, rp2.client_id}
    assert fanout.deliver_due() == 0  # nothing sent twice


def test_listener_down_is_retried_with_back_off_and_delivered_once_with_one_jti(
        services: Services, fanout: BackchannelLogout, fake_clock: FakeClock) -> None:
    listener = LogoutListener()  # not started: connection refused
    rp = make_client(services, backchannel_logout_uri=listener.uri)
    fanout.session_ended(_session(services, rp.client_id))

    assert fanout.deliver_due() == 1  # refused
    [delivery] = fanout.queue.list()
    assert delivery.status == PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at == int(fake_clock.now) + 2
    assert delivery.last_error == "ConnectionError"
    assert fanout.deliver_due() == 0  # not due before its back-off
    fake_clock.advance(2)
    assert fanout.deliver_due() == 1
    assert fanout.queue.list()[0].next_attempt_at == int(fake_clock.now) + 4  # doubled
    fake_clock.advance(4)
    listener.start()
    try:
        assert fanout.deliver_due() == 1
        [received] = listener.received
    finally:
        listener.stop()
    [delivery] = fanout.queue.list()
    assert delivery.status == DELIVERED and delivery.attempts == 3
    assert _verify(services, received.logout_token)["jti"] == delivery.jti


def test_server_errors_are_retried_with_the_same_jti_and_a_fresh_token(
        services: Services, fanout: BackchannelLogout, logout_listener: LogoutListener,
        fake_clock: FakeClock) -> None:
    logout_listener.answers = [503, 429]
    rp = make_client(services, backchannel_logout_uri=logout_listener.uri)
    fanout.session_ended(_session(services, rp.client_id))
    fanout.deliver_due()
    fake_clock.advance(2)
    fanout.deliver_due()
    fake_clock.advance(200)  # past exp of the first tokens: a fresh one is signed
    fanout.deliver_due()
    tokens = [claims for _, claims in logout_listener.tokens]
    assert len(tokens) == 3
    assert len({t["jti"] for t in tokens}) == 1
    assert tokens[2]["exp"] > tokens[0]["exp"] + 120
    assert fanout.queue.list()[0].status == DELIVERED


@pytest.mark.parametrize("status", [400, 401, 302])
def test_a_client_refusal_is_recorded_and_not_retried(
        services: Services, fanout: BackchannelLogout, logout_listener: LogoutListener,
        fake_clock: FakeClock, status: int) -> None:
    logout_listener.answers = [status]
    rp = make_client(services, backchannel_logout_uri=logout_listener.uri)
    fanout.session_ended(_session(services, rp.client_id))
    fanout.deliver_due()
    fake_clock.advance(3600)
    assert fanout.deliver_due() == 0
    [delivery] = fanout.queue.list()
    assert (delivery.status, delivery.last_status) == (REJECTED, status)
    [event] = services.audit.events(tag="logout:backchannel:rejected")
    assert event.client_id == rp.client_id and event.extra["http_status"] == status
    assert len(logout_listener.received) == 1


def test_delivery_is_given_up_after_give_up_after_and_audited(
        services: Services, fanout: BackchannelLogout, fake_clock: FakeClock) -> None:
    listener = LogoutListener()  # never up
    rp = make_client(services, backchannel_logout_uri=listener.uri)
    fanout.session_ended(_session(services, rp.client_id))
    for _ in range(20):
        fanout.deliver_due()
        fake_clock.advance(8)
    [delivery] = fanout.queue.list()
    assert delivery.status == FAILED and delivery.finished_at is not None
    assert 2 <= delivery.attempts <= 12
    [event] = services.audit.events(tag="logout:backchannel:failure")
    assert event.extra["error"] == "ConnectionError"


def test_a_claimed_delivery_is_leased_to_one_worker_until_its_lease_runs_out(
        services: Services, fanout: BackchannelLogout, fake_clock: FakeClock) -> None:
    rp = make_client(services, backchannel_logout_uri="http://127.0.0.1:9/backchannel")
    fanout.session_ended(_session(services, rp.client_id))
    other_worker = LogoutQueue(services.sessions, clock=fake_clock)
    [mine] = fanout.queue.claim_due(limit=10, lease=30)
    assert other_worker.claim_due(limit=10, lease=30) == []  # leased
    fake_clock.advance(31)  # the first worker died mid-post: the lease runs out
    [again] = other_worker.claim_due(limit=10, lease=30)
    assert again.jti == mine.jti and again.attempts == 2


def test_a_session_queues_once_even_if_ended_twice(services: Services,
                                                   fanout: BackchannelLogout,
                                                   logout_listener: LogoutListener) -> None:
    rp = make_client(services, backchannel_logout_uri=logout_listener.uri)
    ended = _session(services, rp.client_id)
    assert fanout.session_ended(ended) == 1
    assert fanout.session_ended(ended) == 0
    assert len(fanout.queue.list()) == 1


def test_ending_a_session_queues_its_logouts_durably(services: Services,
                                                     logout_listener: LogoutListener) -> None:
    """The wiring: SessionEnding → services.backchannel, before anything is delivered."""
    rp = make_client(services, backchannel_logout_uri=logout_listener.uri)
    citizen = make_citizen(services)
    session = services.sso.start(citizen.sub, amr=["pwd"], acr="L1")
    services.sso.add_client(session, rp.client_id, "website")
    services.session_ending.end(session.sid, by="citizen")
    [queued] = services.backchannel.queue.list()
    assert (queued.status, queued.client_id, queued.sid) == (PENDING, rp.client_id, session.sid)
    assert services.backchannel.deliver_due() == 1
    assert _verify(services, logout_listener.received[0].logout_token)["sid"] == session.sid


def test_a_client_leaving_a_session_alone_is_told_and_told_again_if_it_rejoins(
        services: Services, fanout: BackchannelLogout, make_listener: Any) -> None:
    """Consent withdrawn: only that client's logout is queued for the sid; the others hear
    nothing. If the client takes part again under the same sid and the session then ends, it
    is told anew (a fresh jti), not silently skipped as "already queued"."""
    leaving, staying = make_listener(), make_listener()
    rp = make_client(services, backchannel_logout_uri=leaving.uri)
    other = make_client(services, backchannel_logout_uri=staying.uri)
    session = _session(services, rp.client_id, other.client_id)
    assert fanout.client_left(session, rp.client_id) == 1
    assert fanout.client_left(session, rp.client_id) == 0  # still pending: the same logout
    assert fanout.deliver_due() == 1
    assert len(leaving.received) == 1 and staying.received == []
    first_jti = _verify(services, leaving.received[0].logout_token)["jti"]

    assert fanout.session_ended(session) == 2  # it rejoined, then the session ended
    assert fanout.deliver_due() == 2
    assert len(leaving.received) == 2 and len(staying.received) == 1
    again = _verify(services, leaving.received[1].logout_token)
    assert again["sid"] == session.sid and again["jti"] != first_jti
