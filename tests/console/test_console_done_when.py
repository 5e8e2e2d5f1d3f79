"""Issue 6, "Done when", through the console's pages (Flask test client, SQLite and PostgreSQL):
a new user signs in as the bootstrap admin with TOTP, rotates the keys, approves a client,
ends a citizen's sessions and verifies the audit chain — and each step left its audit entry
with the admin as actor (``staff:<username>``)."""

from __future__ import annotations

import re

import pytest

from idp.clients import NewClient
from idp.keys import KeyService
from idp.staff.roles import SECURITY_ADMIN
from tests.console.conftest import Console
from tests.factories import make_citizen


@pytest.mark.skipif(not hasattr(KeyService, "rotate"), reason="key rotation not there yet")
def test_bootstrap_admin_rotates_approves_ends_sessions_and_verifies(console: Console,
                                                                     make_member, services):
    # Bootstrap, as `idp staff create` does it; the first code confirms the factor.
    admin = make_member(SECURITY_ADMIN, "boot-admin")
    assert console.login(admin).status_code == 302
    assert services.staff.get(admin.id).totp_confirmed  # type: ignore[union-attr]
    home = console.text("/console/")
    assert "boot-admin" in home and "安全管理员" in home

    # Keys: rotate; the next key of each algorithm appears in the table.
    before = {k.kid for k in services.keys.list_keys()}
    rotated = console.post("/console/keys/rotate", {"alg": ["RS256", "ES256"]})
    assert rotated.status_code == 302 and rotated.headers["Location"].endswith("/console/keys")
    keys_page = console.text("/console/keys")
    fresh = [k for k in services.keys.list_keys() if k.kid not in before]
    assert {k.alg for k in fresh} == {"RS256", "ES256"} and {k.state for k in fresh} == {"next"}
    assert all(k.kid in keys_page for k in fresh) and "下一个密钥已发布" in keys_page

    # Clients: a department's registration waits; the admin approves it.
    pending, _ = services.clients.create(NewClient(
        name="某区人社局门户", channel="website",
        redirect_uris=("https://rs.example.gov.cn/callback",)), actor="dcr", status="pending")
    listing = console.text("/console/clients")
    assert listing.index("某区人社局门户") < listing.index("</tbody>")
    approved = console.post(f"/console/clients/{pending.client_id}/approve")
    assert approved.status_code == 302
    page = console.text(f"/console/clients/{pending.client_id}")
    assert "客户端已批准" in page
    services.clients.invalidate()
    assert services.clients.get(pending.client_id).status == "active"  # type: ignore[union-attr]

    # Sessions: find the citizen by ID number, see the sessions, end them all.
    citizen = make_citizen(services)
    for _ in range(2):
        services.sso.start(citizen.sub, amr=["pwd"], acr="L1")
    found = console.post("/console/citizens/search", {"query": citizen.id_number})
    assert found.status_code == 302
    assert citizen.id_number not in found.headers["Location"]
    detail = console.text(found.headers["Location"])
    assert citizen.id_number not in detail
    masked = citizen.id_number[:4] + "**********" + citizen.id_number[-4:]
    assert masked in detail and len(re.findall(r'<tr>\s*<th scope="row"><code>', detail)) == 2
    ended = console.post(f"/console/citizens/{citizen.sub}/sessions/end-all")
    assert ended.status_code == 302
    assert "2 个会话已结束" in console.text(ended.headers["Location"])
    assert services.sso.for_account(citizen.sub) == []

    # Audit: verify the chain — intact.
    verified = console.post("/console/audit/verify")
    assert verified.status_code == 302
    assert "审计链完整" in console.text(verified.headers["Location"])

    tags = [e.tag for e in services.audit.events(actor="staff:boot-admin", limit=200)]
    for expected in ("staff:login:success", "key:rotate", "client:approve:success",
                     "session:end:success", "audit:verify"):
        assert expected in tags, (expected, tags)
    assert tags.count("session:end:success") == 2
    assert services.audit.verify().ok
