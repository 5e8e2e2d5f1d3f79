"""Fixtures for the staff console: services on a clock the tests move (TOTP steps, idle
limits), staff members of each role, and :class:`Console` — a test client that signs in with
the password and the authenticator code and posts forms with their CSRF token (Flask's
``AuthActions`` pattern)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest

from idp.container import Services, build_services
from tests.fixtures.services import FakeClock

STAFF_PASSWORD = "console-Password-2026!"  # noqa: S105 — test data
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def services(settings: Any, clock: FakeClock) -> Iterator[Services]:
    svc = build_services(settings, create_keys=True, clock=clock)
    svc.keys.ensure_keys()
    yield svc
    svc.close()


@dataclass
class Member:
    id: str
    username: str
    role: str
    secret: str
    password: str = STAFF_PASSWORD

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"


@pytest.fixture
def make_member(services: Services) -> Callable[..., Member]:
    """``make_member(role, username=None)``: a new staff member (created by ``cli``)."""
    def _make(role: str, username: str | None = None) -> Member:
        name = username or role.replace("_", "-") + "-1"
        enrolment = services.staff.create(name, f"测试 {role}", role, STAFF_PASSWORD,
                                          actor="cli")
        return Member(enrolment.staff.id, name, role, enrolment.secret)
    return _make


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


class Console:
    """The console through the Flask test client, signed in as one staff member."""

    def __init__(self, client: Any, clock: FakeClock) -> None:
        self.client = client
        self.clock = clock

    def code(self, member: Member) -> str:
        return pyotp.TOTP(member.secret).at(self.clock.now)

    def login(self, member: Member, *, code: str | None = None,
              password: str | None = None) -> Any:
        response = self.client.post("/console/login", data={
            "csrf_token": self.token(), "username": member.username,
            "password": member.password if password is None else password,
            "code": self.code(member) if code is None else code})
        self.clock.advance(30)  # the next sign-in uses the next TOTP step (replay guard)
        return response

    def token(self) -> str:
        """A CSRF token of this browser's session (from any page with a form)."""
        page = self.client.get("/console/login")
        if page.status_code == 302:  # signed in: the sign-in page sends us on
            page = self.client.get("/console/tokens")
        return csrf_of(page.get_data(as_text=True))

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.post(path, data={"csrf_token": self.token(), **(data or {})},
                                **kwargs)

    def text(self, path: str) -> str:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return str(response.get_data(as_text=True))


@pytest.fixture
def console(client: Any, clock: FakeClock) -> Console:
    return Console(client, clock)


@pytest.fixture
def signed_in(console: Console, make_member: Callable[..., Member]) -> Callable[[str], Member]:
    """``signed_in(role)``: a new member of that role, signed in to ``console``."""
    def _sign_in(role: str) -> Member:
        member = make_member(role)
        response = console.login(member)
        assert response.status_code == 302, response.get_data(as_text=True)
        assert response.headers["Location"].endswith("/console/")
        return member
    return _sign_in
