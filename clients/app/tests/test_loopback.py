"""The loopback redirect listener (RFC 8252 §7.3): 127.0.0.1, any port, only our state."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from clients.app.loopback import LoopbackListener
from clients.common.errors import ClientError


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 — our own listener
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_listens_on_127_0_0_1_with_an_ephemeral_port():
    with LoopbackListener() as listener:
        assert listener.port > 0
        assert listener.redirect_uri == f"http://127.0.0.1:{listener.port}/callback"


def test_only_the_callback_with_our_state_is_taken():
    statuses: list[int] = []
    with LoopbackListener() as listener:
        base = listener.redirect_uri

        def browser() -> None:
            statuses.append(get(base.replace("/callback", "/favicon.ico")))
            statuses.append(get(f"{base}?{urlencode({'code': 'evil', 'state': 'forged'})}"))
            statuses.append(get(f"{base}?code=c&state=s1&state=s1"))  # repeated parameter
            statuses.append(get(f"{base}?{urlencode({'code': 'c1', 'state': 's1', 'iss': 'i'})}"))

        thread = threading.Thread(target=browser)
        thread.start()
        params = listener.wait("s1", timeout=10)
        thread.join()
    assert params == {"code": "c1", "state": "s1", "iss": "i"}
    assert statuses == [404, 400, 400, 200]


def test_waiting_ends_with_a_timeout():
    with LoopbackListener() as listener, pytest.raises(ClientError) as info:
        listener.wait("s1", timeout=0.2)
    assert info.value.code == "login_timeout"
