"""The ``idp`` command line: JSON output, exit 0 on success, one line and exit 2 on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from idp.store.models import Account, Client, RegistryEntry
from tests.factories import id_number

IDP = str(Path(sys.executable).with_name("idp"))


def count(db_url: str, model) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(model)).scalar())
    finally:
        engine.dispose()


def assert_one_line_error(result, fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_init_is_idempotent_and_prints_json(run):
    data = json.loads(run("init", "--json").stdout)
    assert data["created_keys"] == [] and data["revision"]


def test_registry_import_then_account_create(run, tmp_path):
    number = id_number()
    csv = tmp_path / "people.csv"
    csv.write_text(f"id_number,name\n{number},孙八\n", encoding="utf-8")
    assert json.loads(run("registry", "import", str(csv), "--json").stdout) == {"imported": 1}
    result = run("accounts", "create", "--id-number", number, "--name", "孙八", "--phone",
                 "13700000001", "--password-stdin", "--json", stdin="Sturdy-Pass-42\n")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["id_number"] == number[:4] + "*" * 10 + number[-4:]
    assert number not in result.stdout + result.stderr


@pytest.mark.parametrize(("content", "fragment"), [
    ("id,name\n", "header"),
    ("id_number,name\n110105194912310021,张三\n", "line 2"),
])
def test_bad_registry_file_is_one_line_and_writes_nothing(run, tmp_path, content, fragment):
    csv = tmp_path / "bad.csv"
    csv.write_text(content, encoding="utf-8")
    assert_one_line_error(run("registry", "import", str(csv)), fragment)
    assert count(run.db_url, RegistryEntry) == 0


def test_missing_registry_file(run):
    assert_one_line_error(run("registry", "import", "/nonexistent.csv"), "not found")


def test_account_create_errors(run, tmp_path):
    number = id_number()
    (tmp_path / "p.csv").write_text(f"id_number,name\n{number},孙八\n", encoding="utf-8")
    run("registry", "import", str(tmp_path / "p.csv"))
    args = ["accounts", "create", "--id-number", number, "--phone", "13700000002",
            "--password-stdin"]
    assert_one_line_error(run(*args, "--name", "孙九", stdin="Sturdy-Pass-42\n"),
                          "population registry")
    assert_one_line_error(run(*args, "--name", "孙八", stdin="\n"), "no password")
    assert run(*args, "--name", "孙八", stdin="Sturdy-Pass-42\n").returncode == 0
    assert_one_line_error(run(*args, "--name", "孙八", stdin="Sturdy-Pass-42\n"),
                          "already exists")
    assert count(run.db_url, Account) == 1


def test_clients_create_prints_credentials_once(run):
    result = run("clients", "create", "--name", "人社门户", "--channel", "website",
                 "--redirect-uri", "https://hrss.example.gov.cn/cb", "--json")
    data = json.loads(result.stdout)
    assert data["client_secret"] and data["token_endpoint_auth_method"] == "client_secret_basic"
    app = json.loads(run("clients", "create", "--name", "App", "--channel", "app",
                         "--redirect-uri", "http://127.0.0.1/cb", "--json").stdout)
    assert "client_secret" not in app


@pytest.mark.parametrize(("args", "fragment"), [
    (["--channel", "website", "--redirect-uri", "http://evil.example/cb"], "use https"),
    (["--channel", "website"], "needs at least one --redirect-uri"),
    (["--channel", "fax", "--redirect-uri", "https://a.example/cb"], "fax"),
    (["--channel", "website", "--redirect-uri", "https://a.example/cb", "--scope", "admin"],
     "unknown scope"),
])
def test_clients_create_bad_input(run, args, fragment):
    assert_one_line_error(run("clients", "create", "--name", "x", *args), fragment)
    assert count(run.db_url, Client) == 0


def test_unknown_command_and_bad_settings(run):
    assert_one_line_error(run("frobnicate"), "No such command")
    env_bad = run("keys", "list")
    assert env_bad.returncode == 0 and "RS256" in env_bad.stdout


def test_bad_configuration_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env["IDP_TOKENS_AUTHORIZATION_CODE_TTL"] = "soon"
    result = subprocess.run([IDP, "init"], env=env, capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert_one_line_error(result, "tokens.authorization_code_ttl")


def test_audit_verify_reports_tampering(run):
    assert json.loads(run("audit", "verify", "--json").stdout)["ok"] is True
    engine = create_engine(run.db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1")
    engine.dispose()
    result = run("audit", "verify", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["broken_at"] == 1


def test_serve_refuses_unsafe_production_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update({"IDP_MODE": "production", "IDP_ISSUER": "http://id.example.gov.cn",
                "IDP_DATA_DIR": str(tmp_path / "var"), "IDP_KEYS_DIR": str(tmp_path / "k")})
    result = subprocess.run([IDP, "serve", "--port", "1"], env=env, capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert_one_line_error(result, "https")
    env.update({"IDP_ISSUER": "https://id.example.gov.cn", "IDP_SECRET_KEY": "s" * 48,
                "IDP_SMS_BACKEND": "none", "IDP_FACE_BACKEND": "none"})
    result = subprocess.run([IDP, "serve", "--port", "1"], env=env, capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert_one_line_error(result, "idp init")


def test_unreachable_database_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update({"IDP_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                "IDP_DATA_DIR": str(tmp_path / "var"), "IDP_KEYS_DIR": str(tmp_path / "k")})
    result = subprocess.run([IDP, "init"], env=env, capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert_one_line_error(result, "database error")
