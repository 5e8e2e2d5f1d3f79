"""SMS one-time codes (idp.accounts.sms_codes) on Redis and the embedded store, with the audit
trail on SQLite and PostgreSQL; the console gateway (log) and the HTTP gateway (a real loopback
server). A recording gateway stands in for the carrier only to read what was sent."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from idp.accounts.sms import (
    ConsoleSmsGateway,
    HttpSmsGateway,
    SmsDeliveryFailed,
    mask_phone,
)
from idp.accounts.sms_codes import SmsCodeService
from idp.config.settings import SmsSettings
from idp.errors import AuthenticationFailed, NotFound, RateLimited
from tests.fixtures.server import free_port

ACCOUNT = "acct-0001"
PHONE = "13800138000"


@dataclass
class RecordingGateway:
    sent: list[tuple[str, str]] = field(default_factory=list)
    fail: bool = False

    def send(self, phone: str, text: str) -> None:
        if self.fail:
            raise SmsDeliveryFailed("the SMS gateway answered HTTP 500")
        self.sent.append((phone, text))

    @property
    def last_code(self) -> str:
        found = re.search(r"\d{6,8}", self.sent[-1][1])
        assert found is not None
        return found.group()


@pytest.fixture
def gateway() -> RecordingGateway:
    return RecordingGateway()


@pytest.fixture
def make_sms(services, ephemeral_store, gateway):
    def _make(**overrides: Any) -> SmsCodeService:
        return SmsCodeService(ephemeral_store, gateway, audit=services.audit,
                              settings=SmsSettings(**overrides))
    return _make


@pytest.fixture
def sms(make_sms) -> SmsCodeService:
    return make_sms()


def other(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def tags(services, prefix):
    return [e.tag for e in reversed(services.audit.events(tag=prefix, limit=100))]


def test_a_code_is_accepted_once(services, sms, gateway):
    sms.send(ACCOUNT, PHONE, ip="10.0.0.1")
    [(phone, text)] = gateway.sent
    assert phone == PHONE and text.startswith("【一网通办】") and len(gateway.last_code) == 6
    assert sms.pending(ACCOUNT)
    sms.verify(ACCOUNT, gateway.last_code)
    assert not sms.pending(ACCOUNT)
    with pytest.raises(NotFound) as exc:  # single use
        sms.verify(ACCOUNT, gateway.last_code)
    assert exc.value.code == "sms.expired"
    assert tags(services, "mfa:sms") == ["mfa:sms:send", "mfa:sms:verify:success",
                                         "mfa:sms:verify:failure"]
    [send] = services.audit.events(tag="mfa:sms:send", limit=5)
    assert send.extra["phone"] == "138****8000" and send.extra["purpose"] == "login"


def test_codes_are_per_purpose(sms, gateway):
    sms.send(ACCOUNT, PHONE, "login")
    with pytest.raises(NotFound):
        sms.verify(ACCOUNT, gateway.last_code, "phone_change")
    sms.verify(ACCOUNT, gateway.last_code, "login")


def test_wrong_codes_are_counted_and_the_last_attempt_voids_the_code(services, make_sms,
                                                                       gateway):
    sms = make_sms(max_attempts=3)
    sms.send(ACCOUNT, PHONE)
    good = gateway.last_code
    for _ in range(2):
        with pytest.raises(AuthenticationFailed) as exc:
            sms.verify(ACCOUNT, other(good))
        assert exc.value.code == "sms.failed"
    with pytest.raises(AuthenticationFailed) as exc:
        sms.verify(ACCOUNT, other(good))
    assert exc.value.code == "sms.exhausted"
    with pytest.raises(NotFound):  # the code is dead, even the right one
        sms.verify(ACCOUNT, good)
    reasons = [(e.extra["reason"], e.extra.get("attempts"))
               for e in reversed(services.audit.events(tag="mfa:sms:verify:failure"))]
    assert reasons == [("wrong_code", 1), ("wrong_code", 2), ("too_many_attempts", 3),
                       ("expired", None)]


def test_a_new_code_replaces_the_old_one_and_resets_the_attempts(make_sms, gateway):
    sms = make_sms(max_attempts=2, resend_interval=0)
    sms.send(ACCOUNT, PHONE)
    first = gateway.last_code
    with pytest.raises(AuthenticationFailed):
        sms.verify(ACCOUNT, other(first))
    sms.send(ACCOUNT, PHONE)
    second = gateway.last_code
    if second != first:
        with pytest.raises(AuthenticationFailed) as exc:
            sms.verify(ACCOUNT, first)
        assert exc.value.code == "sms.failed"  # one attempt counted, not the old code's
    sms.verify(ACCOUNT, second)


def test_a_code_expires_after_code_ttl(make_sms, gateway, elapse):
    sms = make_sms(code_ttl=1)
    sms.send(ACCOUNT, PHONE)
    elapse(1.2)
    with pytest.raises(NotFound) as exc:
        sms.verify(ACCOUNT, gateway.last_code)
    assert exc.value.code == "sms.expired"


def test_resend_interval(make_sms, gateway, elapse):
    sms = make_sms(resend_interval=1)
    sms.send(ACCOUNT, PHONE)
    with pytest.raises(RateLimited) as exc:
        sms.send(ACCOUNT, PHONE)
    assert exc.value.code == "rate_limited.sms_resend" and 0 < exc.value.retry_after <= 1
    assert len(gateway.sent) == 1
    sms.send("acct-other", "13900139000")  # another citizen is not held up
    elapse(1.2)
    sms.send(ACCOUNT, PHONE)
    assert len(gateway.sent) == 3


def test_resend_interval_default_tells_the_seconds(sms):
    sms.send(ACCOUNT, PHONE)
    with pytest.raises(RateLimited) as exc:
        sms.send(ACCOUNT, PHONE)
    assert 55 <= exc.value.retry_after <= 60


def test_sends_per_window_are_capped(make_sms, gateway):
    sms = make_sms(resend_interval=0, max_sends=3, send_window=3600)
    for _ in range(3):
        sms.send(ACCOUNT, PHONE)
    with pytest.raises(RateLimited) as exc:
        sms.send(ACCOUNT, PHONE)
    assert exc.value.code == "rate_limited.sms_window"
    assert 3500 <= exc.value.retry_after <= 3600
    assert len(gateway.sent) == 3


def test_the_code_is_never_stored_or_audited_in_clear(services, sms, gateway, ephemeral_store):
    sms.send(ACCOUNT, PHONE)
    code = gateway.last_code
    entry = ephemeral_store.get(f"sms:code:login:{ACCOUNT}")
    assert entry is not None and code not in json.dumps(entry)
    assert set(entry) == {"digest"}
    with pytest.raises(AuthenticationFailed):
        sms.verify(ACCOUNT, other(code))
    sms.verify(ACCOUNT, code)
    for event in services.audit.events(tag="mfa:sms", limit=100):
        dumped = json.dumps(event.extra, ensure_ascii=False)
        assert code not in dumped and other(code) not in dumped and PHONE not in dumped


def test_a_gateway_failure_is_typed_audited_and_leaves_no_code(services, sms, gateway):
    gateway.fail = True
    with pytest.raises(SmsDeliveryFailed):
        sms.send(ACCOUNT, PHONE)
    assert not sms.pending(ACCOUNT)
    assert tags(services, "mfa:sms:send") == ["mfa:sms:send:failure"]
    gateway.fail = False
    sms.send(ACCOUNT, PHONE)  # no resend wait after a failed send


def test_disabled_service_refuses_to_send(services, ephemeral_store):
    sms = SmsCodeService(ephemeral_store, None, audit=services.audit, settings=SmsSettings())
    assert not sms.enabled
    with pytest.raises(Exception) as exc:
        sms.send(ACCOUNT, PHONE)
    assert getattr(exc.value, "code", None) == "sms.disabled"


# -- gateways (no database needed) -----------------------------------------------------------

def test_mask_phone():
    assert mask_phone("13800138000") == "138****8000"


def test_console_gateway_logs_the_message_with_the_phone_masked(caplog):
    with caplog.at_level(logging.INFO, logger="idp.accounts.sms"):
        ConsoleSmsGateway().send(PHONE, "【一网通办】验证码 123456")
    assert "SMS to 138****8000: 【一网通办】验证码 123456" in caplog.text
    assert PHONE not in caplog.text


class _Carrier:
    """A loopback SMS gateway recording each request and answering ``status``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        carrier = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                carrier.requests.append({
                    "method": self.command, "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "body": self.rfile.read(length).decode() if length else ""})
                self.send_response(carrier.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _handle  # noqa: N815 — http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, template: str) -> str:
        return f"http://127.0.0.1:{self.port}{template}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def carrier() -> Iterator[_Carrier]:
    server = _Carrier()
    yield server
    server.stop()


def test_http_gateway_get_fills_the_template_url_encoded(carrier):
    gateway = HttpSmsGateway(carrier.url("/send?phone={phone}&text={text}"), token="s3cret")
    gateway.send("+8613800138000", "验证码 123456 & more")
    [req] = carrier.requests
    query = parse_qs(urlsplit(req["path"]).query)
    assert req["method"] == "GET" and urlsplit(req["path"]).path == "/send"
    assert query == {"phone": ["+8613800138000"], "text": ["验证码 123456 & more"]}
    assert req["authorization"] == "Bearer s3cret"


def test_http_gateway_post_sends_json(carrier):
    HttpSmsGateway(carrier.url("/send/{phone}"), method="POST").send(PHONE, "验证码 654321")
    [req] = carrier.requests
    assert req["method"] == "POST" and req["path"] == f"/send/{PHONE}"
    assert json.loads(req["body"]) == {"phone": PHONE, "text": "验证码 654321"}
    assert req["authorization"] is None


def test_http_gateway_non_2xx_is_a_typed_error(carrier):
    carrier.status = 500
    with pytest.raises(SmsDeliveryFailed) as exc:
        HttpSmsGateway(carrier.url("/send?p={phone}&t={text}")).send(PHONE, "验证码 111111")
    assert "500" in exc.value.message and "111111" not in exc.value.message
    assert exc.value.code == "sms.unavailable"


def test_http_gateway_unreachable_is_a_typed_error():
    gateway = HttpSmsGateway(f"http://127.0.0.1:{free_port()}/s?p={{phone}}&t={{text}}",
                             timeout=1.0)
    with pytest.raises(SmsDeliveryFailed):
        gateway.send(PHONE, "验证码 222222")
