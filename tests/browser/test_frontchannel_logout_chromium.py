"""Front-channel logout (Front-Channel Logout 1.0 §4) in real headless Chromium, on both stacks:
a portal signs the citizen in through the code flow, then sends the browser to
``end_session_endpoint``; the IdP's page loads the portal's ``frontchannel_logout_uri`` (with
``iss`` and ``sid``) in a hidden iframe — allowed by that page's CSP ``frame-src``, or the page
fixture would see the violation — and its script goes on to the ``post_logout_redirect_uri``
with ``state``. A portal that never answers does not keep the citizen: after 3 s the page goes
on regardless."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
from playwright.sync_api import Page

from tests.fixtures.listener import jwt_parts

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Hit:
    path: str
    query: dict[str, list[str]]
    fetch_dest: str | None
    at: float


class PortalSite:
    """A department portal on loopback: every GET answers a small page (framing allowed) and
    is recorded — the callback, the front-channel logout URI and the signed-out page. A path
    under ``/stuck`` is recorded and then never answered (until the site closes)."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 — the http.server hook name
                parts = urlsplit(self.path)
                with site._lock:
                    site.hits.append(Hit(parts.path, parse_qs(parts.query),
                                         self.headers.get("Sec-Fetch-Dest"), time.monotonic()))
                if parts.path.startswith("/stuck"):
                    site._closing.wait(30)
                    return
                body = b"<!doctype html><title>portal</title><p>portal page</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def at(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def portal_site() -> Iterator[PortalSite]:
    site = PortalSite()
    yield site
    site.close()


def sign_in_through_the_portal(page: Page, portal, portal_site: PortalSite, citizen) -> dict:
    """The code flow in the browser; the test plays the portal's back-end (redeem, verify)."""
    req = portal.auth_request("openid", pkce=True)
    page.goto(f"{portal.server.url}/authorize?{urlencode(req.params)}")
    page.fill("#username", citizen["username"])
    page.fill("#password", citizen["password"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{portal_site.url}/cb?*")
    params = dict(parse_qsl(urlsplit(page.url).query))
    assert params["state"] == req.state and params["iss"] == portal.issuer
    tokens = portal.redeem(params["code"], req)
    portal.verify_id_token(tokens["id_token"], nonce=req.nonce,
                           access_token=tokens["access_token"])
    return tokens


def test_end_session_tells_the_portal_in_an_iframe_then_returns_with_state(
        idp_server, citizen, page, register, portal_site):
    portal = register("--frontchannel-logout-uri", f"{portal_site.url}/frontchannel",
                      "--post-logout-redirect-uri", f"{portal_site.url}/signed-out",
                      redirect_uri=f"{portal_site.url}/cb")
    tokens = sign_in_through_the_portal(page, portal, portal_site, citizen)
    sid = jwt_parts(tokens["id_token"])[1]["sid"]
    assert portal_site.at("/frontchannel") == []

    query = urlencode({"id_token_hint": tokens["id_token"], "state": "bye-1",
                       "post_logout_redirect_uri": f"{portal_site.url}/signed-out"})
    page.goto(f"{portal.endpoint('end_session')}?{query}", wait_until="commit")
    page.wait_for_url(f"{portal_site.url}/signed-out?state=bye-1")

    [told] = portal_site.at("/frontchannel")
    assert told.query == {"iss": [portal.issuer], "sid": [sid]}
    assert told.fetch_dest == "iframe"
    [back] = portal_site.at("/signed-out")
    assert back.query == {"state": ["bye-1"]}
    assert back.at - told.at < 2.5, "went on by the 3 s timeout, not the iframe's load event"
    assert portal.userinfo(tokens["access_token"]).status_code == 401  # the session ended


def test_sign_out_button_goes_on_after_3_s_when_a_portal_never_answers(
        idp_server, citizen, page, register, portal_site):
    portal = register("--frontchannel-logout-uri", f"{portal_site.url}/stuck/frontchannel",
                      redirect_uri=f"{portal_site.url}/cb")
    tokens = sign_in_through_the_portal(page, portal, portal_site, citizen)
    page.goto(f"{idp_server.url}/")
    started = time.monotonic()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{idp_server.url}/login")
    waited = time.monotonic() - started
    [told] = portal_site.at("/stuck/frontchannel")
    assert told.query == {"iss": [portal.issuer], "sid": [jwt_parts(tokens["id_token"])[1]["sid"]]}
    assert 2.9 <= waited < 10, waited
