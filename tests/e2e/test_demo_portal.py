"""The demo department portal (clients/website) signs a citizen in against a real IdP.

Both run as real processes on loopback; a cookie-keeping HTTP client plays the browser and
follows every redirect between them, as a person clicking through would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.e2e.useragent import CSRF, _unescape
from tests.fixtures.server import free_port, running_module

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def portal(idp_server, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client = idp_server.create_client("--name", "示例部门门户", "--channel", "website",
                                      "--redirect-uri", f"{base}/callback", "--skip-consent")
    with running_module("clients.website", {
            "issuer": idp_server.url, "client_id": client["client_id"],
            "client_secret": client["client_secret"], "base_url": base, "port": port},
            tmp_path) as url:
        yield url


def test_citizen_signs_in_to_the_portal_and_sees_verified_claims(idp_server, portal):
    citizen = idp_server.demo["citizens"][0]
    browser = requests.Session()
    page = browser.get(f"{portal}/login", timeout=20)
    assert page.url.startswith(idp_server.url + "/login"), page.url
    token = CSRF.search(page.text).group(1)
    next_url = _unescape(page.text.split('name="next" value="')[1].split('"')[0])
    home = browser.post(f"{idp_server.url}/login", timeout=20, data={
        "csrf_token": token, "username": citizen["id_number"], "password": citizen["password"],
        "next": next_url})
    assert home.url.rstrip("/") == portal, home.url
    assert home.status_code == 200
    assert citizen["name"] in home.text
    for claim in ("sub", "sid", "acr", "auth_time"):
        assert claim in home.text
    assert citizen["id_number"] not in home.text
