"""The mini-program backend's back-channel logout (``POST /backchannel-logout``) over real HTTP
on loopback: a logout token from the IdP ends the backend's sessions of that sid."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from clients.common.backchannel import REPLAY
from clients.common.tests.fakeidp import SID, SUB, FakeIdp
from clients.common.tests.servers import assert_refused, post_logout, serving
from clients.miniprogram import MiniProgramConfig, create_app
from clients.miniprogram.tests.test_backend import APP, ME, SECRET, ready


@pytest.fixture
def idp() -> FakeIdp:
    return ready(FakeIdp())


@pytest.fixture
def backend(idp) -> Iterator[str]:
    config = MiniProgramConfig(issuer=idp.issuer, client_id=ME, client_secret=SECRET)
    with serving(create_app(config, transport=idp)) as base:
        yield base


def start_session(idp: FakeIdp, backend: str) -> str:
    resp = requests.post(
        f"{backend}/session", json={"app_access_token": idp.access_token(APP)}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["session_id"])


def session_status(backend: str, session_id: str) -> requests.Response:
    return requests.get(
        f"{backend}/session", headers={"Authorization": f"Bearer {session_id}"}, timeout=10
    )


def live_sessions(backend: str) -> int:
    return int(requests.get(f"{backend}/healthz", timeout=10).json()["sessions"])


def test_logout_ends_the_session_of_that_sid_only(idp, backend):
    mine = start_session(idp, backend)
    shown = session_status(backend, mine)
    assert shown.status_code == 200 and (shown.json()["sub"], shown.json()["sid"]) == (SUB, SID)

    access = idp.access_token(ME, sid="sid-other")  # another sign-in of the same citizen
    ready(idp, access_token=access, id_token=idp.id_token(ME, access_token=access, sid="sid-other"))
    theirs = requests.post(
        f"{backend}/session",
        json={"app_access_token": idp.access_token(APP, sid="sid-other")},
        timeout=10,
    )
    assert theirs.status_code == 200, theirs.text
    assert live_sessions(backend) == 2

    resp = post_logout(f"{backend}/backchannel-logout", idp.logout_token(ME))
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    gone = session_status(backend, mine)
    assert gone.status_code == 401 and gone.json()["error"] == "invalid_session"
    assert session_status(backend, theirs.json()["session_id"]).status_code == 200
    assert live_sessions(backend) == 1


def test_a_replayed_logout_token_is_refused_and_changes_nothing(idp, backend):
    logout_token = idp.logout_token(ME)
    assert post_logout(f"{backend}/backchannel-logout", logout_token).status_code == 200
    session_id = start_session(idp, backend)  # the citizen signs in again in the same sid
    assert_refused(post_logout(f"{backend}/backchannel-logout", logout_token), REPLAY)
    assert session_status(backend, session_id).status_code == 200


def test_garbage_and_foreign_tokens_are_400_without_a_traceback(idp, backend):
    session_id = start_session(idp, backend)
    url = f"{backend}/backchannel-logout"
    assert_refused(post_logout(url, "garbage"), "not a signed JWT")
    assert_refused(post_logout(url, idp.logout_token("another-client")), "not meant for")
    assert_refused(post_logout(url, idp.id_token(ME)), "typ")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert_refused(requests.post(url, data=b"\x00" * 40000, headers=form, timeout=10), "large")
    assert_refused(requests.post(url, json={"logout_token": "x"}, timeout=10), "form")
    assert requests.get(url, timeout=10).status_code == 405
    assert session_status(backend, session_id).status_code == 200
