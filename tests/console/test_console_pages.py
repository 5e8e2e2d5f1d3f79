"""The console's pages one by one (security administrator unless said otherwise): bad input
gets a clear message in Chinese and English and changes nothing; secrets are shown once and
never again; citizen ID numbers only masked; audit search, paging, verification and anchors."""

from __future__ import annotations

import re
from typing import Any

import pytest

from idp.audit.anchors import AnchorLog
from idp.clients import NewClient
from idp.errors import AuthenticationFailed
from idp.keys import KeyService
from idp.sessions.ending import session_ref
from idp.staff.roles import AUDITOR, HELPDESK, SECURITY_ADMIN
from tests.console.conftest import Console
from tests.factories import id_number, make_citizen, make_client

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
pytestmark = SQLITE_ONLY


def follow(console: Console, response: Any) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    return console.text(response.headers["Location"])


# -- citizens ------------------------------------------------------------------------------
def test_search_bad_input_gets_a_clear_message(console: Console, signed_in, services):
    signed_in(HELPDESK)
    citizen = make_citizen(services)
    wrong = citizen.id_number[:-1] + ("0" if citizen.id_number[-1] != "0" else "1")
    response = console.post("/console/citizens/search", {"query": wrong})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "校验位不正确" in page and wrong not in page  # never echoed
    unknown = console.post("/console/citizens/search", {"query": id_number()})
    assert unknown.status_code == 404 and "没有找到" in unknown.get_data(as_text=True)
    english = console.post("/console/citizens/search?lang=en", {"query": "13900000000"})
    assert "No citizen has that ID number" in english.get_data(as_text=True)
    empty = console.post("/console/citizens/search", {"query": "  "})
    assert empty.status_code == 400


def test_citizen_page_is_masked_and_helpdesk_sees_no_sessions(console: Console, signed_in,
                                                              services):
    signed_in(HELPDESK)
    citizen = make_citizen(services)
    services.sso.start(citizen.sub, amr=["pwd"], acr="L1")
    services.accounts.set_status(citizen.sub, "locked", actor="test")
    found = console.post("/console/citizens/search", {"query": citizen.phone})
    page = follow(console, found)
    assert citizen.id_number not in page and citizen.phone not in page
    assert citizen.phone[:3] + "****" + citizen.phone[-4:] in page
    assert 'id="citizen-sessions"' not in page  # sessions:read is not the help desk's
    assert "解锁账户" in page and "锁定账户" not in page
    unlocked = console.post(f"/console/citizens/{citizen.sub}/unlock", {"reason": "checked"})
    assert "账户已解锁" in follow(console, unlocked)
    assert services.accounts.get(citizen.sub).status == "active"  # type: ignore[union-attr]


def test_reset_factors_needs_the_verification(console: Console, signed_in, services):
    signed_in(HELPDESK)
    citizen = make_citizen(services)
    head = services.audit.anchor().seq
    refused = console.post(f"/console/citizens/{citizen.sub}/reset-factors",
                           {"verification": ""})
    assert "说明在窗口如何核验" in follow(console, refused)
    # Nothing changed: only the page shown again recorded that the clerk looked.
    assert {e.tag for e in services.audit.events(limit=50) if e.seq > head} <= {
        "account:view:success"}
    done = console.post(f"/console/citizens/{citizen.sub}/reset-factors",
                        {"verification": "ID card checked at counter 3, ticket 0042"})
    assert "第二因子已重置" in follow(console, done)
    [event] = services.audit.events(tag="account:factors:reset")
    assert event.actor == "staff:helpdesk-1"


