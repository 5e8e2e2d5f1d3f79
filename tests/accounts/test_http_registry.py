"""The HTTP population-registry adapter against a real local HTTP server (the registry is the
edge we do not own: this stands in for it on loopback)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from idp.accounts.registry import HttpRegistry, RegistryUnavailable


@pytest.fixture
def registry_server():
    answers: list[tuple[int, bytes]] = []
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            status, body = answers.pop(0)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/verify", answers, seen
    server.shutdown()
    server.server_close()


def test_match_and_mismatch(registry_server):
    url, answers, seen = registry_server
    registry = HttpRegistry(url, timeout=2)
    answers += [(200, b'{"match": true}'), (200, b'{"match": false}')]
    assert registry.name_matches("11010519491231002X", " 张三 ") is True
    assert registry.name_matches("11010519491231002X", "李四") is False
    assert seen[0] == {"id_number": "11010519491231002X", "name": "张三"}


@pytest.mark.parametrize(("status", "body"), [
    (200, b'{"match": "false"}'), (200, b"[]"), (200, b"not json"), (500, b"{}"),
    (302, b""),
])
def test_unclear_answers_are_unavailable_never_a_match(registry_server, status, body):
    url, answers, _ = registry_server
    answers.append((status, body))
    with pytest.raises(RegistryUnavailable):
        HttpRegistry(url, timeout=2).name_matches("11010519491231002X", "张三")


def test_registry_down(registry_server):
    with pytest.raises(RegistryUnavailable):
        HttpRegistry("http://127.0.0.1:1/verify", timeout=1).name_matches(
            "11010519491231002X", "张三")
