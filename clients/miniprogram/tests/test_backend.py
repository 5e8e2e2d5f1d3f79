"""The mini-program backend's POST /session: token exchange (RFC 8693) against a scripted IdP,
driven through Flask's test client."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from clients.common.errors import unreachable
from clients.common.http import HttpRequest, HttpResponse
from clients.common.settings import ConfigError
from clients.common.tests.fakeidp import ISSUER, SID, SUB, FakeIdp, json_response, oauth_error
from clients.miniprogram import MiniProgramConfig, create_app
from clients.miniprogram.config import load_config
from clients.miniprogram.exchange import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE

ME, SECRET, APP = "demo-miniprogram", "mp-secret-value", "demo-app"


@pytest.fixture
def idp() -> FakeIdp:
    return FakeIdp()


@pytest.fixture
def client(idp):
    config = MiniProgramConfig(issuer=ISSUER, client_id=ME, client_secret=SECRET)
    return create_app(config, transport=idp).test_client()


def exchanged(idp: FakeIdp, **overrides: Any) -> dict[str, Any]:
    access = overrides.pop("access_token", None) or idp.access_token(ME)
    body = {
        "access_token": access,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": 600,
        "scope": "openid profile phone",
        "id_token": overrides.pop("id_token", None) or idp.id_token(ME, access_token=access),
    }
    body.update(overrides)
    return body


def ready(idp: FakeIdp, **overrides: Any) -> FakeIdp:
    idp.on("POST", "/token", json_response(200, exchanged(idp, **overrides)))
    idp.on("GET", "/userinfo", json_response(200, {"sub": SUB, "name": "张三"}))
    return idp


def start(client, token: str | None) -> Any:
    return client.post("/session", json={"app_access_token": token})


def error_of(resp, status: int, error: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["error"] == error and body["error_description"], body
    return body


def test_exchange_starts_a_session_for_the_same_citizen(idp, client):
    ready(idp)
    app_token = idp.access_token(APP)
    resp = start(client, app_token)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert (body["sub"], body["sid"], body["name"]) == (SUB, SID, "张三")
    assert body["claims"] == {"sub": SUB, "name": "张三"}
    assert len(body["session_id"]) >= 32 and resp.headers["Cache-Control"] == "no-store"
    assert app_token not in resp.get_data(as_text=True)

    sent = idp.sent("POST", "/token")[0]
    assert sent.form == {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": app_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "scope": "openid profile phone",
    }
    basic = base64.b64decode(sent.headers["Authorization"].removeprefix("Basic ")).decode()
    assert basic == f"{ME}:{SECRET}"
    userinfo = idp.sent("GET", "/userinfo")[0]
    assert userinfo.headers["Authorization"] != f"Bearer {app_token}", "the new token is used"


def test_a_bad_app_token_is_refused_without_asking_the_idp(idp, client):
    for token in (
        "",
        "not.a.jwt",
        idp.id_token(APP),
        idp.access_token(APP, exp=int(time.time()) - 3600),
        idp.access_token(APP, sid=None),
    ):
        error_of(
            start(client, token) if token else start(client, None),
            *((400, "invalid_request") if not token else (401, "invalid_token")),
        )
    assert not idp.sent("POST", "/token")


@pytest.mark.parametrize(
    "idp_error, status, error",
    [
        ("invalid_grant", 401, "invalid_token"),
        ("invalid_request", 401, "invalid_token"),
        ("unauthorized_client", 403, "exchange_refused"),
        ("invalid_scope", 403, "exchange_refused"),
        ("invalid_client", 502, "backend_misconfigured"),
        ("server_error", 502, "exchange_failed"),
    ],
)
def test_idp_refusals_map_to_caller_errors(idp, client, idp_error, status, error):
    idp.on(
        "POST", "/token", oauth_error(idp_error, "because", 401 if "client" in idp_error else 400)
    )
    body = error_of(start(client, idp.access_token(APP)), status, error)
    assert idp_error in body["error_description"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"issued_token_type": "urn:ietf:params:oauth:token-type:jwt"},
        {"token_type": "DPoP"},
        {"id_token": None},
    ],
)
def test_unusable_exchange_responses(idp, client, overrides):
    body = exchanged(idp)
    body.update(overrides)
    idp.on("POST", "/token", json_response(200, {k: v for k, v in body.items() if v}))
    error_of(start(client, idp.access_token(APP)), 502, "bad_idp_response")


def test_exchanged_tokens_are_checked(idp, client):
    cases = [
        {"access_token": idp.access_token(APP)},  # not for us (aud / client_id)
        {"access_token": idp.access_token(ME, typ="JWT")},  # not an RFC 9068 access token
        {"id_token": idp.id_token(APP)},  # ID token for another client
        {"id_token": idp.id_token(ME, nonce="planted")},  # nonce where none was sent
        {"access_token": idp.access_token(ME, sid="another-session")},
        {"id_token": idp.id_token(ME, sub="someone-else")},
    ]
    for overrides in cases:
        ready(idp, **overrides)
        body = error_of(start(client, idp.access_token(APP)), 502, "bad_idp_response")
        assert "token" in body["error_description"]


def test_userinfo_about_someone_else_is_refused(idp, client):
    ready(idp)
    idp.on("GET", "/userinfo", json_response(200, {"sub": "someone-else"}))
    error_of(start(client, idp.access_token(APP)), 502, "bad_idp_response")


def test_unreachable_idp_is_a_json_502():
    def down(request: HttpRequest) -> HttpResponse:
        raise unreachable(ConnectionError())

    config = MiniProgramConfig(issuer=ISSUER, client_id=ME, client_secret=SECRET)
    client = create_app(config, transport=down).test_client()
    token = FakeIdp().access_token(APP)
    body = error_of(
        client.post("/session", json={"app_access_token": token}), 502, "idp_unavailable"
    )
    assert "JWKS" in body["error_description"]


def test_bodies_and_routes_that_are_not_the_api(client):
    error_of(client.post("/session", data="x"), 400, "invalid_request")
    error_of(client.post("/session", json=["x"]), 400, "invalid_request")
    error_of(client.put("/session"), 405, "method_not_allowed")
    error_of(client.get("/session"), 401, "invalid_session")
    error_of(client.get("/nowhere"), 404, "not_found")
    error_of(
        client.post("/session", data="x" * 20000, content_type="application/json"),
        413,
        "request_too_large",
    )
    assert client.get("/healthz").get_json() == {"status": "ok", "sessions": 0}


def test_config_needs_credentials_and_defaults_to_port_5002(tmp_path):
    with pytest.raises(ConfigError, match="client_id is required"):
        load_config(environ={})
    path = tmp_path / "mp.json"
    path.write_text(json.dumps({"issuer": ISSUER, "client_id": ME, "client_secret": SECRET}))
    config = load_config(environ={"MINIPROGRAM_SCOPE": "openid"}, config_file=str(path))
    assert (config.port, config.host, config.scope) == (5002, "127.0.0.1", "openid")
    with pytest.raises(ConfigError, match="https"):
        load_config(environ={}, config_file=str(path), overrides={"issuer": "http://x.test"})
