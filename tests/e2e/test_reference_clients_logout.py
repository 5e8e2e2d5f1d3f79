"""One "Sign out everywhere" at the portal signs out all four real reference clients.

The portal (clients/website), the mini-program backend (clients/miniprogram), the app
(clients/app) and the counter terminal (clients/counter) run as their own processes, the two
command-line clients with their ``listen`` back-channel listeners, each registered afresh
through ``idp clients create`` with a port of its own. One browser signs in at the portal and
lets the app in silently; the app starts the mini-program session and approves the counter: one
``sid`` everywhere. After "Sign out everywhere" at the portal, on both stacks, every client says
the IdP signed it out, the IdP records one logout token delivered at the first attempt per
client, and the refresh token the app held is revoked.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e import test_reference_clients as ref
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer, free_port, running_module, wait_until_healthy

pytestmark = pytest.mark.e2e

CHANNELS = ("website", "miniprogram", "app", "counter")
REDIRECT = {"app": "http://127.0.0.1/callback", "miniprogram": "https://mini.example.test/cb",
            "counter": "https://counter.example.test/cb"}
SIGN_IN_BUTTON = "Sign in with Unified Identity"
AUTHORIZE_URL = re.compile(r"^(http\S+/authorize\?\S+)$")
PORTAL_SID = re.compile(r"<code>sid</code>.*?<td>([^<]+)</td>", re.S)


class FreshApp(ref.App):
    """The app CLI as a freshly registered app client (not ``demo-app``)."""

    def __init__(self, server: IdpServer, state: Path, client_id: str) -> None:
        super().__init__(server, state)
        self.client_id = client_id

    def argv(self, *args: str) -> list[str]:
        return super().argv("--client-id", self.client_id, *args)


@dataclass
class ReferenceClients:
    client_ids: set[str]  # the four fresh registrations
    portal: str
    miniprogram: str
    app: FreshApp
    counter: list[str]  # python -m clients.counter --config FILE
    spawn: Callable[..., subprocess.Popen[str]]  # started now, killed at teardown if running


@contextmanager
def _listening(root: Path, port: int, argv: list[str]) -> Iterator[None]:
    """``python -m ARGV listen --port PORT``: a CLI client's back-channel logout listener."""
    log = root / f"{argv[0]}-listen.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", *argv, "listen", "--port", str(port)],
                                cwd=ref.REPO, env=ref._env(), stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}", proc, log, timeout=15)
            yield
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture
def clients(idp_server: IdpServer, tmp_path: Path) -> Iterator[ReferenceClients]:
    """The four channels registered afresh; the portal, the mini-program backend and the app's
    and counter's back-channel listeners running until teardown."""
    ports = {channel: free_port() for channel in CHANNELS}
    portal = f"http://127.0.0.1:{ports['website']}"
    reg = {ch: idp_server.create_client(
        "--name", f"ref-{ch}-{uuid.uuid4().hex[:6]}", "--channel", ch, "--skip-consent",
        "--redirect-uri", REDIRECT.get(ch, f"{portal}/callback"),
        "--backchannel-logout-uri", f"http://127.0.0.1:{ports[ch]}/backchannel-logout",
        *(("--post-logout-redirect-uri", f"{portal}/") if ch == "website" else ()))
        for ch in CHANNELS}
    creds = {ch: {"issuer": idp_server.url, "client_id": reg[ch]["client_id"],
                  "client_secret": reg[ch].get("client_secret")} for ch in CHANNELS}
    config = tmp_path / "counter.json"
    config.write_text(json.dumps({**creds["counter"], "state_file": str(tmp_path / "term.json")}))
    counter = ["clients.counter", "--config", str(config)]
    app = FreshApp(idp_server, tmp_path / "app-state.json", reg["app"]["client_id"])
    env = ref._env()
    with ExitStack() as stack:
        stack.enter_context(running_module("clients.website", {
            **creds["website"], "base_url": portal, "port": ports["website"]}, tmp_path, env))
        mini = stack.enter_context(running_module("clients.miniprogram", {
            **creds["miniprogram"], "port": ports["miniprogram"]}, tmp_path, env))
        stack.enter_context(_listening(tmp_path, ports["app"], app.argv()))
        stack.enter_context(_listening(tmp_path, ports["counter"], counter))

        def spawn(*args: str) -> subprocess.Popen[str]:
            proc = ref._popen(*args)
            stack.callback(_kill, proc)
            return proc

        yield ReferenceClients({r["client_id"] for r in reg.values()}, portal, mini, app,
                               counter, spawn)


