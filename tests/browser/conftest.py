"""Real headless Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright.

One browser process per pytest worker, a new empty context (no cookies, English pages) per
test. Playwright never downloads a browser here: ``executable_path`` points at the system one.
Without it the tests skip, or fail when ``CI=true`` (``tests.fixtures.services``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    sync_playwright,
)

from tests.e2e.conftest import citizen, register  # noqa: F401 — the e2e fixtures, shared
from tests.fixtures.services import service_unavailable

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        service_unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
    except Exception:
        playwright.stop()
        raise
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    ctx = chromium.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any console error (a CSP violation is one) or any
    failed request, except the browser's own favicon request (the IdP has no favicon)."""
    page = context.new_page()
    errors: list[str] = []

    def console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"console: {msg.text} ({msg.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda exc: errors.append(f"script: {exc}"))
    page.on("response", lambda r: errors.append(f"{r.status} {r.request.method} {r.url}")
            if r.status >= 400 else None)
    yield page
    assert errors == [], errors


@pytest.fixture(scope="module")
def portal_site() -> Iterator[str]:
    """A stand-in department portal on loopback: any page it is sent to answers 200 (a
    Playwright route would not see the IdP's redirect to it)."""

    class Portal(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 — the http.server hook name
            body = b"<!doctype html><title>portal</title><p>portal callback</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
