"""``python -m clients.app`` commands after sign-in, through ``main()`` with a scripted IdP:
refresh rotation, whoami, approvals, exchange, and how every failure ends (one line, exit 2)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from clients.app import statefile
from clients.app.cli import main
from clients.common.http import HttpRequest
from clients.common.tests.fakeidp import ISSUER, SID, SUB, FakeIdp, json_response, oauth_error

APP = "demo-app"
TICKET = "q7sDKlq0m_fVvP-x3Rk9zB2a1cYtWn8e"
BACKEND = "http://127.0.0.1:5002"


@pytest.fixture
def idp() -> FakeIdp:
    return FakeIdp()


@pytest.fixture
def state(tmp_path: Path, idp: FakeIdp) -> Path:
    """A signed-in app: the state file as ``login`` leaves it."""
    path = tmp_path / "state.json"
    access = idp.access_token(APP)
    id_token = idp.id_token(APP, access_token=access, nonce="n-1")
    statefile.save(
        path,
        {
            "issuer": ISSUER,
            "client_id": APP,
            "access_token": access,
            "refresh_token": "rt-1",
            "id_token": id_token,
            "expires_at": int(time.time()) + 600,
            "scope": "openid profile phone offline_access",
            "nonce": "n-1",
            "claims": {"iss": ISSUER, "sub": SUB, "aud": [APP], "azp": APP, "sid": SID},
            "refreshes": 0,
        },
    )
    return path


def app(idp: FakeIdp, state: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["--state", str(state), *argv], out=out, err=err, transport=idp)
    return status, out.getvalue(), err.getvalue()


def one_line_error(result: tuple[int, str, str]) -> str:
    status, out, err = result
    assert status == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def bearer_of(request: HttpRequest) -> str:
    return request.headers["Authorization"].removeprefix("Bearer ")


# --- refresh -------------------------------------------------------------------------------


def rotated(idp: FakeIdp, n: int) -> Any:
    return json_response(
        200,
        {
            "access_token": idp.access_token(APP, jti=f"r{n}"),
            "token_type": "Bearer",
            "expires_in": 600,
            "refresh_token": f"rt-{n}",
        },
    )


def test_refresh_stores_the_rotated_refresh_token(idp, state):
    idp.on("POST", "/token", rotated(idp, 2), rotated(idp, 3))
    assert app(idp, state, "refresh")[0] == 0
    status, out, _ = app(idp, state, "refresh", "--json")
    assert status == 0
    result = json.loads(out)
    assert result["rotated"] is True and result["refreshes"] == 2
    assert result["refresh_token"] == "rt-3…"
    forms = [r.form for r in idp.sent("POST", "/token")]
    assert forms == [
        {"grant_type": "refresh_token", "refresh_token": "rt-1", "client_id": APP},
        {"grant_type": "refresh_token", "refresh_token": "rt-2", "client_id": APP},
    ]
    assert statefile.load(state)["refresh_token"] == "rt-3"


def test_refused_refresh_token_means_the_sign_in_was_revoked(idp, state):
    idp.on("POST", "/token", oauth_error("invalid_grant", "refresh token reused"))
    err = one_line_error(app(idp, state, "refresh"))
    assert "revoked" in err and "used twice" in err and "login" in err
    assert not state.exists(), "dead tokens are not kept"


def test_a_refreshed_id_token_must_be_the_same_sign_in(idp, state):
    access = idp.access_token(APP)
    idp.on(
        "POST",
        "/token",
        json_response(
            200,
            {
                "access_token": access,
                "token_type": "Bearer",
                "refresh_token": "rt-2",
                "id_token": idp.id_token(APP, access_token=access, sub="someone-else"),
            },
        ),
    )
    assert "changed sub" in one_line_error(app(idp, state, "refresh"))
    assert statefile.load(state)["refresh_token"] == "rt-1"


# --- whoami --------------------------------------------------------------------------------


def test_whoami_shows_userinfo(idp, state):
    idp.on("GET", "/userinfo", json_response(200, {"sub": SUB, "name": "张三"}))
    status, out, _ = app(idp, state, "whoami")
    assert status == 0 and out.startswith("张三\n") and f"sid): {SID}" in out
    status, out, _ = app(idp, state, "--json", "whoami")
    assert json.loads(out) == {"userinfo": {"sub": SUB, "name": "张三"}, "sid": SID}
    assert bearer_of(idp.sent("GET", "/userinfo")[0]) == statefile.load(state)["access_token"]


def test_an_expired_access_token_is_refreshed_first(idp, state):
    record = statefile.load(state)
    statefile.save(state, {**record, "expires_at": int(time.time()) - 1})
    idp.on("POST", "/token", rotated(idp, 2))
    idp.on("GET", "/userinfo", json_response(200, {"sub": SUB, "name": "张三"}))
    status, _, err = app(idp, state, "whoami")
    assert status == 0 and "refreshing" in err
    new = statefile.load(state)
    assert bearer_of(idp.sent("GET", "/userinfo")[0]) == new["access_token"]
    assert new["refresh_token"] == "rt-2"


def test_revoked_access_token(idp, state):
    idp.on(
        "GET",
        "/userinfo",
        json_response(
            401, {"error": "invalid_token"}, {"www-authenticate": 'Bearer error="invalid_token"'}
        ),
    )
    assert "invalid_token" in one_line_error(app(idp, state, "whoami"))


# --- approvals -----------------------------------------------------------------------------


def test_approve_device(idp, state):
    idp.on(
        "GET",
        "/api/device",
        json_response(
            200, {"client_name": "自助终端", "scopes": ["openid", "profile"], "expires_in": 540}
        ),
    )
    idp.on(
        "POST",
        "/api/device/approve",
        lambda r: json_response(
            200,
            {
                "status": "approved" if r.json["decision"] == "allow" else "denied",
                "client_name": "自助终端",
            },
        ),
    )
    status, out, err = app(idp, state, "approve-device", "bcdf ghjk")
    assert status == 0 and "Approved" in out and "自助终端" in err and "openid profile" in err
    status, out, _ = app(idp, state, "approve-device", "BCDF-GHJK", "--deny", "--json")
    assert status == 0 and json.loads(out)["result"]["status"] == "denied"
    assert [r.params for r in idp.sent("GET", "/api/device")] == [{"user_code": "BCDF-GHJK"}] * 2
    assert [r.json for r in idp.sent("POST", "/api/device/approve")] == [
        {"user_code": "BCDF-GHJK", "decision": "allow"},
        {"user_code": "BCDF-GHJK", "decision": "deny"},
    ]
    token = statefile.load(state)["access_token"]
    assert all(bearer_of(r) == token for r in idp.requests if "/api/" in r.url)


def test_approve_device_errors(idp, state):
    idp.on("GET", "/api/device", oauth_error("invalid_user_code", "no such code", 404))
    assert "invalid_user_code" in one_line_error(app(idp, state, "approve-device", "BCDF-GHJK"))
    assert "8 letters" in one_line_error(app(idp, state, "approve-device", "123"))
    assert not idp.sent("POST", "/api/device/approve")


def test_approve_qr_shows_what_the_phone_shows(idp, state):
    idp.on(
        "POST",
        "/api/qr/scan",
        json_response(
            200,
            {
                "status": "scanned",
                "browser": "Chrome 126 · Windows",
                "next_client": "示例部门门户",
                "requested_at": 1_750_000_000,
                "expires_at": 1_750_000_120,
            },
        ),
    )
    idp.on(
        "POST",
        "/api/qr/confirm",
        lambda r: json_response(
            200, {"status": "confirmed" if r.json["decision"] == "allow" else "denied"}
        ),
    )
    status, out, err = app(idp, state, "approve-qr", f"{ISSUER}/qr/{TICKET}")
    assert status == 0 and "Confirmed" in out
    assert "Chrome 126 · Windows" in err and "示例部门门户" in err and "(UTC+8)" in err
    status, out, _ = app(idp, state, "approve-qr", "--deny", "--json", "--", TICKET)
    assert json.loads(out)["result"] == {"status": "denied"}
    assert [r.json for r in idp.sent("POST", "/api/qr/confirm")] == [
        {"ticket_id": TICKET, "decision": "allow"},
        {"ticket_id": TICKET, "decision": "deny"},
    ]


def test_approve_qr_of_another_site_calls_nothing(idp, state):
    err = one_line_error(app(idp, state, "approve-qr", f"https://evil.example.test/qr/{TICKET}"))
    assert "not a sign-in of" in err
    assert not [r for r in idp.requests if "/api/" in r.url]


# --- exchange ------------------------------------------------------------------------------


def test_exchange_posts_the_app_token_to_the_backend(idp, state):
    idp.on(
        "POST",
        f"{BACKEND}/session",
        json_response(
            200, {"session_id": "S" * 43, "sub": SUB, "sid": SID, "name": "张三", "claims": {}}
        ),
    )
    status, out, _ = app(idp, state, "exchange", "--miniprogram", BACKEND + "/", "--json")
    assert status == 0
    shown = json.loads(out)
    assert shown["session_id"] == "SSSSSSSS…" and shown["sid"] == SID
    sent = [r for r in idp.requests if r.url == f"{BACKEND}/session"]
    assert sent[0].json == {"app_access_token": statefile.load(state)["access_token"]}


def test_exchange_errors(idp, state):
    idp.on(
        "POST",
        f"{BACKEND}/session",
        json_response(
            401, {"error": "invalid_token", "error_description": "the session has ended"}
        ),
    )
    err = one_line_error(app(idp, state, "exchange", "--miniprogram", BACKEND))
    assert "invalid_token" in err and "the session has ended" in err
    assert "https" in one_line_error(
        app(idp, state, "exchange", "--miniprogram", "http://mini.example.test")
    )


# --- the state file and its registration ---------------------------------------------------


def test_commands_use_the_state_files_issuer_and_refuse_another(idp, state):
    idp.on("GET", "/userinfo", json_response(200, {"sub": SUB}))
    assert app(idp, state, "whoami")[0] == 0, "issuer and client_id come from the state file"
    err = one_line_error(app(idp, state, "--issuer", "https://other.example.gov.cn", "whoami"))
    assert "other --state file" in err


def test_logout_local_forgets_the_tokens(idp, state):
    status, out, _ = app(idp, state, "logout-local")
    assert status == 0 and "session continues" in out and not state.exists()
    status, out, _ = app(idp, state, "logout-local", "--json")
    assert json.loads(out)["deleted"] is False
    assert "Not signed in" in one_line_error(app(idp, state, "whoami"))


def test_exposed_state_file_is_refused(idp, state):
    state.chmod(0o640)
    assert "other users" in one_line_error(app(idp, state, "whoami"))


def test_unreachable_idp(state):
    from clients.common.errors import unreachable

    def down(request: HttpRequest):
        raise unreachable(ConnectionError())

    out, err = io.StringIO(), io.StringIO()
    status = main(["--state", str(state), "whoami"], out=out, err=err, transport=down)
    assert status == 2 and "could not be reached" in err.getvalue()


def test_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["approve-qr"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "TICKET_OR_QR_URL" in err
