"""``idp delegations grant|revoke``: JSON output, masked ID numbers, one-line errors, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from idp.store.models import Delegation
from tests.cli.test_cli import assert_one_line_error, count
from tests.factories import id_number
from tests.fixtures.cli import run_idp

PASSWORD = "Sturdy-Pass-42\n"


@pytest.fixture
def idp(tmp_path: Path, db_url: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update({"IDP_DATABASE_URL": db_url, "IDP_DATA_DIR": str(tmp_path / "var"),
                "IDP_KEYS_DIR": str(tmp_path / "keys"), "IDP_PASSWORDS_TIME_COST": "1",
                "IDP_PASSWORDS_MEMORY_COST": "8192"})

    def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_idp(args, env=env, stdin=stdin, cwd=tmp_path)

    assert _run("init").returncode == 0
    return _run


@pytest.fixture
def people(idp, tmp_path):
    """Two citizens created through the CLI: (ID number, phone, sub) each."""
    found = []
    for name, phone in (("周大爷", "13700000011"), ("周小红", "13700000012")):
        number = id_number()
        (tmp_path / "p.csv").write_text(f"id_number,name\n{number},{name}\n", encoding="utf-8")
        assert idp("registry", "import", str(tmp_path / "p.csv")).returncode == 0
        result = idp("accounts", "create", "--id-number", number, "--name", name, "--phone",
                     phone, "--password-stdin", "--json", stdin=PASSWORD)
        assert result.returncode == 0, result.stderr
        found.append((number, phone, json.loads(result.stdout)["sub"]))
    return found


def test_grant_and_revoke_print_json_with_masked_numbers(idp, people, db_url):
    (c_number, _, c_sub), (a_number, a_phone, a_sub) = people
    result = idp("delegations", "grant", "--citizen", c_number, "--agent", a_phone,
                 "--days", "30", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["citizen"] == c_sub and data["agent"] == a_sub and data["revoked_at"] is None
    assert data["citizen_id_number"] == c_number[:4] + "*" * 10 + c_number[-4:]
    assert c_number not in result.stdout and a_number not in result.stdout
    result = idp("delegations", "revoke", "--citizen", c_sub, "--agent", a_number, "--json")
    assert result.returncode == 0, result.stderr
    revoked = json.loads(result.stdout)
    assert revoked["delegation"] == data["delegation"] and revoked["revoked_at"]
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(Delegation.revoked_at)).one()
    finally:
        engine.dispose()
    assert row.revoked_at is not None


def test_text_output(idp, people):
    (c_number, _, _), (a_number, _, _) = people
    result = idp("delegations", "grant", "--citizen", c_number, "--agent", a_number)
    assert result.returncode == 0 and "may act for" in result.stdout
    assert c_number not in result.stdout


@pytest.mark.parametrize(("args", "fragment"), [
    (["--citizen", "13700000011", "--agent", "13700000011"], "their own agent"),
    (["--citizen", "13700000011", "--agent", "13799999999"], "no citizen account"),
    (["--citizen", "13700000011", "--agent", "13700000012", "--days", "0"], "--days"),
    (["--citizen", "13700000011"], "--agent"),
])
def test_bad_grants_are_one_line_and_write_nothing(idp, people, db_url, args, fragment):
    assert_one_line_error(idp("delegations", "grant", *args), fragment)
    assert count(db_url, Delegation) == 0


def test_duplicate_grant_and_revoking_nothing(idp, people, db_url):
    args = ["--citizen", "13700000011", "--agent", "13700000012"]
    assert idp("delegations", "grant", *args).returncode == 0
    assert_one_line_error(idp("delegations", "grant", *args), "revoke it first")
    assert count(db_url, Delegation) == 1
    assert idp("delegations", "revoke", *args).returncode == 0
    assert_one_line_error(idp("delegations", "revoke", *args), "no active delegation")


def test_unknown_citizen_is_not_echoed(idp, people):
    stranger = id_number()
    result = idp("delegations", "grant", "--citizen", stranger, "--agent", "13700000012")
    assert_one_line_error(result, "no citizen account matches the citizen")
    assert stranger not in result.stderr
