"""RBAC over the console's pages (issue 6: "each role's allowed and forbidden actions, over the
API and the pages" — this is the pages half; tests/admin_api/test_rbac_api.py is the API half).

Every console route × every role, made for real by a signed-in member of that role. The
expectation comes from the permission this table names for the route and the role table
(:data:`idp.staff.roles.ROLES`): an allowed role gets its page or its redirect (never the
sign-in page, never a 403 or a 500); a forbidden one gets the 403 page naming the roles that
may, and *nothing* changes — every change writes an audit entry, so the audit head must not
move, and the objects the route names are as they were. A last test checks that the table
lists every console route the app has.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from idp.clients import NewClient
from idp.container import Services
from idp.keys import KeyService
from idp.sessions.ending import session_ref
from idp.staff import roles as rbac
from idp.staff.roles import ROLE_NAMES, ROLES
from tests.console.conftest import STAFF_PASSWORD, Console, Member
from tests.factories import make_citizen, make_client

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the matrix is big
ANYONE = None  # signed in, any role

# method, path (format fields from the world), permission, form data (format fields too)
ROUTES: list[tuple[str, str, str | None, dict[str, str]]] = [
    ("GET", "/console/", ANYONE, {}),
    ("GET", "/console/tokens", ANYONE, {}),
    ("POST", "/console/tokens", ANYONE, {"name": "rbac", "days": "1"}),
    ("POST", "/console/tokens/{api_token_id}/revoke", ANYONE, {}),
    ("POST", "/console/logout", ANYONE, {}),
    ("GET", "/console/keys", rbac.KEYS_READ, {}),
    ("POST", "/console/keys/rotate", rbac.KEYS_MANAGE, {"alg": "ES256"}),
    ("POST", "/console/keys/{kid}/retire", rbac.KEYS_MANAGE, {"confirm": "{kid}"}),
    ("POST", "/console/keys/{kid}/revoke", rbac.KEYS_MANAGE,
     {"confirm": "{kid}", "reason": "rbac test"}),
    ("GET", "/console/clients", rbac.CLIENTS_READ, {}),
    ("GET", "/console/clients/{client_id}", rbac.CLIENTS_READ, {}),
    ("POST", "/console/clients/{pending_id}/approve", rbac.CLIENTS_MANAGE, {}),
    ("POST", "/console/clients/{client_id}/edit", rbac.CLIENTS_MANAGE,
     {"name": "Renamed portal", "channel": "website",
      "redirect_uris": "https://portal.example.gov.cn/callback"}),
    ("POST", "/console/clients/{client_id}/suspend", rbac.CLIENTS_MANAGE, {}),
    ("POST", "/console/clients/{client_id}/resume", rbac.CLIENTS_MANAGE, {}),
    ("POST", "/console/clients/{client_id}/permissions", rbac.CLIENTS_MANAGE, {"id_card": "yes"}),
    ("POST", "/console/clients/{client_id}/rotate-secret", rbac.CLIENTS_MANAGE, {"grace": "60"}),
    ("POST", "/console/clients/{client_id}/delete", rbac.CLIENTS_MANAGE,
     {"confirm": "{client_id}"}),
    ("GET", "/console/initial-tokens", rbac.CLIENTS_MANAGE, {}),
    ("POST", "/console/initial-tokens", rbac.CLIENTS_MANAGE, {"label": "dept", "days": "7"}),
    ("POST", "/console/initial-tokens/{initial_token_id}/revoke", rbac.CLIENTS_MANAGE, {}),
    ("GET", "/console/citizens", rbac.CITIZENS_READ, {}),
    ("POST", "/console/citizens/search", rbac.CITIZENS_READ, {"query": "{id_number}"}),
    ("GET", "/console/citizens/{sub}", rbac.CITIZENS_READ, {}),
    ("POST", "/console/citizens/{sub}/sessions/{ref}/end", rbac.SESSIONS_END, {}),
    ("POST", "/console/citizens/{sub}/sessions/end-all", rbac.SESSIONS_END, {}),
    ("POST", "/console/citizens/{sub}/lock", rbac.CITIZENS_LOCK, {"reason": "rbac test"}),
    ("POST", "/console/citizens/{locked_sub}/unlock", rbac.CITIZENS_UNLOCK,
     {"reason": "rbac test"}),
    ("POST", "/console/citizens/{sub}/reset-factors", rbac.CITIZENS_RESET_FACTORS,
     {"verification": "ID card checked at counter 3"}),
    ("GET", "/console/audit", rbac.AUDIT_READ, {}),
    ("POST", "/console/audit/verify", rbac.AUDIT_READ, {}),
    ("GET", "/console/audit/anchors", rbac.AUDIT_READ, {}),
    ("POST", "/console/audit/anchors", rbac.AUDIT_ANCHOR, {}),
    ("GET", "/console/staff", rbac.STAFF_MANAGE, {}),
    ("POST", "/console/staff", rbac.STAFF_MANAGE,
     {"username": "new-member", "display_name": "新成员", "role": "auditor",
      "password": STAFF_PASSWORD}),
    ("POST", "/console/staff/{other_staff_id}/role", rbac.STAFF_MANAGE, {"role": "auditor"}),
    ("POST", "/console/staff/{other_staff_id}/status", rbac.STAFF_MANAGE,
     {"status": "disabled"}),
    ("POST", "/console/staff/{other_staff_id}/reset-totp", rbac.STAFF_MANAGE,
     {"confirm": "{other_username}"}),
]
KEY_CHANGES = ("/rotate", "/retire", "/revoke")
needs_key_lifecycle = pytest.mark.skipif(
    not hasattr(KeyService, "rotate"), reason="KeyService.rotate/retire/revoke not there yet")


def _world(services: Services, member: Member) -> dict[str, str]:
    citizen = make_citizen(services)
    session = services.sso.start(citizen.sub, amr=["pwd"], acr="L1")
    locked = make_citizen(services)
    services.accounts.set_status(locked.sub, "locked", actor="test", reason="test")
    pending, _ = services.clients.create(NewClient(
        name="Pending portal", channel="website",
        redirect_uris=("https://pending.example.gov.cn/cb",)), actor="test", status="pending")
    active = make_client(services)
    other = services.staff.create("other-member", "Other", "helpdesk", STAFF_PASSWORD,
                                  actor="test")
    _, initial = services.initial_tokens.issue(label="rbac", ttl=3600, max_uses=1, actor="test")
    record = services.staff.get(member.id)
    assert record is not None
    _, api_token = services.staff_tokens.issue(record, "mine", actor="test")
    kid = next(k.kid for k in services.keys.list_keys() if k.state == "active")
    return {"sub": citizen.sub, "ref": session_ref(session.sid), "id_number": citizen.id_number,
            "locked_sub": locked.sub, "pending_id": pending.client_id,
            "client_id": active.client_id, "other_staff_id": other.staff.id,
            "other_username": other.staff.username, "initial_token_id": str(initial.id),
            "api_token_id": str(api_token.id), "kid": kid}


def _snapshot(services: Services, world: dict[str, str], member: Member) -> dict[str, Any]:
    """Everything a console route could change, as plain values."""
    path = services.settings.audit_anchor_path
    return {
        "audit_head": services.audit.anchor().seq,
        "anchors": path.read_text() if path.exists() else "",
        "clients": sorted(repr((c.client_id, c.status, c.name, c.redirect_uris, c.scopes,
                                c.secret_digest, sorted(c.extra.items())))
                          for c in services.clients.list()),
        "keys": sorted((k.kid, k.state) for k in services.keys.list_keys()),
        "staff": sorted((s.id, s.role, s.status, s.totp_confirmed) for s in services.staff.list()),
        "citizens": [(services.accounts.get(world[k]).status,  # type: ignore[union-attr]
                      len(services.sso.for_account(world[k]))) for k in ("sub", "locked_sub")],
        "factors": services.mfa.status(world["sub"]).enrolled,
        "initial_tokens": sorted((t.id, t.revoked_at is not None, t.uses)
                                 for t in services.initial_tokens.list()),
        "api_tokens": [(t.id, t.revoked) for t in services.staff_tokens.list(member.id)],
    }


def _cases() -> list[Any]:
    cases = []
    for method, path, permission, data in ROUTES:
        for role in ROLE_NAMES:
            marks = [needs_key_lifecycle] if any(k in path for k in KEY_CHANGES) else []
            cases.append(pytest.param(method, path, permission, data, role, marks=marks,
                                      id=f"{method} {path} as {role}"))
    return cases


def _allowed(permission: str | None, role: str) -> bool:
    return permission is ANYONE or permission in ROLES[role]


@SQLITE_ONLY
@pytest.mark.parametrize(("method", "path", "permission", "data", "role"), _cases())
def test_route_for_role(method: str, path: str, permission: str | None, data: dict[str, str],
                        role: str, console: Console, signed_in: Callable[[str], Member],
                        services: Services) -> None:
    member = signed_in(role)
    world = _world(services, member)
    url = path.format(**world)
    form = {k: v.format(**world) for k, v in data.items()}
    before = _snapshot(services, world, member)
    response = console.get(url) if method == "GET" else console.post(url, form)
    body = response.get_data(as_text=True)
    assert response.status_code != 500, body
    if _allowed(permission, role):
        assert response.status_code in (200, 302), (response.status_code, body[-2000:])
        if response.status_code == 302 and not url.endswith("/logout"):
            assert "/console/login" not in response.headers["Location"]
        return
    assert response.status_code == 403, (response.status_code, body[-2000:])
    assert "你的角色" in body and "没有做任何更改" in body
    labels = {"security_admin": "安全管理员", "auditor": "审计员", "helpdesk": "服务台"}
    assert all(labels[r] in body for r in ROLE_NAMES if permission in ROLES[r])
    assert _snapshot(services, world, member) == before


@SQLITE_ONLY
def test_the_403_page_names_the_roles_that_may_in_english(console: Console, signed_in) -> None:
    signed_in(rbac.HELPDESK)
    response = console.get("/console/audit?lang=en")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Help desk" in page and "read and verify the audit trail" in page
    assert "Auditor" in page and "Security administrator" in page


@SQLITE_ONLY
@pytest.mark.parametrize("role", ROLE_NAMES)
def test_the_navigation_shows_only_what_the_role_may_use(role: str, console: Console,
                                                         signed_in) -> None:
    signed_in(role)
    page = console.text("/console/?lang=en")
    links = {"/console/keys": rbac.KEYS_READ, "/console/clients": rbac.CLIENTS_READ,
             "/console/initial-tokens": rbac.CLIENTS_MANAGE,
             "/console/citizens": rbac.CITIZENS_READ, "/console/audit": rbac.AUDIT_READ,
             "/console/staff": rbac.STAFF_MANAGE}
    for href, permission in links.items():
        assert (f'href="{href}"' in page) == rbac.allowed(role, permission), href
    assert 'href="/console/tokens"' in page


def test_the_table_covers_every_console_route(app: Any) -> None:
    routes = {(method, re.sub(r"<int\([^)]*\):", "<int:", rule.rule))
              for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("console.") and rule.endpoint != "console.login"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    listed = set()
    for method, path, _, _ in ROUTES:
        rule = path
        for field, converter in (("{api_token_id}", "<int:token_id>"),
                                 ("{initial_token_id}", "<int:token_id>"),
                                 ("{kid}", "<kid>"), ("{pending_id}", "<client_id>"),
                                 ("{client_id}", "<client_id>"), ("{locked_sub}", "<sub>"),
                                 ("{sub}", "<sub>"), ("{ref}", "<ref>"),
                                 ("{other_staff_id}", "<staff_id>")):
            rule = rule.replace(field, converter)
        listed.add((method, rule))
    assert routes == listed, (routes - listed, listed - routes)
