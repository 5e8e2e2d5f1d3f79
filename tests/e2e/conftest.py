"""Shared fixtures of the end-to-end and conformance tests (all against a real ``idp serve``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.device_parties import STRICT_LIMIT, STRICT_TTL, Terminal
from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer, launch_on_stack


@pytest.fixture
def agent(idp_server: IdpServer) -> UserAgent:
    """A fresh browser: no cookies, so no SSO session yet."""
    return UserAgent(idp_server.url)


@pytest.fixture
def citizen(idp_server: IdpServer) -> dict[str, Any]:
    """A demo citizen (by phone number, as most people sign in)."""
    person: dict[str, Any] = idp_server.demo["citizens"][0]
    return {"username": person["phone"], "password": person["password"], **person}


@pytest.fixture
def other_citizen(idp_server: IdpServer) -> dict[str, Any]:
    """Another demo citizen, who signs in with the ID number."""
    person: dict[str, Any] = idp_server.demo["citizens"][1]
    return {"username": person["id_number"], "password": person["password"], **person}


@pytest.fixture(scope="module")
def register(idp_server: IdpServer) -> Callable[..., RelyingParty]:
    """Register a fresh client through the real CLI (``idp clients create``)."""

    def _register(*extra: str, channel: str = "website", skip_consent: bool = True,
                  redirect_uri: str | None = None) -> RelyingParty:
        kw: dict[str, Any] = {"channel": channel, "skip_consent": skip_consent}
        if redirect_uri:
            kw["redirect_uri"] = redirect_uri
        return RelyingParty.register(idp_server, f"conformance-{uuid.uuid4().hex[:8]}",
                                     *extra, **kw)

    return _register


@pytest.fixture(scope="module")
def rp(register: Callable[..., RelyingParty]) -> RelyingParty:
    """The module's confidential website client (client_secret_basic, no consent page)."""
    return register()


# -- device-grant fixtures ---------------------------------------------------------------
@pytest.fixture
def terminal(idp_server: IdpServer) -> Terminal:
    return Terminal.demo(idp_server)


@pytest.fixture(scope="module")
def strict_server(idp_server: IdpServer, request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdpServer]:
    """A second server on idp_server's stack: short device codes, low guessing limits."""
    extra = {"IDP_DEVICE_DEVICE_CODE_TTL": str(STRICT_TTL),
             "IDP_DEVICE_USER_CODE_FAILURES": str(STRICT_LIMIT), "IDP_PROXY_HOPS": "1"}
    server = launch_on_stack(request, tmp_path_factory.mktemp(f"device-{idp_server.stack}"),
                             idp_server.stack, extra)
    yield server
    server.stop()
