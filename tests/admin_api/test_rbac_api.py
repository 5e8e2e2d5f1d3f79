"""RBAC over the admin API: every operation of the OpenAPI document × every role.

The expected answer comes from two independent places — the permission the document names for
the operation (``x-permission``) and the role table (:data:`idp.staff.roles.ROLES`) — and the
call is made for real: an allowed role gets past the check (any answer but 401/403), a forbidden
one gets 403 and *nothing* changes (every change writes an audit entry, so the audit head must
not move, and the objects the call names are as they were).
"""

from __future__ import annotations

from typing import Any

import pytest

from idp.clients import NewClient
from idp.container import Services
from idp.sessions.ending import session_ref
from idp.staff.roles import ROLE_NAMES, ROLES, SECURITY_ADMIN
from idp.store.models import Client
from idp.web.admin_api.openapi import document
from tests.admin_api.conftest import STAFF_PASSWORD
from tests.factories import make_citizen

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the matrix is big

BODIES: dict[str, dict[str, Any]] = {
    "StaffCreate": {"username": "new-member", "display_name": "新成员", "role": "auditor",
                    "password": STAFF_PASSWORD},
    "StaffChange": {"role": "helpdesk"},
    "KeyRotate": {"algs": ["ES256"]},
    "Reason": {"reason": "test"},
    "ClientCreate": {"name": "RBAC portal", "channel": "website",
                     "redirect_uris": ["https://rbac.example.gov.cn/cb"]},
    "ClientChange": {"name": "Renamed portal"},
    "ClientPermissions": {"id_card": True},
    "SecretRotate": {"grace": 60},
    "InitialTokenCreate": {"label": "dept", "max_uses": 1},
    "CitizenSearch": {"query": "{id_number}"},
    "Verification": {"verification": "counter ticket 42"},
}

OPERATIONS = [(path, method, op) for path, item in document()["paths"].items()
              for method, op in item.items()]


def _expected(permission: str, role: str) -> bool:
    return permission == "-" or permission in ROLES[role]


def _world(services: Services) -> dict[str, str]:
    citizen = make_citizen(services)
    session = services.sso.start(citizen.sub, amr=["pwd"], acr="L1")
    pending, _ = services.clients.create(NewClient(
        name="Pending portal", channel="website",
        redirect_uris=("https://pending.example.gov.cn/cb",)), actor="test")
    with services.sessions.begin() as db:
        row = db.get(Client, pending.client_id)
        assert row is not None
        row.status = "pending"
    services.clients.invalidate()
    other = services.staff.create("other-member", "Other", "helpdesk", STAFF_PASSWORD,
                                  actor="test")
    kid = next(k.kid for k in services.keys.list_keys() if k.state == "active")
    token_id = "1"
    if hasattr(services, "initial_tokens"):
        _, row_ = services.initial_tokens.issue(label="rbac", ttl=3600, max_uses=1,
                                                actor="test")
        token_id = str(row_.id)
    return {"sub": citizen.sub, "ref": session_ref(session.sid), "id_number": citizen.id_number,
            "client_id": pending.client_id, "kid": kid,
            "staff_id": other.staff.id, "token_id": token_id}


def _head(services: Services) -> int:
    return services.audit.anchor().seq


@SQLITE_ONLY
@pytest.mark.parametrize("role", ROLE_NAMES)
@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS,
                         ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS])
def test_each_role_is_allowed_exactly_what_its_permissions_say(
        api: Any, services: Services, staff_token: Any, role: str, path: str, method: str,
        op: dict[str, Any]) -> None:
    world = _world(services)
    staff_token(role)  # made before the head is read: only the call itself may write
    url = path.format(**world)
    kwargs: dict[str, Any] = {}
    if "requestBody" in op:
        schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = {k: v.format(**world) if isinstance(v, str) else v
                for k, v in BODIES[schema.rsplit("/", 1)[1]].items()}
        kwargs["json"] = body
    before = _head(services)
    response = api(method.upper(), url, role=role, **kwargs)
    if _expected(op["x-permission"], role):
        assert response.status_code not in (401, 403), response.get_json()
        assert response.status_code < 500
    else:
        assert response.status_code == 403, response.get_json()
        body = response.get_json()
        assert body["error"] == "forbidden" and op["x-permission"] in body["error_description"]
        assert _head(services) == before, "a forbidden call wrote to the audit trail"
        assert services.clients.get(world["client_id"]) is not None
        assert services.accounts.get(world["sub"]).status == "active"
        assert services.sso.for_account(world["sub"])


def test_the_matrix_covers_every_role_and_a_permission_per_operation() -> None:
    assert set(ROLE_NAMES) == {"security_admin", "auditor", "helpdesk"}
    assert all(op.get("x-permission") for _, _, op in OPERATIONS)
    # The security admin may do everything but read what it does not run: nothing forbidden.
    assert all(_expected(op["x-permission"], SECURITY_ADMIN) for _, _, op in OPERATIONS)
    # The auditor only reads the trail; the helpdesk only looks up, unlocks and resets.
    assert {op["x-permission"] for _, _, op in OPERATIONS
            if _expected(op["x-permission"], "auditor")} == {"-", "audit:read"}
    assert {op["x-permission"] for _, _, op in OPERATIONS
            if _expected(op["x-permission"], "helpdesk")} == {
        "-", "citizens:read", "citizens:unlock", "citizens:reset-factors"}
