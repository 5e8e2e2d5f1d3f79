"""The app's sign-in (PKCE, loopback, iss, nonce) and refresh rotation, against a scripted IdP
and a scripted browser; only the app's own loopback listener uses a real socket."""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from clients.app import statefile
from clients.app.commands import AppCommands
from clients.app.config import AppConfig
from clients.app.signin import build_authorization_request, check_callback, oauth_session
from clients.common.errors import ClientError, OAuthErrorResponse
from clients.common.http import HttpRequest, HttpResponse
from clients.common.tests.fakeidp import ISSUER, SID, SUB, FakeIdp, json_response
from clients.website.errors import PortalError

APP = "demo-app"
METADATA = {"authorization_response_iss_parameter_supported": True}


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def config(tmp_path: Path) -> AppConfig:
    return AppConfig(issuer=ISSUER, client_id=APP, state_file=tmp_path / "state.json")


def test_authorization_request_carries_pkce_state_and_nonce(tmp_path):
    redirect = "http://127.0.0.1:50123/callback"
    session = oauth_session(config(tmp_path), redirect)
    first = build_authorization_request(session, f"{ISSUER}/authorize", redirect)
    second = build_authorization_request(session, f"{ISSUER}/authorize", redirect)
    params = dict(parse_qsl(urlsplit(first.url).query))
    assert first.url.startswith(f"{ISSUER}/authorize?")
    assert params == {
        "response_type": "code",
        "client_id": APP,
        "redirect_uri": redirect,
        "scope": "openid profile phone offline_access",
        "state": first.state,
        "nonce": first.nonce,
        "code_challenge": s256(first.code_verifier),
        "code_challenge_method": "S256",
    }
    assert 43 <= len(first.code_verifier) <= 128 and len(first.state) >= 43
    assert {first.state, first.nonce, first.code_verifier}.isdisjoint(
        {second.state, second.nonce, second.code_verifier}
    )


@pytest.mark.parametrize(
    "params, code",
    [
        ({"code": "c", "state": "s"}, "issuer_mismatch"),  # iss missing although advertised
        ({"code": "c", "state": "s", "iss": "https://evil.example.test"}, "issuer_mismatch"),
        ({"state": "s", "iss": ISSUER}, "no_code"),
        ({"error": "access_denied", "state": "s", "iss": ISSUER}, "access_denied"),
    ],
)
def test_callback_checks(params, code):
    with pytest.raises(PortalError) as info:
        check_callback(params, ISSUER, METADATA)
    assert info.value.code == code
    if code == "access_denied":
        assert isinstance(info.value, OAuthErrorResponse)


def test_callback_code():
    assert check_callback({"code": "c", "state": "s", "iss": ISSUER}, ISSUER, METADATA) == "c"


# --- the whole sign-in, with a scripted browser ----------------------------------------------


class Browser:
    """Opens the authorization URL: the IdP 'signs the citizen in' and redirects to the app."""

    def __init__(self, idp: FakeIdp, **answer: str) -> None:
        self.idp, self.answer, self.request = idp, answer, {}
        self.status = 0

    def __call__(self, url: str) -> None:
        self.request = dict(parse_qsl(urlsplit(url).query))
        redirect = self.request["redirect_uri"]
        query = {"code": "code-1", "state": self.request["state"], "iss": ISSUER, **self.answer}

        def follow() -> None:
            with urllib.request.urlopen(f"{redirect}?{urlencode(query)}", timeout=5) as resp:  # noqa: S310
                self.status = resp.status

        threading.Thread(target=follow, daemon=True).start()


def token_endpoint(idp: FakeIdp, browser: Browser, **id_claims: Any):
    def answer(request: HttpRequest) -> HttpResponse:
        form = dict(request.form or {})
        assert form["code"] == "code-1"
        assert s256(form["code_verifier"]) == browser.request["code_challenge"]
        access = idp.access_token(APP)
        claims = {"nonce": browser.request["nonce"], **id_claims}
        audience = claims.pop("aud", APP)
        return json_response(
            200,
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 600,
                "refresh_token": "rt-1",
                "scope": "openid profile phone offline_access",
                "id_token": idp.id_token(audience, access_token=access, **claims),
            },
        )

    return answer


def login(tmp_path: Path, idp: FakeIdp, browser: Browser) -> tuple[AppCommands, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    app = AppCommands(
        config(tmp_path), as_json=False, out=out, err=err, transport=idp, open_url=browser
    )
    app.login(open_browser=True, timeout=10)
    return app, out


def test_login_redeems_the_code_with_pkce_and_stores_checked_tokens(tmp_path):
    idp = FakeIdp()
    browser = Browser(idp)
    idp.on("POST", "/token", token_endpoint(idp, browser))
    app, out = login(tmp_path, idp, browser)
    assert browser.status == 200
    sent = idp.sent("POST", "/token")[0]
    assert sent.form is not None
    assert sent.form["grant_type"] == "authorization_code"
    assert (
        sent.form["client_id"] == APP
        and sent.form["redirect_uri"] == browser.request["redirect_uri"]
    )
    assert "Authorization" not in sent.headers, "a public client sends no secret"
    stored = statefile.load(app.config.state_file)
    assert stored["claims"]["sub"] == SUB and stored["claims"]["sid"] == SID
    assert stored["refresh_token"] == "rt-1" and stored["nonce"] == browser.request["nonce"]
    assert f"sid {SID}" in out.getvalue()
    assert stored["access_token"] not in out.getvalue()


@pytest.mark.parametrize(
    "id_claims, code",
    [
        ({"nonce": "replayed"}, "bad_nonce"),
        ({"aud": "someone-else", "azp": "someone-else"}, "bad_aud"),
    ],
)
def test_login_refuses_a_bad_id_token_and_stores_nothing(tmp_path, id_claims, code):
    idp = FakeIdp()
    browser = Browser(idp)
    idp.on("POST", "/token", token_endpoint(idp, browser, **id_claims))
    with pytest.raises(PortalError) as info:
        login(tmp_path, idp, browser)
    assert info.value.code == code
    assert not (tmp_path / "state.json").exists()


def test_login_stops_at_an_error_response(tmp_path):
    idp = FakeIdp()
    browser = Browser(idp, error="access_denied", code="")
    with pytest.raises(OAuthErrorResponse) as info:
        login(tmp_path, idp, browser)
    assert info.value.error == "access_denied"
    assert not idp.sent("POST", "/token")


def test_login_needs_an_issuer_whose_discovery_matches(tmp_path):
    idp = FakeIdp()
    idp.metadata["issuer"] = "https://evil.example.test"
    with pytest.raises(PortalError) as info:
        login(tmp_path, idp, Browser(idp))
    assert info.value.code == "discovery_mismatch"


def test_no_refresh_token_means_sign_in_again(tmp_path):
    idp = FakeIdp()
    app = AppCommands(config(tmp_path), out=io.StringIO(), err=io.StringIO(), transport=idp)
    statefile.save(app.config.state_file, {"refresh_token": None, "claims": {"sub": SUB}})
    with pytest.raises(ClientError) as info:
        app.refresh()
    assert info.value.code == "no_refresh_token"
