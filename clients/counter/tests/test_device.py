"""The device grant's polling loop (RFC 8628 §3.5) against a scripted IdP, with a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from clients.common.errors import ClientError, OAuthErrorResponse, unreachable
from clients.common.http import HttpRequest, HttpResponse
from clients.common.provider import Provider
from clients.common.tests.fakeidp import ISSUER, FakeIdp, json_response, oauth_error
from clients.counter.config import CounterConfig
from clients.counter.device import (
    DEVICE_CODE_GRANT,
    DeviceAuthorization,
    DeviceFlowEnded,
    poll,
    request_authorization,
)

CONFIG = CounterConfig(issuer=ISSUER, client_id="demo-counter", client_secret="s")
AUTHZ = DeviceAuthorization(
    "dc-1",
    "BCDF-GHJK",
    f"{ISSUER}/device",
    f"{ISSUER}/device?user_code=BCDF-GHJK",
    expires_in=600,
    interval=5,
)


class Clock:
    """Time moves only when the loop sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def idp() -> FakeIdp:
    return FakeIdp()


def run(idp: FakeIdp, clock: Clock, authz: DeviceAuthorization = AUTHZ) -> tuple[Any, list]:
    events: list[tuple[str, int]] = []
    result = poll(
        Provider(ISSUER, idp),
        CONFIG,
        authz,
        sleep=clock.sleep,
        clock=clock,
        on_event=lambda what, interval: events.append((what, interval)),
    )
    return result, events


def test_device_authorization_request(idp):
    idp.on(
        "POST",
        "/device_authorization",
        json_response(
            200,
            {
                "device_code": "dc-1",
                "user_code": "BCDF-GHJK",
                "verification_uri": f"{ISSUER}/device",
                "verification_uri_complete": f"{ISSUER}/device?user_code=BCDF-GHJK",
                "expires_in": 600,
            },
        ),
    )
    authz = request_authorization(
        Provider(ISSUER, idp), CONFIG, scope="openid profile", login_hint="13800138000"
    )
    assert authz.interval == 5, "RFC 8628 §3.2: 5 seconds when the IdP names no interval"
    assert authz.user_code == "BCDF-GHJK"
    sent = idp.sent("POST", "/device_authorization")[0]
    assert sent.form == {"scope": "openid profile", "login_hint": "13800138000"}
    assert sent.headers["Authorization"].startswith("Basic ")


def test_incomplete_device_authorization_response(idp):
    idp.on("POST", "/device_authorization", json_response(200, {"device_code": "dc"}))
    with pytest.raises(ClientError) as info:
        request_authorization(Provider(ISSUER, idp), CONFIG, scope="openid")
    assert "user_code" in info.value.en and "expires_in" in info.value.en


def test_pending_then_tokens(idp):
    idp.on(
        "POST",
        "/token",
        oauth_error("authorization_pending"),
        oauth_error("authorization_pending"),
        json_response(200, {"access_token": "at"}),
    )
    clock = Clock()
    token, events = run(idp, clock)
    assert token == {"access_token": "at"}
    assert clock.sleeps == [5, 5, 5], "the interval is waited before every poll"
    assert [e for e, _ in events] == ["waiting", "pending", "pending", "approved"]
    form = idp.sent("POST", "/token")[0].form
    assert form == {"grant_type": DEVICE_CODE_GRANT, "device_code": "dc-1"}


def test_slow_down_adds_five_seconds_for_good(idp):
    idp.on(
        "POST",
        "/token",
        oauth_error("slow_down"),
        oauth_error("authorization_pending"),
        oauth_error("slow_down"),
        json_response(200, {"access_token": "at"}),
    )
    clock = Clock()
    run(idp, clock)
    assert clock.sleeps == [5, 10, 10, 15]


@pytest.mark.parametrize(
    "error, code", [("access_denied", "access_denied"), ("expired_token", "expired_token")]
)
def test_the_citizens_answer_ends_the_loop(idp, error, code):
    idp.on("POST", "/token", oauth_error("authorization_pending"), oauth_error(error))
    with pytest.raises(DeviceFlowEnded) as info:
        run(idp, Clock())
    assert info.value.code == code


def test_the_loop_stops_when_the_code_expires_without_asking_again(idp):
    idp.on("POST", "/token", oauth_error("authorization_pending"))
    clock = Clock()
    short = DeviceAuthorization("dc-1", "BCDF-GHJK", f"{ISSUER}/device", None, 12, 5)
    with pytest.raises(DeviceFlowEnded) as info:
        run(idp, clock, short)
    assert info.value.code == "expired_token"
    assert len(idp.sent("POST", "/token")) == 2 and clock.now <= 1012


def test_network_failures_back_off(idp):
    answers = iter([None, None, json_response(200, {"access_token": "at"})])

    def flaky(request: HttpRequest) -> HttpResponse:
        if request.url.endswith("/token"):
            answer = next(answers)
            if answer is None:
                raise unreachable(ConnectionError())
            return answer
        return idp(request)

    clock = Clock()
    events: list[tuple[str, int]] = []
    poll(
        Provider(ISSUER, flaky),
        CONFIG,
        AUTHZ,
        sleep=clock.sleep,
        clock=clock,
        on_event=lambda what, interval: events.append((what, interval)),
    )
    assert clock.sleeps == [5, 10, 20]
    assert ("unreachable", 20) in events


def test_other_errors_are_not_swallowed(idp):
    idp.on("POST", "/token", oauth_error("invalid_client", "wrong secret", 401))
    with pytest.raises(OAuthErrorResponse) as info:
        run(idp, Clock())
    assert info.value.error == "invalid_client"
