"""Real HTTP on loopback for the clients' listener tests: a WSGI app served in a thread, the
scripted IdP (:class:`~.fakeidp.FakeIdp`) served the same way, a command-line client's
``listen`` as its own process, and a logout POST as the IdP sends it (Back-Channel Logout 1.0
§2.5)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from clients.common.http import HttpRequest
from clients.common.tests.fakeidp import FakeIdp
from tests.fixtures.server import REPO, free_port, wait_until_healthy


@contextmanager
def running(server: BaseWSGIServer) -> Iterator[str]:
    """Serve ``server`` in a thread; yield its base URL; stop it afterwards."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def serving(app: Callable[..., Any]) -> Iterator[str]:
    """A WSGI app on a free loopback port."""
    with running(make_server("127.0.0.1", 0, app, threaded=True)) as base:
        yield base


@contextmanager
def served_idp() -> Iterator[FakeIdp]:
    """A :class:`FakeIdp` over real HTTP; its issuer is its loopback URL."""
    idps: list[FakeIdp] = []

    @Request.application
    def app(request: Request) -> Response:
        answer = idps[0](
            HttpRequest(request.method, idps[0].issuer + request.path, dict(request.headers))
        )
        return Response(answer.body, status=answer.status, headers=dict(answer.headers))

    server = make_server("127.0.0.1", 0, app, threaded=True)
    idps.append(FakeIdp(issuer=f"http://127.0.0.1:{server.server_port}"))
    with running(server):
        yield idps[0]


@contextmanager
def listening(module: str, *args: str, log: Path) -> Iterator[str]:
    """``python -m module ARGS… listen --port P`` as its own process, until the block ends."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COUNTER_", "PORTAL_"))}
    command = [sys.executable, "-m", module, *args, "listen", "--port", str(port)]
    with open(log, "ab") as out:
        proc = subprocess.Popen(  # noqa: S603 — our own module, with our own arguments
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}", proc, log, timeout=20)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def post_logout(url: str, token: str, **kwargs: Any) -> requests.Response:
    """POST ``logout_token`` form-encoded, as the IdP's delivery worker does."""
    return requests.post(url, data={"logout_token": token}, timeout=10, **kwargs)


def assert_refused(resp: requests.Response, fragment: str = "") -> str:
    """A 400 ``invalid_request`` JSON answer, no traceback; returns its description."""
    assert resp.status_code == 400, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.json()
    assert body["error"] == "invalid_request", body
    assert fragment in body["error_description"], body
    assert "Traceback" not in resp.text
    return str(body["error_description"])
