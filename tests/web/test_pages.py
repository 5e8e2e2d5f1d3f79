"""Sign-in, registration and error pages: languages, CSRF, headers, clear errors."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from idp.store.models import Account
from tests.factories import PASSWORD, id_number, make_citizen, phone

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(resp) -> str:
    return CSRF.search(resp.get_data(as_text=True)).group(1)


def accounts(services) -> int:
    with services.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Account)))


def test_sign_in_page_is_chinese_by_default_and_english_on_request(client):
    zh = client.get("/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in zh and "登录" in zh and "身份证号或手机号" in zh
    en = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(
        as_text=True)
    assert 'lang="en"' in en and "ID number or mobile phone number" in en
    assert "English" in client.get("/login?ui_locales=zh-CN").get_data(as_text=True)


def test_form_fields_have_labels_and_contract_names(client):
    html = client.get("/login").get_data(as_text=True)
    for field in ("username", "password"):
        assert f'name="{field}"' in html and f'<label for="{field}">' in html
    assert 'name="csrf_token"' in html and 'autocomplete="current-password"' in html


def test_security_headers(client):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_without_csrf_token_is_refused(client, services):
    citizen = make_citizen(services)
    resp = client.post("/login", data={"username": citizen.phone, "password": citizen.password})
    assert resp.status_code == 400
    assert "表单已过期" in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still signed out


def test_login_success_and_wrong_password_message(client, services):
    citizen = make_citizen(services)
    page = client.get("/login")
    bad = client.post("/login", data={"csrf_token": csrf(page), "username": citizen.phone,
                                      "password": "wrong-wrong"})
    assert bad.status_code == 401
    assert "身份证号/手机号或密码不正确" in bad.get_data(as_text=True)
    assert "wrong-wrong" not in bad.get_data(as_text=True)
    ok = client.post("/login", data={"csrf_token": csrf(page), "username": citizen.id_number,
                                     "password": citizen.password})
    assert ok.status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert citizen.name in home and citizen.id_number not in home
    assert citizen.id_number[:4] + "**********" + citizen.id_number[-4:] in home


def test_rate_limit_message_and_retry_after(client, services):
    citizen = make_citizen(services)
    token = csrf(client.get("/login"))
    for _ in range(services.settings.ratelimit.account_failures):
        client.post("/login", data={"csrf_token": token, "username": citizen.phone,
                                    "password": "wrong-wrong"})
    resp = client.post("/login", data={"csrf_token": token, "username": citizen.phone,
                                       "password": citizen.password})
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in resp.get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)"])
def test_next_is_never_an_open_redirect(client, services, target):
    citizen = make_citizen(services)
    token = csrf(client.get("/login"))
    resp = client.post("/login", data={"csrf_token": token, "username": citizen.phone,
                                       "password": citizen.password, "next": target})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


def test_registration_page_end_to_end(client, services):
    number = id_number()
    services.table_registry.import_csv(f"id_number,name\n{number},赵六\n")
    token = csrf(client.get("/register"))
    form = {"csrf_token": token, "id_number": number.lower(), "name": "赵六", "phone": phone(),
            "password": PASSWORD, "password_confirm": PASSWORD}
    resp = client.post("/register", data=form)
    assert resp.status_code == 302 and accounts(services) == 1
    assert "赵六" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(("change", "status", "message"), [
    ({"id_number": "110105194912310021"}, 400, "校验位不正确"),
    ({"id_number": "110105194902300021"}, 400, "出生日期无效"),
    ({"id_number": "000000194912310021"}, 400, "行政区划代码"),
    ({"name": "钱七"}, 400, "人口信息库"),
    ({"phone": "123"}, 400, "11 位大陆手机号"),
    ({"password_confirm": "different-1"}, 400, "两次输入的密码不一致"),
])
def test_registration_errors_are_explained_and_nothing_is_written(
        client, services, change, status, message):
    number = id_number()
    services.table_registry.import_csv(f"id_number,name\n{number},赵六\n")
    form = {"csrf_token": csrf(client.get("/register")), "id_number": number, "name": "赵六",
            "phone": phone(), "password": PASSWORD, "password_confirm": PASSWORD, **change}
    resp = client.post("/register", data=form)
    assert resp.status_code == status
    assert message in resp.get_data(as_text=True)
    assert accounts(services) == 0


def test_duplicate_registration_is_refused_with_a_clear_message(client, services):
    citizen = make_citizen(services)
    form = {"csrf_token": csrf(client.get("/register")), "id_number": citizen.id_number,
            "name": citizen.name, "phone": phone(), "password": PASSWORD,
            "password_confirm": PASSWORD}
    resp = client.post("/register", data=form)
    assert resp.status_code == 409
    assert "该身份证号已注册账号" in resp.get_data(as_text=True)
    assert accounts(services) == 1


def test_unknown_page_and_bad_json_endpoint(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404 and "页面不存在" in page.get_data(as_text=True)
    resp = client.get("/token")
    assert resp.status_code == 405 and resp.is_json


def test_sign_out_ends_the_sso_session(client, services):
    citizen = make_citizen(services)
    token = csrf(client.get("/login"))
    client.post("/login", data={"csrf_token": token, "username": citizen.phone,
                                "password": citizen.password})
    assert len(services.sso.for_account(citizen.sub)) == 1
    client.post("/logout", data={"csrf_token": csrf(client.get("/"))})
    assert services.sso.for_account(citizen.sub) == []
    assert client.get("/").status_code == 302


def test_client_address_behind_a_trusted_proxy(make_settings, db_url):
    from idp.container import build_services
    from idp.web import create_app

    svc = build_services(make_settings(IDP_DATABASE_URL=db_url, IDP_PROXY_HOPS="1"),
                         create_keys=True)
    svc.keys.ensure_keys()
    try:
        app = create_app(svc.settings, svc)
        app.config["TESTING"] = True
        client = app.test_client()
        token = csrf(client.get("/login"))
        client.post("/login", data={"csrf_token": token, "username": "13900000001",
                                    "password": "wrong-wrong"},
                    headers={"X-Forwarded-For": "203.0.113.7"})
        event = svc.audit.events(tag="account:login:failure")[0]
        assert event.ip == "203.0.113.7"
    finally:
        svc.close()
