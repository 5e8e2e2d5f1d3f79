"""Shared fixtures of the end-to-end and conformance tests (all against a real ``idp serve``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer


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
