"""The reference clients (clients/app, clients/counter, clients/miniprogram) against a real IdP.

Every client runs as its own process, exactly as documented in docs/channels/app.md; a
scripted citizen (:class:`UserAgent`) plays the browser, and the app's loopback redirect is
really delivered over HTTP. On both stacks: one app sign-in reaches the counter terminal
(device grant), the mini-program backend (token exchange) and a website's QR sign-in — with
the same ``sid``.
"""

from __future__ import annotations

import json
import os
import queue
import re
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer, free_port, running_module

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
USER_CODE = re.compile(r"User code: ([A-Z0-9]{4}-[A-Z0-9]{4})")
CLIENT_ENV = ("PORTAL_", "COUNTER_", "MINIPROGRAM_")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLIENT_ENV)}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _popen(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _lines(stream: IO[str]) -> queue.Queue[str | None]:
    """The stream's lines, read by a thread (a child writing progress never blocks on us)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue[str | None], pattern: re.Pattern[str], seen: list[str],
              timeout: float = 30) -> re.Match[str]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.time()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        found = pattern.search(line)
        if found:
            return found
    raise AssertionError(f"{pattern.pattern!r} not seen in:\n{''.join(seen)}")


def _finish(proc: subprocess.Popen[str], timeout: float = 90) -> str:
    """The child's stdout once it exits (its stderr belongs to the :func:`_lines` reader)."""
    assert proc.stdout is not None
    out = _lines(proc.stdout)
    proc.wait(timeout=timeout)
    return _drain(out)


def _drain(lines: queue.Queue[str | None]) -> str:
    out = []
    while (line := lines.get(timeout=30)) is not None:
        out.append(line)
    return "".join(out)


class App:
    """``python -m clients.app`` with one state file, at one IdP."""

    def __init__(self, server: IdpServer, state: Path) -> None:
        self.server, self.state = server, state

    def argv(self, *args: str) -> list[str]:
        return ["clients.app", "--issuer", self.server.url, "--state", str(self.state), *args]

    def run(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", *self.argv(*args)], cwd=REPO, env=_env(),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        if expect != 0:
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        return done

    def json(self, *args: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.run(*args, "--json").stdout)
        return data

    def login(self, citizen: dict[str, Any]) -> dict[str, Any]:
        """``login``, with the citizen's browser driven by :class:`UserAgent`: the authorization
        URL the app prints is followed through sign-in, and the final redirect to the app's
        loopback listener is delivered with a real GET."""
        proc = _popen(*self.argv("login", "--json", "--timeout", "60"))
        assert proc.stdout is not None and proc.stderr is not None
        errors, seen = _lines(proc.stderr), []
        try:
            url = _wait_for(errors, re.compile(r"^(http\S+/authorize\?\S+)$"), seen).group(1)
            parts = urlsplit(url)
            assert f"{parts.scheme}://{parts.netloc}" == self.server.url
            params = dict(parse_qsl(parts.query))
            assert params["code_challenge_method"] == "S256" and params["code_challenge"]
            assert params["redirect_uri"].startswith("http://127.0.0.1:")
            assert params["state"] and params["nonce"]
            response = UserAgent(self.server.url).authorize(
                params, username=citizen["username"], password=citizen["password"])
            assert response.location.startswith(params["redirect_uri"] + "?"), response.location
            assert response.params["state"] == params["state"]
            assert response.params["iss"] == self.server.url
            delivered = requests.get(response.location, timeout=20)
            assert delivered.status_code == 200, delivered.text
            out = _finish(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        rest = _drain(errors)
        assert proc.returncode == 0, "".join(seen) + rest
        data: dict[str, Any] = json.loads(out)
        return data

    def stored(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.state.read_text())
        return data


@pytest.fixture
def app(idp_server: IdpServer, tmp_path: Path) -> App:
    return App(idp_server, tmp_path / "app-state.json")


@pytest.fixture
def signed_in(app: App, citizen: dict[str, Any]) -> dict[str, Any]:
    return app.login(citizen)


# --- the app -------------------------------------------------------------------------------


def test_app_login_stores_verified_tokens_in_a_private_file(app, signed_in, citizen):
    mode = stat.S_IMODE(app.state.stat().st_mode)
    assert mode == 0o600, oct(mode)
    stored = app.stored()
    for key in ("access_token", "refresh_token", "id_token"):
        assert isinstance(stored[key], str) and len(stored[key]) > 20
    assert stored["claims"]["sub"] == signed_in["sub"]
    assert stored["claims"]["sid"] == signed_in["sid"]
    assert stored["claims"]["aud"] == ["demo-app"] or stored["claims"]["aud"] == "demo-app"
    # The JSON output shows token prefixes only.
    assert signed_in["access_token"] == stored["access_token"][:8] + "…"
    assert stored["access_token"] not in json.dumps(signed_in)

    whoami = app.json("whoami")
    assert whoami["userinfo"]["sub"] == signed_in["sub"]
    assert whoami["userinfo"]["name"] == citizen["name"]
    assert whoami["sid"] == signed_in["sid"]
    text = app.run("whoami").stdout
    assert citizen["name"] in text and stored["access_token"] not in text


def test_app_refresh_rotates_and_a_replayed_refresh_token_revokes_the_sign_in(app, signed_in):
    first = app.stored()
    app.json("refresh")
    second = app.stored()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    again = app.json("refresh")
    third = app.stored()
    assert again["rotated"] is True and again["refreshes"] == 2
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])

    # Someone replays a spent refresh token: reuse detection revokes the family, and the app
    # (holding the newest token) learns that its sign-in was revoked.
    stolen = app.state.with_name("stolen.json")
    stolen.write_text(json.dumps(second))
    stolen.chmod(0o600)
    thief = subprocess.run(
        [sys.executable, "-m", "clients.app", "--state", str(stolen), "refresh"],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=60)
    assert thief.returncode == 2 and "revoked" in thief.stderr, thief.stderr
    refused = app.run("refresh", expect=2)
    assert "revoked" in refused.stderr and "login" in refused.stderr
    assert not app.state.exists(), "the dead tokens are deleted"
    assert "Not signed in" in app.run("whoami", expect=2).stderr


def test_app_commands_fail_with_one_line(app, idp_server):
    assert "Not signed in" in app.run("whoami", expect=2).stderr
    assert "Not signed in" in app.run("approve-device", "BCDF-GHJK", expect=2).stderr
    bad = app.run("--issuer", "http://idp.example.test", "whoami", expect=2)
    assert "https" in bad.stderr


def test_app_refuses_a_qr_code_of_another_site(app, signed_in):
    refused = app.run("approve-qr", "https://evil.example.test/qr/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                      expect=2)
    assert "not a sign-in of" in refused.stderr


# --- counter terminal + app approval (device grant) ----------------------------------------


def _counter(idp_server: IdpServer, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    creds = idp_server.demo["clients"]["counter"]
    config = tmp_path / "counter.json"
    config.write_text(json.dumps({"issuer": idp_server.url, "client_id": creds["client_id"],
                                  "client_secret": creds["client_secret"],
                                  "state_file": str(tmp_path / "terminal.json")}))
    return _popen("clients.counter", "--config", str(config), "signin", "--json", *extra)


def _started(proc: subprocess.Popen[str]) -> tuple[str, queue.Queue[str | None], list[str]]:
    assert proc.stderr is not None
    lines, seen = _lines(proc.stderr), []
    code = _wait_for(lines, USER_CODE, seen).group(1)
    return code, lines, seen


def test_counter_signin_approved_in_the_app_shares_the_apps_sid(
        idp_server, app, signed_in, citizen, tmp_path):
    proc = _counter(idp_server, tmp_path)
    try:
        user_code, lines, seen = _started(proc)
        assert "█" in "".join(seen) or "▀" in "".join(seen), "a QR code is drawn"
        approved = app.json("approve-device", user_code.lower().replace("-", " "))
        assert approved["device"]["client_name"] and "openid" in approved["device"]["scopes"]
        assert approved["result"]["status"] == "approved"
        out = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    progress = "".join(seen) + _drain(lines)
    assert proc.returncode == 0, progress
    assert "Approved" in progress
    result = json.loads(out)
    assert result["sid"] == signed_in["sid"]
    assert result["sub"] == signed_in["sub"]
    assert result["name"] == citizen["name"]
    assert result["id_token"]["aud"] in (idp_server.demo["clients"]["counter"]["client_id"],
                                         [idp_server.demo["clients"]["counter"]["client_id"]])
    assert "nonce" not in result["id_token"]


def test_counter_signin_denied_in_the_app_exits_1(idp_server, app, signed_in, tmp_path):
    proc = _counter(idp_server, tmp_path)
    try:
        user_code, lines, seen = _started(proc)
        denied = app.json("approve-device", user_code, "--deny")
        assert denied["result"]["status"] == "denied"
        out = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    progress = "".join(seen) + _drain(lines)
    assert proc.returncode == 1, progress
    assert "declined" in progress and "Traceback" not in progress
    assert out == ""


# --- mini-program backend (token exchange) -------------------------------------------------


@pytest.fixture
def miniprogram(idp_server: IdpServer, tmp_path: Path) -> Iterator[str]:
    creds = idp_server.demo["clients"]["miniprogram"]
    with running_module("clients.miniprogram", {
            "issuer": idp_server.url, "client_id": creds["client_id"],
            "client_secret": creds["client_secret"], "port": free_port()},
            tmp_path, env=_env()) as base:
        yield base


def test_app_session_exchanged_for_a_miniprogram_session(
        app, signed_in, citizen, miniprogram, tmp_path):
    session = app.json("exchange", "--miniprogram", miniprogram)
    assert session["sub"] == signed_in["sub"]
    assert session["sid"] == signed_in["sid"]
    assert session["name"] == citizen["name"]
    assert session["claims"]["sub"] == signed_in["sub"]
    assert session["session_id"].endswith("…") and len(session["session_id"]) == 9
    log = (tmp_path / "miniprogram.log").read_text()
    assert app.stored()["access_token"] not in log


def test_miniprogram_backend_refuses_bad_requests_with_json(app, signed_in, miniprogram):
    for body, status, error in (
        ({"app_access_token": "not-a-token"}, 401, "invalid_token"),
        ({}, 400, "invalid_request"),
        ([], 400, "invalid_request"),
    ):
        resp = requests.post(f"{miniprogram}/session", json=body, timeout=20)
        assert resp.status_code == status, resp.text
        assert resp.json()["error"] == error and resp.json()["error_description"]
    # The app's ID token is no access token, and the backend is not the app.
    resp = requests.post(f"{miniprogram}/session",
                         json={"app_access_token": app.stored()["id_token"]}, timeout=20)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_token", resp.text
    assert requests.get(f"{miniprogram}/nowhere", timeout=20).json()["error"] == "not_found"


# --- QR sign-in approved by the app --------------------------------------------------------


def _qr_ticket(idp_server: IdpServer) -> tuple[requests.Session, dict[str, Any]]:
    """A browser on the sign-in page that started a QR ticket (as the page's script does)."""
    browser = requests.Session()
    page = browser.get(f"{idp_server.url}/login", timeout=20)
    assert page.status_code == 200
    started = browser.post(f"{idp_server.url}/qr/start", json={"next": "/"},
                           headers={"X-CSRFToken": UserAgent.csrf(page)}, timeout=20)
    assert started.status_code == 200, started.text
    ticket: dict[str, Any] = started.json()
    return browser, ticket


def _qr_status(idp_server: IdpServer, browser: requests.Session, ticket_id: str) -> str:
    resp = browser.get(f"{idp_server.url}/qr/status", params={"ticket": ticket_id}, timeout=20)
    return str(resp.json()["status"])


def test_app_approves_a_qr_sign_in(idp_server, app, signed_in):
    browser, ticket = _qr_ticket(idp_server)
    qr_url = f"{idp_server.url}/qr/{ticket['ticket_id']}"
    approved = app.json("approve-qr", qr_url)
    assert approved["scan"]["status"] == "scanned" and approved["scan"]["browser"]
    assert approved["result"]["status"] == "confirmed"
    assert _qr_status(idp_server, browser, ticket["ticket_id"]) == "confirmed"


def test_app_denies_a_qr_sign_in(idp_server, app, signed_in):
    browser, ticket = _qr_ticket(idp_server)
    # A bare ticket id may start with "-": it goes after "--", the options before it.
    denied = json.loads(app.run("--json", "approve-qr", "--deny", "--", ticket["ticket_id"]).stdout)
    assert denied["result"]["status"] == "denied"
    assert _qr_status(idp_server, browser, ticket["ticket_id"]) == "denied"
    # A decided ticket cannot be approved again: one line, exit 2.
    again = app.run("approve-qr", "--", ticket["ticket_id"], expect=2)
    assert "app API" in again.stderr
