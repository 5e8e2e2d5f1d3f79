"""The staff console in real headless Chromium, in zh-CN, against a real ``idp serve`` (issue 6,
"Done when"): an operator bootstraps a security admin with ``idp staff create`` (the installed
command), who signs in to /console with the password and the authenticator code, rotates the
keys, issues a registration token for a department (which registers over RFC 7591 and waits,
pending), approves that client, finds a signed-in citizen by ID number (shown masked), ends all
the citizen's sessions and verifies the audit chain — then finds every one of those actions in
the audit search under the admin's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
import requests
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer, launch_on_stack

pytestmark = pytest.mark.browser

PASSWORD = "browser-Admin-Password-26"  # noqa: S105 — test data


@pytest.fixture(scope="module")
def console_idp(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdpServer]:
    server = launch_on_stack(request, tmp_path_factory.mktemp("console-embedded"), "embedded")
    yield server
    server.stop()


@pytest.fixture
def zh_page(chromium: Browser) -> Iterator[Page]:
    """A Chinese browser (Accept-Language zh-CN) that fails the test on any console error or
    any failed request (except the favicon the IdP does not have)."""
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []

    def console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"console: {msg.text}")

    page.on("console", console)
    page.on("response", lambda r: errors.append(f"{r.status} {r.request.method} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    try:
        yield page
    finally:
        context.close()
    assert errors == [], errors


def _notice(page: Page) -> Any:
    return page.locator("main p.notice")


def test_bootstrap_admin_runs_the_console_in_chinese(console_idp: IdpServer, zh_page: Page,
                                                     tmp_path: Any) -> None:
    server, page = console_idp, zh_page
    made = server.cli_json("staff", "create", "--username", "boot-admin", "--name", "安全管理员甲",
                           "--role", "security_admin", "--password-stdin",
                           stdin=PASSWORD + "\n")
    secret = made["totp_secret"]

    # Sign in: any console page sends to the sign-in page, in Chinese.
    page.goto(f"{server.url}/console/keys")
    expect(page.locator("h1")).to_have_text("工作人员登录")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.fill("#username", "boot-admin")
    page.fill("#password", PASSWORD)
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form.card button[type=submit]")
    page.wait_for_url(f"{server.url}/console/keys")
    expect(page.locator("#signed-in-as")).to_contain_text("安全管理员")
    page.screenshot(path=tmp_path / "console-keys.png", full_page=True)

    # Keys: rotate; the next keys are published.
    before = page.locator("#keys tbody tr").count()
    page.click("#rotate-keys")
    expect(_notice(page)).to_contain_text("下一个密钥已发布")
    assert page.locator("#keys tbody tr").count() == before + 2
    expect(page.locator("#keys")).to_contain_text("下一个（已公布，尚未签名）")

    # A department registers with a token issued here; its client waits for approval.
    page.click("nav.console-nav >> text=注册令牌")
    page.fill("#label", "某区人社局")
    page.click("#issue-initial-token")
    token = page.locator("#secret-value").input_value()
    assert len(token) > 30
    registered = requests.post(f"{server.url}/register", timeout=10,
                               headers={"Authorization": f"Bearer {token}"},
                               json={"client_name": "某区人社局门户",
                                     "redirect_uris": ["https://rs.example.gov.cn/callback"],
                                     "grant_types": ["authorization_code"]})
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    page.click("text=完成")
    expect(page.locator("#initial-tokens")).to_contain_text("1 / 1")
    assert token not in page.content()

    page.click("nav.console-nav >> text=客户端")
    first = page.locator("#clients tbody tr").first
    expect(first).to_contain_text("某区人社局门户")
    expect(first).to_contain_text("等待批准")
    first.locator("a").click()
    page.click("#approve")
    expect(_notice(page)).to_contain_text("客户端已批准")
    expect(page.locator("#client-status")).to_have_text("使用中")
    expect(page.locator("#client-id")).to_have_text(client_id)

    # A citizen signed in on the website; the admin finds them by ID number and ends it all.
    person = server.demo["citizens"][0]
    agent = UserAgent(server.url)
    assert agent.login(person["phone"], person["password"]).status_code == 302
    assert agent.http.get(f"{server.url}/account/sessions", allow_redirects=False,
                          timeout=10).status_code == 200
    page.click("nav.console-nav >> text=公民")
    page.fill("#query", person["id_number"])
    page.click("#find-citizen")
    page.wait_for_url(re.compile(r".*/console/citizens/[0-9a-f-]{36}$"))
    assert person["id_number"] not in page.url and person["id_number"] not in page.content()
    number = person["id_number"]
    expect(page.locator("#citizen-id-number")).to_have_text(f"{number[:4]}**********{number[-4:]}")
    expect(page.locator("#citizen-sessions tbody tr")).to_have_count(1)
    page.screenshot(path=tmp_path / "console-citizen.png", full_page=True)
    page.click("#end-all-sessions")
    expect(_notice(page)).to_contain_text("1 个会话已结束")
    expect(page.locator("#citizen-sessions")).to_contain_text("没有有效会话")
    assert agent.http.get(f"{server.url}/account/sessions", allow_redirects=False,
                          timeout=10).status_code == 302  # signed out everywhere

    # Audit: anchor, verify — intact — and every action above is there under the admin.
    page.click("nav.console-nav >> text=审计日志")
    page.click("text=校验审计链并查看锚点")
    page.click("#anchor-now")
    expect(_notice(page)).to_contain_text("已写入锚点文件")
    page.click("#verify-chain")
    expect(_notice(page)).to_contain_text("审计链完整")
    expect(page.locator("#anchors tbody tr")).to_have_count(1)
    page.goto(f"{server.url}/console/audit?actor=staff:boot-admin")
    events = page.locator("#audit-events")
    for tag in ("staff:login:success", "key:rotate", "client:initial-token:issue",
                "client:approve:success", "session:end:success", "audit:anchor",
                "audit:verify"):
        expect(events).to_contain_text(tag)
    page.screenshot(path=tmp_path / "console-audit.png", full_page=True)

    # Sign out: the console is closed again.
    page.click("#sign-out")
    expect(page.locator("h1")).to_have_text("工作人员登录")
    expect(_notice(page)).to_contain_text("你已退出控制台")
    page.goto(f"{server.url}/console/")
    expect(page.locator("h1")).to_have_text("工作人员登录")
