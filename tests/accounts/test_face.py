"""Face checks (idp.accounts.face_checks) on Redis and the embedded store, with the audit trail
on SQLite and PostgreSQL; the local stand-in verifier, and the HTTP verifier against a real
loopback server. A scripted verifier stands in for the service only where its answer must be
chosen (a failure to begin, to answer)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from idp.accounts.face import (
    FaceCheck,
    FaceResult,
    FaceServiceUnavailable,
    FaceSubject,
    HttpFaceVerifier,
    LocalFaceVerifier,
)
from idp.accounts.face_checks import FaceCheckService
from idp.config import load_settings
from idp.config.settings import FaceSettings
from idp.errors import AuthenticationFailed, ConfigError, IdpError, NotFound, RateLimited
from tests.factories import make_citizen
from tests.fixtures.server import free_port

ISSUER = "http://localhost:5000"
RETURN = f"{ISSUER}/login/face/return?next=%2Fauthorize%3Fx%3D1"
SID, OTHER_SID = "sid-0001", "sid-0002"


@dataclass
class ScriptedVerifier:
    """The service's edge, answering what the test sets; records the subjects it was given."""

    subjects: list[FaceSubject] = field(default_factory=list)
    down: bool = False
    answer: FaceResult = field(default_factory=lambda: FaceResult(True, 97.5))

    def begin(self, subject: FaceSubject, return_url: str) -> FaceCheck:
        if self.down:
            raise FaceServiceUnavailable("the face service answered HTTP 500")
        self.subjects.append(subject)
        return FaceCheck(f"chk-{len(self.subjects)}", "https://face.example.gov.cn/c")

    def result(self, check_id: str) -> FaceResult:
        if self.down:
            raise FaceServiceUnavailable("the face service did not answer (ConnectTimeout)")
        return self.answer


@pytest.fixture
def citizen(services):
    person = make_citizen(services, name="刘实人")
    return person, services.accounts.get(person.sub)


@pytest.fixture
def local(ephemeral_store) -> LocalFaceVerifier:
    return LocalFaceVerifier(ephemeral_store, issuer=ISSUER, ttl=600)


@pytest.fixture
def make_face(services, ephemeral_store):
    def _make(verifier: Any, **overrides: Any) -> FaceCheckService:
        return FaceCheckService(ephemeral_store, verifier, audit=services.audit,
                                settings=FaceSettings(**overrides),
                                reveal_id_number=services.accounts.reveal_id_number)
    return _make


def tags(services):
    return [e.tag for e in reversed(services.audit.events(tag="face:verify", limit=100))]


def reasons(services):
    return [e.extra["reason"]
            for e in reversed(services.audit.events(tag="face:verify:failure", limit=100))]


def check_id(check: FaceCheck) -> str:
    return check.url.rsplit("/", 1)[1]


def test_a_passed_check_steps_up_once(services, citizen, local, make_face):
    person, account = citizen
    face = make_face(local)
    check = face.start(account, SID, RETURN, ip="10.0.0.1")
    assert check.url == f"{ISSUER}/dev/face/{check.check_id}"
    back = local.record(check.check_id, True)
    assert back is not None and parse_qs(urlsplit(back).query)["check"] == [check.check_id]
    assert back.startswith(RETURN)
    assert face.finish(account.id, SID, check.check_id) is True
    with pytest.raises(NotFound) as exc:  # single use: a replay finds nothing
        face.finish(account.id, SID, check.check_id)
    assert exc.value.code == "face.unknown"
    assert tags(services) == ["face:verify:start", "face:verify:success",
                              "face:verify:failure"]
    [start] = services.audit.events(tag="face:verify:start")
    assert start.extra["id_number"] == account.id_number_masked and start.ip == "10.0.0.1"
    [success] = services.audit.events(tag="face:verify:success")
    assert success.extra["score"] == 99.0
    assert reasons(services) == ["unknown_check"]


