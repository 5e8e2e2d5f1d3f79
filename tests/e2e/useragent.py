"""A scripted citizen with a browser-like cookie jar, speaking real HTTP to ``idp serve``.

It fills the sign-in and consent forms by their public field names (DESIGN.md §6: ``username``,
``password``, ``csrf_token``; consent button ``decision=allow``) and never follows a redirect to
the relying party, so tests read the authorization response from the ``Location`` header.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    return verifier, challenge


@dataclass
class AuthResponse:
    location: str
    params: dict[str, str]

    @property
    def code(self) -> str | None:
        return self.params.get("code")


class UserAgent:
    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = requests.Session()
        self.pages: list[requests.Response] = []
        self.sign_ins = 0  # how many times the sign-in form was filled

    def _get(self, url: str, **kw: Any) -> requests.Response:
        resp = self.http.get(urljoin(self.base, url), allow_redirects=False, timeout=20, **kw)
        self.pages.append(resp)
        return resp

    def _post(self, url: str, data: dict[str, str], **kw: Any) -> requests.Response:
        resp = self.http.post(
            urljoin(self.base, url), data=data, allow_redirects=False, timeout=20, **kw
        )
        self.pages.append(resp)
        return resp

    @staticmethod
    def csrf(resp: requests.Response) -> str:
        found = CSRF.search(resp.text)
        assert found, f"no csrf_token on page {resp.url}: {resp.status_code}"
        return found.group(1)

    def is_ours(self, location: str) -> bool:
        return location.startswith("/") or location.startswith(self.base)

    def authorize(
        self,
        params: dict[str, str] | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        consent: str | None = "allow",
        method: str = "GET",
        max_hops: int = 10,
    ) -> AuthResponse:
        """Run an authorization request through sign-in/consent until it leaves the IdP."""
        resp = self.visit(params, username=username, password=password, consent=consent,
                          method=method, max_hops=max_hops)
        if resp.status_code in (301, 302, 303):
            location = resp.headers["Location"]
            query = parse_qs(urlsplit(location).query)
            return AuthResponse(location, {k: v[0] for k, v in query.items()})
        raise AssertionError(f"stuck at {resp.status_code} {resp.url}: {resp.text[:500]}")

    def visit(
        self,
        params: dict[str, str] | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        consent: str | None = None,
        method: str = "GET",
        max_hops: int = 10,
    ) -> requests.Response:
        """Send an authorization request and follow it inside the IdP, signing in (once) and
        deciding consent when told to. Returns the redirect that leaves the IdP, or the first
        page it was not told how to handle (a sign-in form without credentials, the consent
        page with ``consent=None``, an error page)."""
        if method == "GET":
            resp = self._get("/authorize", params=params)
        else:
            resp = self._post("/authorize", data=params or {})
        for _ in range(max_hops):
            if resp.status_code in (301, 302, 303):
                location = resp.headers["Location"]
                if not self.is_ours(location):
                    return resp
                resp = self._get(location)
                continue
            if resp.status_code == 200 and 'name="password"' in resp.text and username:
                resp = self._post(
                    self._form_action(resp, "/login"),
                    data={
                        "csrf_token": self.csrf(resp),
                        "username": username,
                        "password": password or "",
                        "next": self._hidden(resp, "next"),
                    },
                )
                username = None  # sign in once per call
                self.sign_ins += 1
                continue
            if resp.status_code == 200 and 'name="decision"' in resp.text and consent:
                resp = self._post(
                    self._form_action(resp, "/authorize"),
                    data={"csrf_token": self.csrf(resp), "decision": consent},
                )
                consent = None  # decide once per call
                continue
            return resp
        raise AssertionError("too many hops")

    @staticmethod
    def _hidden(resp: requests.Response, name: str) -> str:
        found = re.search(rf'name="{name}" value="([^"]*)"', resp.text)
        return _unescape(found.group(1)) if found else ""

    @staticmethod
    def _form_action(resp: requests.Response, default: str) -> str:
        found = re.search(r'<form method="post" action="([^"]*)"', resp.text)
        return _unescape(found.group(1)) if found else default

    def login(self, username: str, password: str) -> requests.Response:
        page = self._get("/login")
        return self._post(
            "/login",
            data={
                "csrf_token": self.csrf(page),
                "username": username,
                "password": password,
                "next": "/",
            },
        )


def _unescape(value: str) -> str:
    return (
        value.replace("&amp;", "&")
        .replace("&#34;", '"')
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
    )
