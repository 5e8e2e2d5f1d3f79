"""Browser-like flows against either server, with ``requests``: sign in and consent once, then
authorization codes from the signed-in session, code and refresh exchanges, sign-in forms.

The two servers differ only in their sign-in pages: ours is ``/login`` (``username``,
``password``, ``csrf_token``) and a consent page (``decision=allow``); the peer's is our own
interaction on node-oidc-provider (``/interaction/<uid>/login`` and ``…/confirm``). Both send
the code back by redirecting to the client, which is read from ``Location``, never followed.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

from bench.compare.client import Connection
from bench.compare.config import (
    API_RESOURCE,
    API_SCOPE,
    PORTAL_ID,
    REDIRECT_URI,
    SCOPE,
    Citizen,
)
from bench.compare.servers import Server

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_ACTION = re.compile(r'<form method="post" action="([^"]*)"')
TIMEOUT = 30


class FlowError(RuntimeError):
    """The server answered a step of a flow unexpectedly."""


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def cookie_header(jar: requests.cookies.RequestsCookieJar) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in jar)


@dataclass(frozen=True)
class Code:
    code: str
    verifier: str


@dataclass(frozen=True)
class SignInForm:
    """One prepared sign-in POST: where, the browser's cookies, the form body."""

    path: str
    cookie: str
    body: str


class Browser:
    """A citizen's browser at one server. :meth:`sign_in` once (password, consent); then
    :meth:`code` any number of times, from any thread, with the session's cookies."""

    def __init__(self, server: Server, citizen: Citizen) -> None:
        self.server = server
        self.citizen = citizen
        self.cookie = ""  # the signed-in session's cookies, as a Cookie header

    @property
    def peer(self) -> bool:
        return self.server.name == "peer"

    def params(self, challenge: str, *, api: bool) -> dict[str, str]:
        """An authorization request. ``api``: on the peer, ask for its resource server too,
        so the code's tokens are JWT access tokens (RFC 9068); ours always issues those."""
        params = {"client_id": PORTAL_ID, "response_type": "code", "redirect_uri": REDIRECT_URI,
                  "scope": SCOPE, "state": secrets.token_urlsafe(8),
                  "code_challenge": challenge, "code_challenge_method": "S256"}
        if api and self.peer:
            params["scope"] = f"{SCOPE} {API_SCOPE}"
            params["resource"] = API_RESOURCE
        return params

    def sign_in(self) -> Code:
        """Password and consent, in a fresh browser; returns the first code."""
        http = requests.Session()
        verifier, challenge = pkce_pair()
        params = self.params(challenge, api=True)
        resp = http.get(self.server.metadata["authorization_endpoint"], params=params,
                        allow_redirects=False, timeout=TIMEOUT)
        signed_in = consented = False
        for _ in range(12):
            if resp.status_code in (301, 302, 303):
                location = urljoin(self.server.url + "/", resp.headers["Location"])
                if location.startswith(REDIRECT_URI):
                    self.cookie = cookie_header(http.cookies)
                    return Code(_code_from(location, params["state"]), verifier)
                resp = http.get(location, allow_redirects=False, timeout=TIMEOUT)
            elif resp.status_code == 200 and 'name="password"' in resp.text and not signed_in:
                resp = http.post(self._action(resp, "/login"), data=self._login_fields(resp),
                                 allow_redirects=False, timeout=TIMEOUT)
                signed_in = True
            elif resp.status_code == 200 and "decision" in resp.text and not consented:
                fields = {"decision": "allow"}
                if not self.peer:
                    fields["csrf_token"] = _csrf(resp.text, resp.url)
                resp = http.post(self._action(resp, "/authorize"), data=fields,
                                 allow_redirects=False, timeout=TIMEOUT)
                consented = True
            else:
                break
        raise FlowError(f"{self.server.name}: sign-in stuck at {resp.status_code} {resp.url}: "
                        f"{resp.text[:300]}")

    def _action(self, resp: requests.Response, default: str) -> str:
        found = FORM_ACTION.search(resp.text)
        return urljoin(self.server.url + "/", html.unescape(found.group(1)) if found else default)

    def _login_fields(self, resp: requests.Response) -> dict[str, str]:
        fields = {"username": self.citizen.username, "password": self.citizen.password}
        if not self.peer:
            fields["csrf_token"] = _csrf(resp.text, resp.url)
            found = re.search(r'name="next" value="([^"]*)"', resp.text)
            fields["next"] = html.unescape(found.group(1)) if found else "/"
        return fields

    def code(self, conn: Connection, *, api: bool) -> Code:
        """A code from the signed-in session: one authorization request, no page."""
        verifier, challenge = pkce_pair()
        params = self.params(challenge, api=api)
        answer = conn.get(self.server.path("authorization_endpoint"), params,
                          {"Cookie": self.cookie})
        location = answer.header("Location")
        if answer.status not in (302, 303) or not location.startswith(REDIRECT_URI):
            raise FlowError(f"{self.server.name}: /authorize answered {answer.status} "
                            f"{location[:200]} {answer.text[:200]}")
        return Code(_code_from(location, params["state"]), verifier)

    def sign_in_form(self, conn: Connection) -> SignInForm:
        """A fresh browser's sign-in form, ready to POST with the right password: ours, the
        login page's cookie and CSRF token; the peer's, an interaction begun at /authorize."""
        fields = {"username": self.citizen.username, "password": self.citizen.password}
        if self.peer:
            _, challenge = pkce_pair()
            answer = conn.get(self.server.path("authorization_endpoint"),
                              self.params(challenge, api=False))
            location = answer.header("Location")
            if answer.status != 303 or not location.startswith("/interaction/"):
                raise FlowError(f"peer: /auth answered {answer.status} {location}")
            path = f"{location}/login"
        else:
            answer = conn.get("/login")
            if answer.status != 200:
                raise FlowError(f"ours: /login answered {answer.status}")
            fields = {"csrf_token": _csrf(answer.text, "/login"), **fields}
            path = "/login"
        cookie = answer.cookies()
        if not cookie:
            raise FlowError(f"{self.server.name}: the sign-in page set no cookie")
        return SignInForm(path, cookie, urlencode(fields))


def _csrf(text: str, where: str) -> str:
    found = CSRF.search(text)
    if not found:
        raise FlowError(f"no csrf_token on {where}")
    return found.group(1)


def _code_from(location: str, state: str) -> str:
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    if "code" not in query:
        raise FlowError(f"no code in {location[:300]}")
    if query.get("state") != state:
        raise FlowError(f"state mismatch in {location[:300]}")
    return query["code"]