def test_a_face_that_does_not_match_is_refused(services, citizen, local, make_face):
    _, account = citizen
    face = make_face(local)
    check = face.start(account, SID, RETURN)
    local.record(check.check_id, False)
    with pytest.raises(AuthenticationFailed) as exc:
        face.finish(account.id, SID, check.check_id)
    assert exc.value.code == "face.failed" and "did not match" in exc.value.message
    [failure] = services.audit.events(tag="face:verify:failure")
    assert failure.extra["reason"] == "no_match" and failure.extra["score"] == 12.0
    with pytest.raises(NotFound):  # the failed check is spent: start another
        face.finish(account.id, SID, check.check_id)


def test_coming_back_before_the_capture_is_not_a_pass(services, citizen, local, make_face):
    _, account = citizen
    face = make_face(local)
    check = face.start(account, SID, RETURN)
    with pytest.raises(AuthenticationFailed):
        face.finish(account.id, SID, check.check_id)
    assert reasons(services) == ["not_captured"]


def test_a_check_belongs_to_its_account_and_session(services, citizen, local, make_face):
    _, account = citizen
    other = services.accounts.get(make_citizen(services).sub)
    face = make_face(local)
    check = face.start(account, SID, RETURN)
    local.record(check.check_id, True)
    for who, sid in ((other.id, SID), (account.id, OTHER_SID)):
        with pytest.raises(NotFound) as exc:
            face.finish(who, sid, check.check_id)
        assert exc.value.code == "face.unknown"
    assert reasons(services) == ["wrong_session", "wrong_session"]
    assert face.finish(account.id, SID, check.check_id)  # still there for its owner


@pytest.mark.parametrize("forged", ["", "no-such-check", "../../etc", "x" * 300, "a b"])
def test_forged_check_ids_are_refused(services, citizen, local, make_face, forged):
    _, account = citizen
    with pytest.raises(NotFound):
        make_face(local).finish(account.id, SID, forged)


def test_a_check_expires_after_check_ttl(services, citizen, ephemeral_store, make_face, elapse):
    _, account = citizen
    local = LocalFaceVerifier(ephemeral_store, issuer=ISSUER, ttl=1)
    face = make_face(local, check_ttl=1)
    check = face.start(account, SID, RETURN)
    elapse(1.2)
    assert local.record(check.check_id, True) is None  # the capture page is gone too
    with pytest.raises(NotFound):
        face.finish(account.id, SID, check.check_id)


def test_checks_per_window_are_capped(services, citizen, make_face):
    _, account = citizen
    verifier = ScriptedVerifier()
    face = make_face(verifier, max_checks=2, window=3600)
    face.start(account, SID, RETURN)
    face.start(account, SID, RETURN)
    with pytest.raises(RateLimited) as exc:
        face.start(account, SID, RETURN)
    assert exc.value.code == "rate_limited.face" and 3500 <= exc.value.retry_after <= 3600
    assert len(verifier.subjects) == 2  # the service was not asked a third time


def test_the_clear_id_number_goes_to_the_service_only(services, citizen, ephemeral_store,
                                                      make_face, local):
    person, account = citizen
    verifier = ScriptedVerifier()
    check = make_face(verifier).start(account, SID, RETURN)
    [subject] = verifier.subjects
    assert subject.name == "刘实人" and subject.id_number == person.id_number
    assert person.id_number not in repr(subject)
    assert person.id_number not in json.dumps(ephemeral_store.get(
        make_face(verifier)._key(check.check_id)))
    make_face(verifier).finish(account.id, SID, check.check_id)
    dev = make_face(local).start(account, SID, RETURN)  # the stand-in keeps the masked form
    assert local.pending(dev.check_id)["id_number_masked"] == account.id_number_masked
    assert person.id_number not in json.dumps(local.pending(dev.check_id), ensure_ascii=False)
    for event in services.audit.events(tag="face:", limit=100):
        assert person.id_number not in json.dumps(event.extra, ensure_ascii=False)