def test_end_one_session_lock_and_failures(console: Console, signed_in, services):
    signed_in(SECURITY_ADMIN)
    citizen = make_citizen(services)
    first = services.sso.start(citizen.sub, amr=["pwd"], acr="L1")
    services.sso.start(citizen.sub, amr=["pwd"], acr="L1")
    with pytest.raises(AuthenticationFailed):
        services.accounts.authenticate(citizen.phone, "wrong-password", ip="10.1.2.3")
    ref = session_ref(first.sid)
    page = console.text(f"/console/citizens/{citizen.sub}")
    assert ref in page and "10.1.2.3" in page
    ended = console.post(f"/console/citizens/{citizen.sub}/sessions/{ref}/end")
    assert "会话已结束" in follow(console, ended)
    assert len(services.sso.for_account(citizen.sub)) == 1
    again = console.post(f"/console/citizens/{citizen.sub}/sessions/{ref}/end")
    assert "已经结束" in follow(console, again)
    no_reason = console.post(f"/console/citizens/{citizen.sub}/lock", {"reason": ""})
    assert "请填写原因" in follow(console, no_reason)
    locked = console.post(f"/console/citizens/{citizen.sub}/lock", {"reason": "stolen phone"})
    assert "账户已锁定" in follow(console, locked)
    assert services.sso.for_account(citizen.sub) == []
    assert console.get("/console/citizens/not-an-account").status_code == 404


# -- clients -------------------------------------------------------------------------------
def test_approving_an_active_client_says_so_and_changes_nothing(console: Console, signed_in,
                                                                services):
    signed_in(SECURITY_ADMIN)
    client = make_client(services)
    head = services.audit.anchor().seq
    response = console.post(f"/console/clients/{client.client_id}/approve")
    page = follow(console, response)
    assert "这个客户端没有在等待批准" in page
    assert services.audit.anchor().seq == head
    english = console.post(f"/console/clients/{client.client_id}/approve?lang=en")
    assert "not waiting for approval" in follow(console, english)
    assert console.get("/console/clients/no-such-client").status_code == 404


def test_client_list_edit_permissions_and_delete(console: Console, signed_in, services):
    signed_in(SECURITY_ADMIN)
    active = make_client(services, name="Active portal")
    services.clients.create(NewClient(name="Waiting portal", channel="website",
                                      redirect_uris=("https://w.example.gov.cn/cb",)),
                            actor="dcr", status="pending")
    listing = console.text("/console/clients")
    assert listing.index("Waiting portal") < listing.index("Active portal")
    only = console.text("/console/clients?status=pending")
    assert "Waiting portal" in only and "Active portal" not in only
    assert console.get("/console/clients?status=bogus").status_code == 404
    bad = console.post(f"/console/clients/{active.client_id}/edit",
                       {"name": "Renamed", "channel": "website",
                        "redirect_uris": "ftp://nope"})
    assert bad.status_code == 400 and "ftp://nope" in bad.get_data(as_text=True)
    ok = console.post(f"/console/clients/{active.client_id}/edit",
                      {"name": "Renamed portal", "channel": "website", "scope": ["openid",
                                                                                  "profile"],
                       "redirect_uris": "https://portal.example.gov.cn/callback\n"})
    assert "设置已保存" in follow(console, ok)
    services.clients.invalidate()
    record = services.clients.get(active.client_id)
    assert record.name == "Renamed portal" and record.scopes == ("openid", "profile")
    allowed = console.post(f"/console/clients/{active.client_id}/permissions",
                           {"id_card": "yes"})
    follow(console, allowed)
    services.clients.invalidate()
    assert services.clients.get(active.client_id).extra.get("id_card_allowed") is True
    wrong = console.post(f"/console/clients/{active.client_id}/delete", {"confirm": "nope"})
    assert "请原样输入" in follow(console, wrong)
    gone = console.post(f"/console/clients/{active.client_id}/delete",
                        {"confirm": active.client_id})
    assert gone.headers["Location"].endswith("/console/clients")
    services.clients.invalidate()
    assert services.clients.get(active.client_id) is None