def _on_stderr(proc: subprocess.Popen[str], pattern: re.Pattern[str]) -> str:
    """What the child shows the person (its stderr, read on by a thread) matching ``pattern``."""
    assert proc.stderr is not None
    return ref._wait_for(ref._lines(proc.stderr), pattern, []).group(1)


def _deliveries(server: IdpServer, client_ids: set[str]) -> list[dict[str, Any]]:
    """The IdP's back-channel deliveries to these clients, once none is pending any more."""
    deadline = time.monotonic() + 15
    while True:  # the IdP delivers asynchronously
        rows = [row for row in server.cli_json("logout", "deliveries", "--limit", "1000")
                if row["client_id"] in client_ids]
        if len(rows) >= len(client_ids) and all(row["status"] != "pending" for row in rows):
            return rows
        assert time.monotonic() < deadline, rows
        time.sleep(0.2)


def test_sign_out_everywhere_at_the_portal_signs_out_all_four_reference_clients(
        idp_server: IdpServer, citizen: dict[str, Any], clients: ReferenceClients,
        tmp_path: Path) -> None:
    portal, mini, app = clients.portal, clients.miniprogram, clients.app
    browser = requests.Session()

    # One sign-in, at the portal; the app follows silently in the same browser.
    form = browser.post(f"{portal}/login", data={"csrf_token": UserAgent.csrf(
        browser.get(portal, timeout=20))}, timeout=20)
    assert form.url.startswith(f"{idp_server.url}/login"), form.url
    home = browser.post(f"{idp_server.url}/login", timeout=20, data={
        "csrf_token": UserAgent.csrf(form), "username": citizen["username"],
        "password": citizen["password"], "next": UserAgent._hidden(form, "next")})
    assert home.url == f"{portal}/" and citizen["name"] in home.text, home.url
    login = clients.spawn(*app.argv("login", "--json", "--timeout", "60"))
    url = _on_stderr(login, AUTHORIZE_URL)
    assert browser.get(url, timeout=20).url.startswith("http://127.0.0.1:")  # app's loopback
    sid = json.loads(ref._finish(login))["sid"]
    assert login.returncode == 0

    # The app starts the mini-program session and approves the counter terminal.
    exchanged = app.json("exchange", "--miniprogram", mini)
    counter = clients.spawn(*clients.counter, "signin", "--json")
    app.json("approve-device", _on_stderr(counter, ref.USER_CODE))
    at_counter = json.loads(ref._finish(counter))
    assert counter.returncode == 0
    at_portal = PORTAL_SID.search(home.text)
    assert at_portal and at_portal.group(1) == exchanged["sid"] == at_counter["sid"] == sid
    assert requests.get(f"{mini}/healthz", timeout=20).json()["sessions"] == 1
    held = shutil.copy(app.state, tmp_path / "app-tokens-held.json")  # mode 600 too

    # Sign out everywhere: the IdP ends the session and tells every client.
    home = browser.get(portal, timeout=20)
    bye = browser.post(f"{portal}/logout-everywhere", timeout=20,
                       data={"csrf_token": UserAgent.csrf(home)})
    assert bye.url == f"{portal}/" and SIGN_IN_BUTTON in bye.text, bye.url
    rows = _deliveries(idp_server, clients.client_ids)
    assert sorted(row["client_id"] for row in rows) == sorted(clients.client_ids)
    assert {(row["status"], row["attempts"], row["last_status"]) for row in rows} == {
        ("delivered", 1, 200)}, rows

    status = app.json("status")
    assert status["signed_in"] is False and status["sid"] == sid
    assert "back-channel logout" in app.run("status").stdout
    assert "back-channel logout" in app.run("refresh", expect=2).stderr
    assert "revoked" in ref.App(idp_server, Path(held)).run("refresh", expect=2).stderr
    terminal = subprocess.run([sys.executable, "-m", *clients.counter, "status", "--json"],
                              cwd=ref.REPO, env=ref._env(), capture_output=True, text=True,
                              timeout=60)
    assert terminal.returncode == 0, terminal.stderr
    at_counter = json.loads(terminal.stdout)
    assert at_counter["signed_in"] is False and at_counter["signed_out_by_idp_at"]
    assert requests.get(f"{mini}/healthz", timeout=20).json()["sessions"] == 0
    assert SIGN_IN_BUTTON in browser.get(portal, timeout=20).text
