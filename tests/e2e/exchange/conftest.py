"""Fixtures of the token-exchange tests (RFC 8693): the app, the mini-program, and the server's
own services as ``backend``."""


from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from idp.config import load_settings
from idp.container import Services, build_services
from tests.e2e.exchange.parties import _demo
from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer

pytestmark = pytest.mark.e2e

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
APP_SCOPE = "openid profile phone offline_access"




@pytest.fixture(scope="module")
def backend(idp_server: IdpServer) -> Iterator[Services]:
    svc = build_services(load_settings(idp_server.env))
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def app(idp_server: IdpServer) -> RelyingParty:
    return _demo(idp_server, "app", "http://127.0.0.1/callback")


@pytest.fixture(scope="module")
def mini(idp_server: IdpServer) -> RelyingParty:
    return _demo(idp_server, "miniprogram")


@pytest.fixture
def sign_in_app(idp_server: IdpServer, app: RelyingParty) -> Callable[..., dict[str, Any]]:
    """The citizen signs in to the app in a fresh browser: the app's tokens and ID claims,
    plus the browser (to sign out later)."""

    def _sign_in(who: dict[str, Any], scope: str = APP_SCOPE) -> dict[str, Any]:
        browser = UserAgent(idp_server.url)
        login = app.login(browser, who, scope, auth="none", pkce=True)
        return {**login.tokens, "claims": login.id_claims, "browser": browser}

    return _sign_in


@pytest.fixture
def app_tokens(sign_in_app: Callable[..., dict[str, Any]],
               citizen: dict[str, Any]) -> dict[str, Any]:
    return sign_in_app(citizen)