def test_a_new_client_secret_is_shown_once(console: Console, signed_in, services):
    signed_in(SECURITY_ADMIN)
    client = make_client(services)
    response = console.post(f"/console/clients/{client.client_id}/rotate-secret",
                            {"grace": "600"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    secret = re.search(r'id="secret-value" type="text" readonly value="([^"]+)"', page).group(1)
    services.clients.invalidate()
    record = services.clients.get(client.client_id)
    assert record.check_secret(secret) and record.check_secret(client.secret)  # grace
    assert response.headers["Cache-Control"] == "no-store"
    detail = console.text(f"/console/clients/{client.client_id}")
    assert secret not in detail and record.secret_digest not in detail
    assert "旧密钥在" in detail  # until when the old one still works
    assert "secret" not in response.headers.get("Location", "")
    bad = console.post(f"/console/clients/{client.client_id}/rotate-secret", {"grace": "-1"})
    assert "请输入所示范围内的整数" in follow(console, bad)


def test_initial_access_tokens(console: Console, signed_in, services):
    signed_in(SECURITY_ADMIN)
    response = console.post("/console/initial-tokens", {"label": "某局", "days": "7",
                                                        "max_uses": "2"})
    assert response.status_code == 200
    token = re.search(r'readonly value="([^"]+)"', response.get_data(as_text=True)).group(1)
    assert services.initial_tokens.verify(token).max_uses == 2
    listing = console.text("/console/initial-tokens")
    assert "某局" in listing and token not in listing
    [row] = services.initial_tokens.list()
    revoked = console.post(f"/console/initial-tokens/{row.id}/revoke")
    assert "注册令牌已撤销" in follow(console, revoked)
    bad = console.post("/console/initial-tokens", {"label": "x", "days": "365"})
    assert "请输入所示范围内的整数" in follow(console, bad)
    missing = console.post("/console/initial-tokens/999/revoke")
    assert "没有这个注册令牌" in follow(console, missing)
    for huge in ("9223372036854775808", "99999999999999999999999"):  # past SQL BIGINT: 404
        assert console.post(f"/console/initial-tokens/{huge}/revoke").status_code == 404
        assert console.post(f"/console/tokens/{huge}/revoke").status_code == 404


# -- keys ----------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(KeyService, "rotate"), reason="key rotation not there yet")
def test_keys_unknown_kid_and_confirmation(console: Console, signed_in, services):
    signed_in(SECURITY_ADMIN)
    head = services.audit.anchor().seq
    unknown = console.post("/console/keys/nokid/revoke", {"confirm": "nokid", "reason": "x"})
    page = follow(console, unknown)
    assert "nokid" in page and "未找到" in page
    kid = next(k.kid for k in services.keys.list_keys() if k.state == "active")
    unconfirmed = console.post(f"/console/keys/{kid}/revoke", {"confirm": "", "reason": "x"})
    assert "请原样输入" in follow(console, unconfirmed)
    no_reason = console.post(f"/console/keys/{kid}/revoke", {"confirm": kid})
    assert "请填写原因" in follow(console, no_reason)
    assert services.audit.anchor().seq == head
    retire = console.post(f"/console/keys/{kid}/retire", {"confirm": kid})
    assert "现在无法执行" in follow(console, retire)  # the active key: rotate first
    revoked = console.post(f"/console/keys/{kid}/revoke", {"confirm": kid, "reason": "leak"})
    assert "已吊销" in follow(console, revoked)
    assert {k.kid: k.state for k in services.keys.list_keys()}[kid] == "revoked"


# -- audit ---------------------------------------------------------------------------------
def test_audit_search_paging_verify_and_anchor(console: Console, signed_in, services):
    signed_in(SECURITY_ADMIN)
    for n in range(60):
        services.audit.record("test", "test:paging:event", subject=f"s{n}")
    page = console.text("/console/audit?tag=test:paging")
    assert page.count("test:paging:event") == 50
    link = re.search(r'href="([^"]+)" id="older"', page).group(1).replace("&amp;", "&")
    assert "before=" in link and console.text(link).count("test:paging:event") == 10
    assert "s42" in console.text("/console/audit?subject=s42")
    bad = console.get("/console/audit?since=yesterday")
    assert bad.status_code == 400 and "中国标准时间" in bad.get_data(as_text=True)
    old = console.text("/console/audit?tag=test:paging&until=2000-01-01T00:00")
    assert "test:paging:event" not in old
    anchors = follow(console, console.post("/console/audit/anchors"))
    assert "已写入锚点文件" in anchors
    [event] = services.audit.events(tag="audit:anchor")
    [anchor] = AnchorLog(services.settings.audit_anchor_path).read()
    assert event.extra == {"seq": anchor.seq} and anchor.hash in anchors
    verified = console.post("/console/audit/verify")
    assert "审计链完整" in follow(console, verified)


def test_a_broken_chain_names_the_first_broken_entry(console: Console, signed_in, services):
    signed_in(AUDITOR)
    from idp.store.models import AuditEvent

    services.audit.record("test", "test:tamper", extra={"amount": 1})
    seq = services.audit.events(tag="test:tamper")[0].seq
    with services.sessions.begin() as db:
        db.get(AuditEvent, seq).extra = {"amount": 2}
    page = follow(console, console.post("/console/audit/verify"))
    assert f"审计链在第 {seq} 条处断开" in page
    assert console.post("/console/audit/anchors").status_code == 403  # auditors only read


# -- staff and API tokens ------------------------------------------------------------------
def test_staff_create_shows_the_enrolment_once(console: Console, signed_in, services):
    me = signed_in(SECURITY_ADMIN)
    weak = console.post("/console/staff", {"username": "clerk-2", "display_name": "窗口",
                                           "role": "helpdesk", "password": "short"})
    assert weak.status_code == 400 and "密码太短" in weak.get_data(as_text=True)
    assert "short" not in weak.get_data(as_text=True).split('id="new-password"')[1][:200]
    made = console.post("/console/staff", {"username": "clerk-2", "display_name": "窗口",
                                           "role": "helpdesk",
                                           "password": "clerk-Password-2026!"})
    assert made.status_code == 200
    page = made.get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in page
    secret = re.search(r'id="enrolment-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    member = next(m for m in services.staff.list() if m.username == "clerk-2")
    assert member.role == "helpdesk" and secret not in console.text("/console/staff")
    taken = console.post("/console/staff", {"username": "clerk-2", "display_name": "x",
                                            "role": "helpdesk",
                                            "password": "clerk-Password-2026!"})
    assert taken.status_code == 409
    disabled = console.post(f"/console/staff/{member.id}/status", {"status": "disabled"})
    assert "已停用" in follow(console, disabled)
    itself = console.post(f"/console/staff/{me.id}/status", {"status": "disabled"})
    assert "不能在这里修改自己的" in follow(console, itself)
    assert services.staff.get(me.id).status == "active"  # type: ignore[union-attr]
    reset = console.post(f"/console/staff/{member.id}/reset-totp", {"confirm": "clerk-2"})
    assert reset.status_code == 200 and "enrolment-qr" in reset.get_data(as_text=True)


def test_my_api_tokens(console: Console, signed_in, services):
    me = signed_in(AUDITOR)
    made = console.post("/console/tokens", {"name": "export script", "days": "30"})
    token = re.search(r'readonly value="(stk_[^"]+)"', made.get_data(as_text=True)).group(1)
    assert services.staff_tokens.authenticate(token).id == me.id  # type: ignore[union-attr]
    listing = console.text("/console/tokens")
    assert "export script" in listing and token not in listing
    [info] = services.staff_tokens.list(me.id)
    revoked = console.post(f"/console/tokens/{info.id}/revoke")
    assert "API 令牌已撤销" in follow(console, revoked)
    assert services.staff_tokens.authenticate(token) is None
    other = services.staff.create("someone-else", "x", AUDITOR, "other-Password-2026!",
                                  actor="cli")
    theirs, their_info = services.staff_tokens.issue(other.staff, "theirs", actor="cli")
    refused = console.post(f"/console/tokens/{their_info.id}/revoke")
    assert "不是你的" in follow(console, refused)
    assert services.staff_tokens.authenticate(theirs) is not None


@pytest.mark.parametrize("query", ["before=99999999999999999999999", "since=0001-01-01T00:00",
                                   "until=9999-12-31T23:59%2B14:00", "before=%C2%B2"])
def test_odd_audit_queries_never_fail(console: Console, signed_in, query):
    signed_in(AUDITOR)
    assert console.get(f"/console/audit?{query}").status_code in (200, 400)


def test_odd_numbers_are_refused_clearly(console: Console, signed_in, services):
    signed_in(SECURITY_ADMIN)
    client = make_client(services)
    for grace in ("²", "1e3", "9" * 40):
        response = console.post(f"/console/clients/{client.client_id}/rotate-secret",
                                {"grace": grace})
        assert "请输入所示范围内的整数" in follow(console, response)
