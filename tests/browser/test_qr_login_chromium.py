"""Scan-to-login in real headless Chromium, on both stacks: the sign-in page's script shows the
QR code and follows it live while the citizen's app (an HTTP client with an app token) scans,
confirms or denies; a confirmed code signs the browser in."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.citizen_app import CitizenApp

pytestmark = pytest.mark.browser


def _show_qr(page: Page, url: str) -> str:
    """Open the sign-in page, wait for a live QR code, return its ticket id."""
    page.goto(url)
    status = page.locator("#qr-status")
    expect(status).to_have_attribute("data-status", "waiting")
    expect(status).to_have_text("Waiting for you to scan the code with the app.")
    image = page.locator("#qr-image")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.locator("#username")).to_be_visible()  # the password form is still there
    ticket = page.locator("#qr-login").get_attribute("data-ticket")
    assert ticket and len(ticket) >= 22
    return ticket


def test_confirmed_scan_signs_the_browser_in(idp_server, citizen, page, tmp_path):
    app = CitizenApp.sign_in(idp_server, citizen)
    ticket = _show_qr(page, f"{idp_server.url}/login")
    status = page.locator("#qr-status")
    expect(status).to_have_attribute("role", "status")
    expect(status).to_have_attribute("aria-live", "polite")
    page.screenshot(path=tmp_path / "qr-waiting.png", full_page=True)

    assert app.scan(ticket).json()["status"] == "scanned"
    expect(status).to_have_attribute("data-status", "scanned")
    expect(status).to_have_text("Scanned. Confirm the sign-in on your phone.")
    page.screenshot(path=tmp_path / "qr-scanned.png", full_page=True)

    assert app.confirm(ticket).json()["status"] == "confirmed"
    page.wait_for_url(f"{idp_server.url}/")
    expect(page.locator("main")).to_contain_text(citizen["name"])
    page.screenshot(path=tmp_path / "signed-in.png", full_page=True)


def test_denied_scan_leaves_the_browser_signed_out(idp_server, citizen, page, tmp_path):
    app = CitizenApp.sign_in(idp_server, citizen)
    ticket = _show_qr(page, f"{idp_server.url}/login")
    app.scan(ticket)
    assert app.confirm(ticket, "deny").json()["status"] == "denied"
    status = page.locator("#qr-status")
    expect(status).to_have_attribute("data-status", "denied")
    expect(status).to_have_text("The sign-in was declined on your phone.")
    refresh = page.locator("#qr-refresh")
    expect(refresh).to_be_visible()
    page.screenshot(path=tmp_path / "qr-denied.png", full_page=True)
    assert page.url == f"{idp_server.url}/login"

    refresh.click()  # a fresh code, waiting again
    expect(status).to_have_attribute("data-status", "waiting")
    assert page.locator("#qr-login").get_attribute("data-ticket") not in (None, ticket)
    expect(refresh).to_be_hidden()


def test_scan_in_the_middle_of_a_portal_sign_in_returns_to_the_portal(
        idp_server, citizen, page, register, portal_site):
    portal = register(redirect_uri=f"{portal_site}/cb")
    req = portal.auth_request("openid profile")
    app = CitizenApp.sign_in(idp_server, citizen)
    ticket = _show_qr(page, f"{idp_server.url}/authorize?{urlencode(req.params)}")
    expect(page.locator(".lead")).to_contain_text("to continue to conformance-")
    assert app.scan(ticket).json()["next_client"].startswith("conformance-")
    app.confirm(ticket)
    page.wait_for_url(re.compile(rf"^{re.escape(portal_site)}/cb\?"))
    assert f"state={req.state}" in page.url and "code=" in page.url


def test_without_javascript_the_password_form_still_signs_in(idp_server, citizen, chromium):
    context = chromium.new_context(locale="en-US", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{idp_server.url}/login")
        expect(page.locator("#qr-login")).to_be_hidden()  # no script, no dead QR panel
        page.fill("#username", citizen["username"])
        page.fill("#password", citizen["password"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{idp_server.url}/")
        expect(page.locator("main")).to_contain_text(citizen["name"])
    finally:
        context.close()
