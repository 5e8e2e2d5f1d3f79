"""The admin API fuzzed from its own OpenAPI document (schemathesis): no 5xx, ever.

Schemathesis reads the document the app serves (``idp.web.admin_api.openapi.document``, the
same dict ``/admin/api/v1/openapi.json`` returns) and, for every operation, generates valid and
invalid requests (bodies, path and query parameters) and sends them to the app with a security
admin's token — the role that may call everything, so every request reaches its view. Beyond
"no server error" it checks that answers are JSON as documented, carry documented status codes
and, for successes, match the documented response schema.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from idp.web.admin_api.openapi import document
from tests.factories import make_citizen

schema = schemathesis.openapi.from_dict(document())


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the fuzzer sends hundreds of requests; the backends are compared elsewhere."""
    path = tmp_path / "idp.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def admin_app(app: Any, services: Any, staff_token: Any) -> tuple[Any, str]:
    make_citizen(services)  # something to find, lock and reset
    return app, staff_token("security_admin")


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_admin_api_never_answers_5xx(case: Any, admin_app: tuple[Any, str]) -> None:
    app, token = admin_app
    case.call_and_validate(
        app=app, base_url="http://localhost/admin/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance])
