"""The two parties of scan-to-login, scripted over real HTTP against ``idp serve``.

* :class:`CitizenApp` — the 一网通办 app: signs in once as the public demo client ``demo-app``
  (code + PKCE, loopback redirect) and calls the QR approval API with its access token.
* :class:`QrBrowser` — a browser on the sign-in page doing what ``static/qr-login.js`` does:
  start a ticket, poll its status, complete the sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from tests.e2e.oidc_client import Login, RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer

APP_CLIENT = "demo-app"
APP_REDIRECT = "http://127.0.0.1/callback"
APP_SCOPE = "openid profile phone offline_access"


@dataclass
class CitizenApp:
    server: IdpServer
    login: Login
    http: requests.Session

    @classmethod
    def sign_in(cls, server: IdpServer, citizen: dict[str, Any]) -> CitizenApp:
        """A fresh app install: its own sign-in, so its own SSO session (``sid``)."""
        rp = RelyingParty(server, APP_CLIENT, None, APP_REDIRECT)
        login = rp.login(UserAgent(server.url), citizen, APP_SCOPE, auth="none", pkce=True)
        return cls(server, login, requests.Session())

    @property
    def access_token(self) -> str:
        return str(self.login.tokens["access_token"])

    @property
    def sid(self) -> str:
        return str(self.login.id_claims["sid"])

    def call(self, path: str, body: Any = None, *, token: str | None = None,
             data: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.access_token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return self.http.post(f"{self.server.url}{path}", json=body, data=data,
                              headers=headers, timeout=20)

    def scan(self, ticket_id: str) -> requests.Response:
        return self.call("/api/qr/scan", {"ticket_id": ticket_id})

    def confirm(self, ticket_id: str, decision: str = "allow") -> requests.Response:
        return self.call("/api/qr/confirm", {"ticket_id": ticket_id, "decision": decision})


class QrBrowser:
    """A browser (cookie jar, English pages) on the sign-in page, speaking the page's JSON."""

    def __init__(self, server: IdpServer) -> None:
        self.server = server
        self.agent = UserAgent(server.url)
        self.http = self.agent.http
        self.http.headers["Accept-Language"] = "en"
        self.csrf_token = ""

    def open_login(self, next_url: str | None = None) -> requests.Response:
        query = "?" + urlencode({"next": next_url}) if next_url else ""
        page = self.http.get(f"{self.server.url}/login{query}", timeout=20)
        assert page.status_code == 200, page.text[:300]
        self.csrf_token = UserAgent.csrf(page)
        return page

    def start(self, next_url: str | None = "/") -> dict[str, Any]:
        if not self.csrf_token:
            self.open_login(next_url)
        resp = self.post("/qr/start", {"next": next_url} if next_url else {})
        assert resp.status_code == 200, resp.text[:300]
        data: dict[str, Any] = resp.json()
        return data

    def post(self, path: str, body: Any, *, csrf: bool = True) -> requests.Response:
        headers = {"X-CSRFToken": self.csrf_token} if csrf else {}
        return self.http.post(f"{self.server.url}{path}", json=body, headers=headers,
                              timeout=20)

    def status(self, ticket_id: str) -> requests.Response:
        return self.http.get(f"{self.server.url}/qr/status", params={"ticket": ticket_id},
                             timeout=20)

    def complete(self, ticket_id: str) -> requests.Response:
        return self.post("/qr/complete", {"ticket_id": ticket_id})

    def home(self) -> requests.Response:
        return self.http.get(f"{self.server.url}/", allow_redirects=False, timeout=20)
