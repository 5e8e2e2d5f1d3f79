"""Console sign-in (issue 6 §1-2): password *and* authenticator code in one form, one generic
error for every wrong answer (audited with the reason), the throttle, the ``idp_console``
cookie (flags, a new one at each sign-in), sign-out, the idle limit, CSRF, the page headers,
both languages — and no mixing with the citizens' session. On SQLite and PostgreSQL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from idp.staff.roles import AUDITOR, SECURITY_ADMIN
from tests.console.conftest import Console, csrf_of
from tests.factories import make_citizen

GENERIC_ZH = "用户名、密码或验证码不正确"
GENERIC_EN = "The username, password or code is not correct."


def _next_of(response) -> str:
    location = urlsplit(response.headers["Location"])
    assert location.path == "/console/login"
    return parse_qs(location.query)["next"][0]


def _cookie_header(response) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("idp_console=")]
    return header


def test_password_and_code_sign_in_with_a_strict_console_cookie(console: Console, make_member,
                                                                  services):
    admin = make_member(SECURITY_ADMIN, "admin")
    response = console.login(admin)
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/")
    header = _cookie_header(response)
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/console"):
        assert flag in header, header
    assert "Secure" not in header  # development settings: plain HTTP on localhost
    home = console.text("/console/")
    assert "admin" in home and "安全管理员" in home
    [event] = services.audit.events(tag="staff:login:success")
    assert event.actor == "staff:admin"


def test_the_cookie_is_secure_when_the_site_cookies_are(make_settings, db_url, clock,
                                                        make_member):
    from idp.container import build_services
    from idp.web import create_app

    svc = build_services(make_settings(IDP_DATABASE_URL=db_url,
                                       IDP_SESSION_COOKIE_SECURE="true"),
                         create_keys=True, clock=clock)
    try:
        svc.keys.ensure_keys()
        app = create_app(svc.settings, svc)
        enrolment = svc.staff.create("admin", "管理员", SECURITY_ADMIN,
                                     "console-Password-2026!", actor="cli")
        client = app.test_client()
        import pyotp

        page = client.get("/console/login")
        response = client.post("/console/login", data={
            "csrf_token": csrf_of(page.get_data(as_text=True)), "username": "admin",
            "password": "console-Password-2026!",
            "code": pyotp.TOTP(enrolment.secret).at(clock.now)})
        assert response.status_code == 302
        assert "Secure" in _cookie_header(response)
    finally:
        svc.close()


@pytest.mark.parametrize("case", ["wrong_code", "replayed_code", "bad_credentials",
                                  "unknown_user", "disabled"])
def test_every_wrong_answer_gets_the_same_message_and_is_audited(case, console: Console,
                                                                 make_member, services):
    member = make_member(SECURITY_ADMIN, "admin")
    kwargs: dict[str, str] = {}
    if case == "wrong_code":
        right = console.code(member)
        kwargs["code"] = "000000" if right != "000000" else "111111"
    elif case == "replayed_code":
        kwargs["code"] = console.code(member)
        assert console.login(member, **kwargs).status_code == 302  # first use: fine
        console.client.delete_cookie("idp_console", path="/console")
    elif case == "bad_credentials":
        kwargs["password"] = "not-the-Password-1"
    elif case == "unknown_user":
        member.username = "nobody"
    else:
        services.staff.set_status(member.id, "disabled", actor="cli")
    response = console.login(member, **kwargs)
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert GENERIC_ZH in page and "idp_console=" not in response.headers.get("Set-Cookie", "")
    assert console.get("/console/").status_code == 302  # not signed in
    failures = services.audit.events(tag="staff:login:failure")
    assert failures[0].extra["reason"] == case and failures[0].actor == "anonymous"


def test_failures_are_throttled_with_a_clear_message(console: Console, make_member, services):
    member = make_member(SECURITY_ADMIN, "admin")
    for _ in range(services.settings.staff.max_failures):
        assert console.login(member, password="not-the-Password-1").status_code == 401
    blocked = console.login(member)  # even the right password and code
    assert blocked.status_code == 429
    assert "登录失败次数过多" in blocked.get_data(as_text=True)
    assert services.audit.events(tag="staff:login:throttled")
    english = console.client.post("/console/login?lang=en", data={
        "csrf_token": console.token(), "username": "admin", "password": member.password,
        "code": console.code(member)})
    assert "Too many failed sign-ins" in english.get_data(as_text=True)


def test_a_new_session_at_each_sign_in_and_sign_out_ends_it(console: Console, make_member,
                                                           services):
    member = make_member(AUDITOR, "auditor-1")
    console.login(member)
    first = console.client.get_cookie("idp_console", path="/console").value
    console.login(member)
    second = console.client.get_cookie("idp_console", path="/console").value
    assert first != second
    assert services.console_sessions.get(first) is None  # the old one was ended
    response = console.post("/console/logout")
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/login")
    assert "idp_console=;" in _cookie_header(response)  # deleted
    assert services.console_sessions.get(second) is None
    console.client.set_cookie("idp_console", second, path="/console")  # replaying it: useless
    assert console.get("/console/").status_code == 302
    assert services.audit.events(tag="staff:logout:success", actor="staff:auditor-1")


def test_the_session_ends_after_the_idle_limit(console: Console, make_member, services, clock):
    console.login(make_member(AUDITOR))
    assert console.get("/console/").status_code == 200
    clock.advance(services.settings.staff.session_idle_ttl - 60)
    assert console.get("/console/").status_code == 200  # activity restarts the idle timer
    clock.advance(services.settings.staff.session_idle_ttl + 1)
    response = console.get("/console/audit")
    assert response.status_code == 302
    assert _next_of(response) == "/console/audit"


def test_a_disabled_member_is_out_at_the_next_click(console: Console, make_member, services):
    member = make_member(AUDITOR)
    console.login(member)
    services.staff.set_status(member.id, "disabled", actor="cli")
    assert console.get("/console/audit").status_code == 302


def test_every_page_but_sign_in_needs_a_member_and_sign_in_goes_back(console: Console,
                                                                      make_member):
    for path in ("/console/", "/console/keys", "/console/audit", "/console/tokens"):
        response = console.get(path)
        assert response.status_code == 302 and "/console/login" in response.headers["Location"]
    response = console.get("/console/audit?tag=staff:")
    assert _next_of(response) == "/console/audit?tag=staff:"
    member = make_member(AUDITOR)
    page = console.get("/console/login?next=/console/audit").get_data(as_text=True)
    done = console.client.post("/console/login", data={
        "csrf_token": csrf_of(page), "username": member.username, "password": member.password,
        "code": console.code(member), "next": "/console/audit"})
    assert done.headers["Location"] == "/console/audit"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/console/",
                                    "/account", "/console\\..\\x"])
def test_sign_in_never_sends_elsewhere(console: Console, make_member, target):
    member = make_member(AUDITOR)
    done = console.client.post("/console/login", data={
        "csrf_token": console.token(), "username": member.username,
        "password": member.password, "code": console.code(member), "next": target})
    assert done.status_code == 302 and done.headers["Location"] == "/console/"


def test_a_post_without_csrf_token_is_refused_and_changes_nothing(console: Console, signed_in,
                                                                  services):
    signed_in(SECURITY_ADMIN)
    citizen = make_citizen(services)
    head = services.audit.anchor().seq
    response = console.client.post(f"/console/citizens/{citizen.sub}/lock",
                                   data={"reason": "test"})
    assert response.status_code == 400 and "表单已过期" in response.get_data(as_text=True)
    assert services.accounts.get(citizen.sub).status == "active"
    assert services.audit.anchor().seq == head
    assert console.client.post("/console/login", data={
        "username": "x", "password": "y", "code": "1"}).status_code == 400


def test_console_pages_are_not_cached_or_framed(console: Console, signed_in):
    for response in (console.get("/console/login"), ):
        assert response.headers["Cache-Control"] == "no-store"
    signed_in(AUDITOR)
    for path in ("/console/", "/console/audit", "/console/tokens"):
        response = console.get(path)
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_chinese_by_default_and_english_on_request(console: Console, signed_in):
    zh = console.get("/console/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in zh and "工作人员登录" in zh and "验证码" in zh
    en = console.get("/console/login?lang=en").get_data(as_text=True)
    assert 'lang="en"' in en and "Staff sign-in" in en
    console.get("/console/login?lang=zh-CN")
    signed_in(AUDITOR)
    assert "审计员" in console.text("/console/")
    assert "Auditor" in console.text("/console/?lang=en")


def test_the_console_and_the_citizen_session_stay_apart(console: Console, signed_in, services):
    signed_in(SECURITY_ADMIN)
    assert console.get("/account/sessions").status_code == 302  # no citizen signed in
    citizen = make_citizen(services)
    other = console.client.application.test_client()
    page = other.get("/login")
    other.post("/login", data={"csrf_token": csrf_of(page.get_data(as_text=True)),
                               "username": citizen.phone, "password": citizen.password})
    assert other.get("/account/sessions").status_code == 200
    assert other.get("/console/").status_code == 302  # a citizen is not staff


@pytest.mark.parametrize(("method", "path", "data"), [
    ("GET", "/console/audit?tag=a%00b", {}),
    ("GET", "/console/citizens/a%00b", {}),
    ("POST", "/console/clients/a%00b/approve", {}),
    ("POST", "/console/keys/a%00b/revoke", {"confirm": "a\x00b", "reason": "x"}),
    ("POST", "/console/initial-tokens", {"label": "a\x00b"}),
    ("POST", "/console/staff", {"username": "abc", "display_name": "a\x00b", "role": "auditor",
                                "password": "console-Password-2026!"}),
    ("POST", "/console/citizens/search", {"query": "a\x00b"}),
], ids=lambda v: v if isinstance(v, str) and v.startswith("/") else "")
def test_control_characters_are_refused_before_any_service(method, path, data,
                                                           console: Console, signed_in,
                                                           services):
    signed_in(SECURITY_ADMIN)
    head = services.audit.anchor().seq
    response = console.get(path) if method == "GET" else console.post(path, data)
    assert response.status_code == 400  # not a 500 from PostgreSQL
    assert "控制字符" in response.get_data(as_text=True)
    assert services.audit.anchor().seq == head


def test_control_characters_at_sign_in_are_refused(console: Console):
    response = console.client.post("/console/login", data={
        "csrf_token": console.token(), "username": "a\x00b", "password": "x", "code": "1"})
    assert response.status_code == 400
