"""Settings loading (defaults < environment < file < flags) and the HTTP edge helpers."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pytest
import requests

from clients.common.http import HttpRequest, HttpResponse, TransportAdapter, basic_auth
from clients.common.settings import ConfigError, check_url, load_settings


@dataclass(frozen=True)
class Demo:
    issuer: str = "http://localhost:5000"
    port: int = 1
    timeout: float = 2.0


def test_later_sources_win(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"port": 3}))
    env = {"DEMO_PORT": "2", "DEMO_TIMEOUT": "5", "OTHER_PORT": "9"}
    loaded = load_settings(
        Demo,
        env_prefix="DEMO_",
        environ=env,
        config_file=str(config),
        overrides={"timeout": 7, "issuer": None},
    )
    assert loaded == Demo(issuer="http://localhost:5000", port=3, timeout=7.0)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"nope": 1}, "unknown setting 'nope'"),
        ({"port": "many"}, "port: expected int"),
        ({"port": True}, "got a boolean"),
    ],
)
def test_bad_settings_are_one_line(tmp_path, data, message):
    config = tmp_path / "c.json"
    config.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message):
        load_settings(Demo, env_prefix="DEMO_", environ={}, config_file=str(config))


def test_unreadable_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(Demo, env_prefix="DEMO_", environ={}, config_file=str(tmp_path / "x"))
    (tmp_path / "bad.json").write_text("[1]")
    with pytest.raises(ConfigError, match="JSON object"):
        load_settings(Demo, env_prefix="DEMO_", environ={}, config_file=str(tmp_path / "bad.json"))


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://id.example.gov.cn/", True),
        ("http://127.0.0.1:5000", True),
        ("http://id.example.gov.cn", False),
        ("https://id.example.gov.cn/?x=1", False),
        ("ftp://id.example.gov.cn", False),
    ],
)
def test_check_url(url, ok):
    if ok:
        assert not check_url("issuer", url).endswith("/")
    else:
        with pytest.raises(ConfigError):
            check_url("issuer", url)


def test_basic_auth_form_encodes_both_parts():
    header = basic_auth("client:1", "s3cr et/+")["Authorization"]
    assert base64.b64decode(header.removeprefix("Basic ")) == b"client%3A1:s3cr+et%2F%2B"


def test_transport_adapter_carries_requests_sessions_to_the_edge():
    seen: list[HttpRequest] = []

    def transport(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse(200, b'{"ok": true}', {"content-type": "application/json"})

    session = requests.Session()
    session.mount("https://", TransportAdapter(transport))
    resp = session.post("https://id.example.gov.cn/token?x=1", data={"a": "b c"})
    assert resp.json() == {"ok": True}
    assert seen[0].url == "https://id.example.gov.cn/token"
    assert seen[0].params == {"x": "1"} and seen[0].form == {"a": "b c"}
