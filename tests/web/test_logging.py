"""Structured logs: one JSON object per line with the request's id, which the response echoes;
a caller's unsafe ``X-Request-Id`` is replaced; access lines hold no query string, token, code,
password or clear ID number."""

from __future__ import annotations

import io
import json
import logging
import re
from urllib.parse import parse_qsl, urlsplit

import pytest

from idp.observability.logs import JsonFormatter, RequestIdFilter, TextFormatter
from tests.factories import make_citizen, make_client
from tests.fixtures.server import clear_id_numbers
from tests.web.test_account_centre import sign_in
from tests.web.test_session_limits import authorize, token_request

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


class Captured:
    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.addFilter(RequestIdFilter())
        self.handler.setFormatter(formatter)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines()]

    def access(self) -> list[dict]:
        return [r for r in self.records() if r["logger"] == "idp.access"]


def _capture(formatter: logging.Formatter):
    captured = Captured(formatter)
    logger = logging.getLogger("idp")
    level = logger.level
    logger.addHandler(captured.handler)
    logger.setLevel(logging.INFO)
    try:
        yield captured
    finally:
        logger.removeHandler(captured.handler)
        logger.setLevel(level)


@pytest.fixture
def logs():
    """What the ``idp`` loggers write in the JSON format during the test."""
    yield from _capture(JsonFormatter())


@pytest.fixture
def text_logs():
    yield from _capture(TextFormatter())


@SQLITE
def test_access_lines_are_json_with_the_echoed_request_id(client, logs):
    answer = client.get("/healthz?probe=1", headers={"X-Request-Id": "lb-7f3a.9_X"})
    assert answer.headers["X-Request-Id"] == "lb-7f3a.9_X"
    [line] = logs.access()
    assert line["request_id"] == "lb-7f3a.9_X"
    assert {k: line[k] for k in ("level", "method", "path", "endpoint", "status", "bytes",
                                 "remote_addr", "client_id")} == {
        "level": "INFO", "method": "GET", "path": "/healthz", "endpoint": "ops.healthz",
        "status": 200, "bytes": len(answer.data), "remote_addr": "127.0.0.1", "client_id": None}
    assert isinstance(line["pid"], int) and 0 <= line["duration_ms"] < 10_000
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert "probe" not in logs.text


@SQLITE
def test_a_fresh_request_id_for_each_request_without_one(client, logs):
    first, second = client.get("/healthz"), client.get("/no/such/page")
    ids = [first.headers["X-Request-Id"], second.headers["X-Request-Id"]]
    assert all(UUID.fullmatch(i) for i in ids) and ids[0] != ids[1]
    assert [line["request_id"] for line in logs.access()] == ids
    assert logs.access()[1]["endpoint"] == "unmatched" and logs.access()[1]["status"] == 404


@SQLITE
@pytest.mark.parametrize("hostile", ["", "a b", "x" * 65, "<script>alert(1)</script>",
                                     "id\tforged", "../../etc/passwd", "身份",
                                     "req-110105198001010011"])
def test_an_unsafe_caller_request_id_is_replaced(client, logs, hostile):
    answer = client.get("/healthz", headers={"X-Request-Id": hostile})
    replaced = answer.headers["X-Request-Id"]
    assert UUID.fullmatch(replaced)
    assert logs.access()[0]["request_id"] == replaced
    if hostile:
        assert hostile not in logs.text and json.dumps(hostile)[1:-1] not in logs.text


@SQLITE
def test_every_record_written_in_a_request_carries_its_id(app, logs):
    def fail() -> str:
        logging.getLogger("idp.test").info("working on it")
        raise RuntimeError("boom")

    app.add_url_rule("/test-failure", "test_failure", fail)
    answer = app.test_client().get("/test-failure", headers={"X-Request-Id": "req-1"})
    assert answer.status_code == 500
    records = logs.records()
    assert [r["logger"] for r in records] == ["idp.test", "idp.web", "idp.access"]
    assert {r["request_id"] for r in records} == {"req-1"}
    assert "RuntimeError: boom" in records[1]["exc"]
    assert records[2]["status"] == 500
    logging.getLogger("idp.test").info("outside any request")
    assert logs.records()[-1]["request_id"] is None


@SQLITE
def test_access_lines_hold_no_query_codes_tokens_passwords_or_id_numbers(client, services,
                                                                        logs):
    citizen = make_citizen(services)
    portal = make_client(services, skip_consent=True)
    assert client.post("/login", data={"username": citizen.id_number,
                                       "password": citizen.password}).status_code == 400  # CSRF
    assert sign_in(client, citizen).status_code == 302
    resp, verifier = authorize(client, portal, state="state-Secret-77")
    code = dict(parse_qsl(urlsplit(resp.headers["Location"]).query))["code"]
    tokens = token_request(client, portal, grant_type="authorization_code", code=code,
                           redirect_uri=portal.redirect_uri, code_verifier=verifier).get_json()
    client.get(f"/no/such/{citizen.id_number}")
    client.get("/qr/ticket-Secret-0815")
    for secret in (code, verifier, "state-Secret-77", citizen.password, citizen.phone,
                   portal.secret, tokens["access_token"], tokens["refresh_token"],
                   "ticket-Secret-0815", "client_id="):
        assert secret not in logs.text
    assert clear_id_numbers(logs.text) == []
    lines = {line["endpoint"]: line for line in logs.access()}
    assert lines["oidc.token"]["client_id"] == portal.client_id  # tokens went to it
    assert lines["oidc.authorize"]["path"] == "/authorize"
    assert lines["qr.phone_page"]["path"] == "/qr/[redacted]"
    assert lines["unmatched"]["path"].startswith("/no/such/" + citizen.id_number[:4] + "*")


@SQLITE
def test_text_lines_end_with_the_request_id_and_cannot_be_forged(client, text_logs):
    client.get("/no/such%0A[forged] line", headers={"X-Request-Id": "req-2"})
    [line] = text_logs.text.splitlines()
    assert line.endswith("[request_id=req-2]") and "idp.access" in line
    assert '"GET /no/such\\n[forged] line" 404' in line
