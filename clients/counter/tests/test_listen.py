"""``python -m clients.counter listen``: the terminal forgets the citizen when the IdP ends
their session (back-channel logout), over real HTTP against the scripted IdP on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.common.backchannel import REPLAY
from clients.common.tests.fakeidp import SID, SUB, FakeIdp, json_response
from clients.common.tests.servers import assert_refused, listening, post_logout, served_idp
from clients.counter.tests.test_cli import ME, scripted, signin, tokens


@pytest.fixture
def idp() -> Iterator[FakeIdp]:
    with served_idp() as idp:
        yield idp


@pytest.fixture
def config(idp, tmp_path) -> str:
    path = tmp_path / "counter.json"
    settings = {"issuer": idp.issuer, "client_id": ME, "client_secret": "s3cret"}
    path.write_text(json.dumps({**settings, "state_file": str(tmp_path / "terminal.json")}))
    return str(path)


def signed_in(idp: FakeIdp, config: str) -> Path:
    scripted(json_response(200, tokens(idp)), idp=idp)
    status, _, err = signin(idp, "--config", config, "signin")
    assert status == 0, err
    return Path(json.loads(Path(config).read_text())["state_file"])


def test_the_terminal_forgets_the_citizen(idp, config, tmp_path):
    state = signed_in(idp, config)
    assert "张三" in signin(idp, "--config", config, "status")[1]
    log = tmp_path / "listen.log"
    with listening("clients.counter", "--config", config, log=log) as url:
        logout_token = idp.logout_token(ME)
        resp = post_logout(f"{url}/backchannel-logout", logout_token)
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
        stored = json.loads(state.read_text())
        assert stored["claims"] == {"sub": SUB, "sid": SID}
        assert "access_token" not in stored and "张三" not in state.read_text()

        before = state.read_bytes()
        assert_refused(post_logout(f"{url}/backchannel-logout", logout_token), REPLAY)
        assert_refused(post_logout(f"{url}/backchannel-logout", "garbage"), "not a signed JWT")
        assert state.read_bytes() == before

    status, out, _ = signin(idp, "--config", config, "status")
    assert status == 0 and "结束该市民的会话" in out and "the terminal forgot them" in out
    status, out, _ = signin(idp, "--config", config, "--json", "status")
    assert json.loads(out)["signed_in"] is False and json.loads(out)["signed_out_by_idp_at"]
    assert "Traceback" not in log.read_text() and logout_token not in log.read_text()


def test_a_logout_for_another_session_leaves_the_citizen(idp, config, tmp_path):
    state = signed_in(idp, config)
    before = state.read_bytes()
    with listening("clients.counter", "--config", config, log=tmp_path / "l.log") as url:
        resp = post_logout(f"{url}/backchannel-logout", idp.logout_token(ME, sid="sid-other"))
        assert resp.status_code == 200
        assert_refused(post_logout(f"{url}/backchannel-logout", idp.logout_token("demo-app")))
    assert state.read_bytes() == before


def test_status_with_nobody_signed_in(config):
    status, out, _ = signin(FakeIdp(), "--config", config, "status")
    assert status == 0 and "No citizen is signed in" in out
