"""A real ``idp serve --workers 2`` (issue 7, "Operations"): ``/metrics`` at either worker adds
up the counts of both (prometheus_client's multiprocess mode, through a private directory made
for the run and removed at stop), and every server log line is one JSON object, access lines
carrying the request id the response echoes."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer, launch_on_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdpServer]:
    started = launch_on_stack(request, tmp_path_factory.mktemp("observed"), "embedded",
                              {"IDP_LOGGING_FORMAT": "json"})
    try:
        shared = metrics_dir(started)
        assert stat.S_IMODE(shared.stat().st_mode) == 0o700
        yield started
    finally:
        started.stop()
    assert not shared.exists(), "the run's metrics directory outlived the server"


def records(server: IdpServer) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.log.splitlines()]


def metrics_dir(server: IdpServer) -> Path:
    [line] = [r["message"] for r in records(server) if r["logger"] == "idp.serve"]
    return Path(re.sub(r"^workers share their metrics in ", "", line))


def scraped(server: IdpServer, name: str, **labels: str) -> float:
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    return sum(s.value for family in text_string_to_metric_families(text)
               for s in family.samples if s.name == name and labels.items() <= s.labels.items())


def healthz_lines(server: IdpServer) -> list[dict[str, Any]]:
    return [r for r in records(server)
            if r["logger"] == "idp.access" and r["endpoint"] == "ops.healthz"]


def test_metrics_add_up_the_requests_of_both_workers(server: IdpServer) -> None:
    def probe(_: int) -> int:  # a new connection each time: either worker may take it
        return requests.get(f"{server.url}/healthz", timeout=10).status_code

    with ThreadPoolExecutor(4) as pool:
        for _ in range(50):  # until both workers have answered some
            assert set(pool.map(probe, range(20))) == {200}
            if len({r["pid"] for r in healthz_lines(server)}) == 2:
                break
    lines = healthz_lines(server)
    assert len({r["pid"] for r in lines}) == 2, "one worker answered every request"
    # Every answered /healthz (the start-up probes included) wrote one line before answering.
    assert scraped(server, "idp_http_requests_total", endpoint="ops.healthz", method="GET",
                   status="200") == len(lines) >= 20


def test_sign_ins_on_either_worker_are_counted_once(server: IdpServer) -> None:
    citizen = server.demo["citizens"][0]
    before = {o: scraped(server, "idp_signins_total", method="password", outcome=o)
              for o in ("success", "failure")}
    for _ in range(3):
        assert UserAgent(server.url).login(citizen["phone"], "not-the-password").status_code \
            == 401
    assert UserAgent(server.url).login(citizen["phone"], citizen["password"]).status_code \
        == 302
    assert scraped(server, "idp_signins_total", method="password", outcome="failure") == \
        before["failure"] + 3
    assert scraped(server, "idp_signins_total", method="password", outcome="success") == \
        before["success"] + 1


def test_server_log_lines_are_json_with_request_ids(server: IdpServer) -> None:
    answer = requests.get(f"{server.url}/.well-known/openid-configuration?x=secret-q",
                          headers={"X-Request-Id": "e2e-trace.1"}, timeout=10)
    assert answer.headers["X-Request-Id"] == "e2e-trace.1"
    hostile = requests.get(f"{server.url}/healthz", headers={"X-Request-Id": "bad id!"},
                           timeout=10).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", hostile)
    lines = records(server)  # json.loads of every line: none is anything else
    assert {"_granian", "idp.serve", "idp.access"} <= {r["logger"] for r in lines}
    access = [r for r in lines if r["logger"] == "idp.access"]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]{1,64}", r["request_id"]) for r in access)
    [traced] = [r for r in access if r["request_id"] == "e2e-trace.1"]
    assert traced["path"] == "/.well-known/openid-configuration" and traced["status"] == 200
    assert any(r["request_id"] == hostile for r in access)
    assert "secret-q" not in server.log and "bad id!" not in server.log
