"""``python -m clients.app listen``: the app's back-channel logout listener as its own process,
over real HTTP, against the scripted IdP served on loopback; then ``status`` says why the app
is signed out, and a restarted listener still refuses a replayed logout token."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clients.app import statefile
from clients.app.cli import main
from clients.common.backchannel import REPLAY
from clients.common.replay import replay_file_for
from clients.common.tests.fakeidp import SID, SUB, FakeIdp
from clients.common.tests.servers import assert_refused, listening, post_logout, served_idp

APP = "demo-app"


@pytest.fixture
def idp() -> Iterator[FakeIdp]:
    with served_idp() as idp:
        yield idp


def signed_in(path: Path, idp: FakeIdp, **overrides: Any) -> Path:
    """The state file as ``login`` leaves it."""
    record = {
        "issuer": idp.issuer,
        "client_id": APP,
        "access_token": idp.access_token(APP),
        "refresh_token": "rt-1",
        "id_token": idp.id_token(APP),
        "expires_at": int(time.time()) + 600,
        "scope": "openid profile offline_access",
        "nonce": "n-1",
        "claims": {"iss": idp.issuer, "sub": SUB, "aud": [APP], "sid": SID, "name": "张三"},
        "refreshes": 0,
    }
    record.update(overrides)
    statefile.save(path, record)
    return path


def app(state: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["--state", str(state), *argv], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_logout_deletes_the_tokens_and_status_says_why(idp, tmp_path):
    state = signed_in(tmp_path / "app.json", idp)
    assert "已登录 / Signed in" in app(state, "status")[1]
    log = tmp_path / "listen.log"
    with listening("clients.app", "--state", str(state), "--issuer", idp.issuer, log=log) as url:
        logout_token = idp.logout_token(APP)
        resp = post_logout(f"{url}/backchannel-logout", logout_token)
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"

        stored = statefile.peek(state)
        assert stored is not None and isinstance(stored[statefile.SIGNED_OUT], int)
        assert not {"access_token", "refresh_token", "id_token"} & stored.keys()
        assert stored["claims"] == {"sub": SUB, "sid": SID}, "the name is forgotten too"

        before = state.read_bytes()
        assert_refused(post_logout(f"{url}/backchannel-logout", logout_token), REPLAY)
        assert_refused(post_logout(f"{url}/backchannel-logout", "garbage"), "not a signed JWT")
        assert state.read_bytes() == before, "nothing else changed"

    status, out, _ = app(state, "status")
    assert status == 0 and "统一身份认证平台已于" in out and "The IdP signed this app out" in out
    status, _, err = app(state, "whoami")
    assert status == 2 and "signed this app out" in err and len(err.strip().splitlines()) == 1
    text = log.read_text()
    assert "Traceback" not in text and logout_token not in text
    assert "Back-channel logout listener on" in text

    # A restarted listener still refuses the replay: the jti values are kept beside the state.
    assert replay_file_for(state).exists()
    with listening("clients.app", "--state", str(state), "--issuer", idp.issuer, log=log) as url:
        assert_refused(post_logout(f"{url}/backchannel-logout", logout_token), REPLAY)


def test_a_logout_for_another_session_or_another_client_changes_nothing(idp, tmp_path):
    state = signed_in(tmp_path / "app.json", idp)
    before = state.read_bytes()
    log = tmp_path / "listen.log"
    with listening("clients.app", "--state", str(state), "--issuer", idp.issuer, log=log) as url:
        other_sid = post_logout(f"{url}/backchannel-logout", idp.logout_token(APP, sid="sid-x"))
        assert other_sid.status_code == 200, "no local session: the logout succeeded trivially"
        not_ours = post_logout(f"{url}/backchannel-logout", idp.logout_token("demo-counter"))
        assert_refused(not_ours, "not meant for this client")
    assert state.read_bytes() == before
    assert app(state, "status")[1].startswith("已登录 / Signed in")


def test_status_json_and_not_signed_in(idp, tmp_path):
    state = tmp_path / "none.json"
    status, out, _ = app(state, "status")
    assert status == 0 and "Not signed in" in out
    signed_in(state, idp)
    status, out, _ = app(state, "status", "--json")
    assert status == 0 and '"signed_in": true' in out and SID in out
    assert idp.access_token(APP)[:20] not in out


def test_a_bad_port_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        app(tmp_path / "s.json", "listen", "--port", "70000")
    err = capsys.readouterr().err
    assert info.value.code == 2 and "invalid port" in err and len(err.strip().splitlines()) == 1