def test_a_service_outage_is_typed_audited_and_leaves_the_check_pending(
        services, citizen, make_face):
    _, account = citizen
    verifier = ScriptedVerifier(down=True)
    face = make_face(verifier)
    with pytest.raises(FaceServiceUnavailable):
        face.start(account, SID, RETURN)
    verifier.down = False
    check = face.start(account, SID, RETURN)
    verifier.down = True
    with pytest.raises(FaceServiceUnavailable):
        face.finish(account.id, SID, check.check_id)
    verifier.down = False
    assert face.finish(account.id, SID, check.check_id)  # the return can be retried
    assert reasons(services) == ["unavailable", "unavailable"]


def test_a_disabled_service_refuses(services, citizen, make_face):
    _, account = citizen
    face = make_face(None)
    assert not face.enabled
    with pytest.raises(IdpError) as exc:
        face.start(account, SID, RETURN)
    assert exc.value.code == "face.disabled"


# -- the HTTP verifier against a real loopback service (no database needed) ------------------

class _FaceService:
    """A loopback face service: begin answers a check id and a capture URL, result answers
    ``self.result``; ``mode`` makes it fail (500, bad JSON, a slow answer)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[dict[str, Any]] = []
        self.mode = "ok"
        self.result: dict[str, Any] = {"passed": True, "score": 93.2}
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                service.requests.append({
                    "method": self.command, "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "body": self.rfile.read(length).decode() if length else ""})
                if service.mode == "slow":
                    time.sleep(1.5)
                if service.mode == "500":
                    body, status = b'{"error":"internal"}', 500
                elif service.mode == "bad-json":
                    body, status = b"<html>gateway</html>", 200
                elif self.command == "POST":
                    body, status = json.dumps({"check_id": "c-42", "url":
                                               "https://face.example.gov.cn/capture/c-42"}
                                              ).encode(), 200
                else:
                    body, status = json.dumps(service.result).encode(), 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _handle  # noqa: N815 — http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def verifier(self, **kw: Any) -> HttpFaceVerifier:
        base = f"http://127.0.0.1:{self.port}"
        return HttpFaceVerifier(f"{base}/checks", f"{base}/checks/{{check_id}}/result", **kw)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def face_service() -> Iterator[_FaceService]:
    server = _FaceService()
    yield server
    server.stop()


SUBJECT = FaceSubject("刘实人", "11010519800101001X")


def test_http_verifier_begins_and_reads_the_result(face_service):
    verifier = face_service.verifier(token="s3cret")
    check = verifier.begin(SUBJECT, RETURN)
    assert check == FaceCheck("c-42", "https://face.example.gov.cn/capture/c-42")
    assert verifier.result("c-42") == FaceResult(True, 93.2, "")
    face_service.result = {"passed": False, "score": None, "reason": "liveness_failed"}
    assert verifier.result("c/42") == FaceResult(False, None, "liveness_failed")
    begin, first, second = face_service.requests
    assert begin["method"] == "POST" and begin["path"] == "/checks"
    assert json.loads(begin["body"]) == {"name": "刘实人", "id_number": "11010519800101001X",
                                         "return_url": RETURN}
    assert first["method"] == "GET" and first["path"] == "/checks/c-42/result"
    assert second["path"] == "/checks/c%2F42/result"  # the check id is URL-encoded
    assert {r["authorization"] for r in face_service.requests} == {"Bearer s3cret"}
    assert "s3cret" not in repr(verifier)


def test_http_verifier_without_a_token_sends_no_authorization(face_service):
    face_service.verifier().begin(SUBJECT, RETURN)
    assert face_service.requests[0]["authorization"] is None


@pytest.mark.parametrize("mode", ["500", "bad-json", "slow"])
def test_http_verifier_failures_are_unavailable_and_say_nothing_personal(face_service, mode):
    face_service.mode = mode
    verifier = face_service.verifier(timeout=0.5)
    for call in (lambda: verifier.begin(SUBJECT, RETURN), lambda: verifier.result("c-42")):
        with pytest.raises(FaceServiceUnavailable) as exc:
            call()
        text = str(exc.value)
        assert "11010519800101001X" not in text and "127.0.0.1" not in text
        assert "c-42" not in text


@pytest.mark.parametrize("answer", [
    {"passed": "yes", "score": 90},
    {"score": 90},
    {"passed": True, "score": "high"},
    {"passed": True, "score": True},
])
def test_http_verifier_refuses_malformed_results(face_service, answer):
    face_service.result = answer
    with pytest.raises(FaceServiceUnavailable):
        face_service.verifier().result("c-42")


def test_http_verifier_when_nobody_listens():
    verifier = HttpFaceVerifier(f"http://127.0.0.1:{free_port()}/checks",
                                f"http://127.0.0.1:{free_port()}/r/{{check_id}}", timeout=0.5)
    with pytest.raises(FaceServiceUnavailable) as exc:
        verifier.begin(SUBJECT, RETURN)
    assert "did not answer" in str(exc.value)


def test_local_verifier_outcomes(ephemeral_store):
    local = LocalFaceVerifier(ephemeral_store, issuer=ISSUER, ttl=600)
    check = local.begin(SUBJECT, RETURN)
    assert local.pending(check.check_id) == {
        "name": "刘实人", "id_number_masked": "1101**********001X", "return_url": RETURN,
        "outcome": None}
    assert local.result(check.check_id) == FaceResult(False, None, "not_captured")
    local.record(check.check_id, True)
    assert local.result(check.check_id).passed
    assert local.result("nope") == FaceResult(False, None, "unknown_check")
    assert local.record("nope", True) is None


# -- settings -------------------------------------------------------------------------------

PRODUCTION = {"IDP_MODE": "production", "IDP_ISSUER": "https://id.example.gov.cn",
              "IDP_SECRET_KEY": "k" * 48, "IDP_SMS_BACKEND": "none"}
HTTP_FACE = {"IDP_FACE_BACKEND": "http",
             "IDP_FACE_HTTP_BEGIN_URL": "https://face.example.gov.cn/checks",
             "IDP_FACE_HTTP_RESULT_URL": "https://face.example.gov.cn/checks/{check_id}"}


@pytest.mark.parametrize(("env", "fragment"), [
    ({"IDP_FACE_BACKEND": "camera"}, "face.backend must be"),
    ({"IDP_FACE_BACKEND": "http"}, "needs face.http_begin_url"),
    ({**HTTP_FACE, "IDP_FACE_HTTP_RESULT_URL": "https://face.example.gov.cn/r"}, "{check_id}"),
    ({**HTTP_FACE, "IDP_FACE_HTTP_BEGIN_URL": "ftp://face.example.gov.cn/"}, "http_begin_url"),
    ({"IDP_FACE_CHECK_TTL": "5"}, "face.check_ttl"),
    ({"IDP_FACE_MAX_CHECKS": "0"}, "face.max_checks"),
    ({"IDP_FACE_HTTP_TIMEOUT": "100"}, "face.http_timeout"),
])
def test_bad_face_settings_are_refused(env, fragment):
    with pytest.raises(ConfigError) as exc:
        load_settings(env)
    assert fragment in exc.value.message


def test_production_refuses_the_local_stand_in_and_plain_http():
    with pytest.raises(ConfigError) as exc:
        load_settings(PRODUCTION)  # the default backend is "local"
    assert "face.backend = 'local'" in exc.value.message
    with pytest.raises(ConfigError) as exc:
        load_settings({**PRODUCTION, **HTTP_FACE,
                       "IDP_FACE_HTTP_RESULT_URL": "http://face.example.gov.cn/{check_id}"})
    assert "https://" in exc.value.message
    ok = load_settings({**PRODUCTION, **HTTP_FACE, "IDP_FACE_HTTP_TOKEN": "t"})
    assert ok.face.backend == "http" and ok.face.http_token == "t"
    assert load_settings({**PRODUCTION, "IDP_FACE_BACKEND": "none"}).face.backend == "none"
