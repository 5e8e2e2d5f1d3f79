"""Helpers of the token-exchange tests: the exchange request, refusal checks, JWKS."""


from __future__ import annotations

from typing import Any

import pytest
import requests
from jose import jwt as jose_jwt
from sqlalchemy import func, select

from idp.container import Services
from idp.store.models import Token
from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer

pytestmark = pytest.mark.e2e

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
APP_SCOPE = "openid profile phone offline_access"


# -- fixtures and helpers ----------------------------------------------------------------------


def _demo(idp_server: IdpServer, channel: str, redirect_uri: str | None = None) -> RelyingParty:
    demo = idp_server.demo["clients"][channel]
    return RelyingParty(idp_server, demo["client_id"], demo.get("client_secret"),
                        redirect_uri or demo["redirect_uris"][0])


def exchange(rp: RelyingParty, subject_token: str, /, *, auth: str = "basic",
             secret: str | None = None, **params: str) -> requests.Response:
    """POST a token-exchange request; ``params`` add to or override the defaults."""
    data = {"grant_type": EXCHANGE, "subject_token": subject_token,
            "subject_token_type": ACCESS, **params}
    return rp.token_request(data, auth=auth, secret=secret)


def issued_to(backend: Services, client_id: str) -> int:
    with backend.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Token).where(
            Token.client_id == client_id)) or 0)


def refused(resp: requests.Response, error: str, fragment: str = "",
            status: int = 400) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = resp.json()
    assert body["error"] == error, body
    assert fragment in body.get("error_description", ""), body
    assert not {"access_token", "id_token", "refresh_token"} & set(body), body
    return body


class Jwks:
    """What the mini-program's backend does: fetch the JWKS, verify with python-jose by kid."""

    def __init__(self, rp: RelyingParty) -> None:
        self.issuer = rp.issuer
        jwks = rp.http.get(rp.config["jwks_uri"], timeout=10).json()
        self.keys = {key["kid"]: key for key in jwks["keys"]}

    def verify(self, token: str, audience: str, *, typ: str,
               access_token: str | None = None) -> dict[str, Any]:
        header = jose_jwt.get_unverified_header(token)
        assert header["typ"] == typ and header["alg"] in ("RS256", "ES256"), header
        claims: dict[str, Any] = jose_jwt.decode(
            token, self.keys[header["kid"]], algorithms=[header["alg"]], audience=audience,
            issuer=self.issuer, access_token=access_token)
        return claims


def sign_out(browser: UserAgent, idp_server: IdpServer) -> None:
    home = browser.http.get(f"{idp_server.url}/", timeout=10)
    resp = browser.http.post(f"{idp_server.url}/logout", timeout=10, allow_redirects=False,
                             data={"csrf_token": UserAgent.csrf(home)})
    assert resp.status_code in (302, 303), resp.text
