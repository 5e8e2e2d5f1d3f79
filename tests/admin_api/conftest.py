"""Fixtures for the admin API: a staff member of each role with an API token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from idp.container import Services
from idp.staff.roles import ROLE_NAMES

STAFF_PASSWORD = "staff-Password-2026!"  # noqa: S105 — test data


@pytest.fixture
def staff_token(services: Services) -> Callable[[str], str]:
    """``staff_token(role)``: a fresh staff member with that role, and an API token for it."""
    made: dict[str, str] = {}

    def _make(role: str) -> str:
        if role not in made:
            enrolment = services.staff.create(f"{role.replace('_', '-')}-1", f"Test {role}", role,
                                              STAFF_PASSWORD, actor="test")
            made[role], _ = services.staff_tokens.issue(enrolment.staff, "tests", actor="test")
        return made[role]

    return _make


@pytest.fixture
def api(client: Any, staff_token: Callable[[str], str]) -> Callable[..., Any]:
    """``api(method, path, role=..., json=...)``: a call to /admin/api/v1 as that role."""
    def _call(method: str, path: str, *, role: str = "security_admin", **kwargs: Any) -> Any:
        assert role in ROLE_NAMES
        headers = {"Authorization": f"Bearer {staff_token(role)}", **kwargs.pop("headers", {})}
        return client.open("/admin/api/v1" + path, method=method, headers=headers, **kwargs)

    return _call
