"""``idp identity status|rekey`` over a real subprocess: summary, exit codes, no clear number."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from idp.config import load_settings
from idp.container import build_services
from tests.cli.test_cli import assert_one_line_error
from tests.fixtures.cli import run_idp

IDP = str(Path(sys.executable).with_name("idp"))
NUMBER = "11010519491231002X"
PASSWORD = "Sturdy-Pass-42"


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    base.update({"IDP_DATABASE_URL": db_url, "IDP_DATA_DIR": str(tmp_path / "var"),
                 "IDP_KEYS_DIR": str(tmp_path / "keys"), "IDP_ISSUER": "http://localhost:5000",
                 "IDP_PASSWORDS_TIME_COST": "1", "IDP_PASSWORDS_MEMORY_COST": "8192"})
    return base


@pytest.fixture
def run(tmp_path: Path, env: dict[str, str]):
    def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_idp(args, env=env, stdin=stdin, cwd=tmp_path)

    assert _run("init").returncode == 0
    return _run


@pytest.fixture
def citizens(run, tmp_path: Path) -> list[tuple[str, str]]:
    """Three accounts made through the CLI: (ID number, phone)."""
    people = [(NUMBER, "13700000001"), ("110105198001010016", "13700000002"),
              ("110105198001010032", "13700000003")]
    csv = tmp_path / "people.csv"
    csv.write_text("id_number,name\n" + "".join(f"{n},孙八\n" for n, _ in people),
                   encoding="utf-8")
    assert run("registry", "import", str(csv)).returncode == 0
    for number, phone in people:
        result = run("accounts", "create", "--id-number", number, "--name", "孙八",
                     "--phone", phone, "--password-stdin", stdin=PASSWORD + "\n")
        assert result.returncode == 0, result.stderr
    return people


def test_rekey_prints_a_summary_and_every_account_still_signs_in(
        run, citizens, env, tmp_path: Path, db_url: str) -> None:
    before = json.loads(run("identity", "status", "--json").stdout)
    old_key = before["current_key"]
    assert before["rows_per_key"] == {old_key: 3} and before["pending"] == 0
    assert before["secrets_per_key"] == {}

    result = run("identity", "rekey", "--new-key", "--batch", "2")
    assert result.returncode == 0, result.stderr
    assert "re-encrypted 3 ID number(s) and 0 TOTP secret(s) of 3 pending in 2 batch(es)" \
        in result.stdout
    assert "every account is under the current key" in result.stdout
    assert "re-keying ID numbers" in result.stderr  # the progress bar, on stderr

    after = json.loads(run("identity", "status", "--json").stdout)
    assert after["current_key"] != old_key and after["rows_per_key"] == {after["current_key"]: 3}
    assert old_key in after["loaded_keys"]
    again = json.loads(run("identity", "rekey", "--json").stdout)
    assert again == {"target_key": after["current_key"], "created_key": False,
                     "pending_at_start": 0, "rewrapped": 0, "skipped": 0,
                     "secrets_rewrapped": 0, "secrets_skipped": 0, "batches": 0,
                     "remaining": 0, "complete": True}
    assert run("audit", "verify").returncode == 0

    svc = build_services(load_settings(env))
    try:
        for number, _ in citizens:
            account = svc.accounts.authenticate(number, PASSWORD)
            assert svc.accounts.reveal_id_number(account) == number
        texts = [json.dumps([e.tag, e.extra], ensure_ascii=False)
                 for e in svc.audit.events(limit=1000)]
    finally:
        svc.close()
    assert any("identity:rekey:success" in t for t in texts)

    forms = {n for number, _ in citizens for n in (number, number.lower(), number[:17])}
    printed = result.stdout + result.stderr + json.dumps(again) + json.dumps(after) + \
        "".join(texts)
    assert not [f for f in forms if f in printed]
    if db_url.startswith("sqlite"):  # every byte of the database files, WAL included
        database = Path(db_url.removeprefix("sqlite:///"))
        files = [database, database.with_name(database.name + "-wal"),
                 *(tmp_path / "var").glob("*.db*")]
        blob = b"".join(p.read_bytes() for p in files if p.is_file())
        assert len(blob) > 10_000
        for form in forms:
            for encoding in ("ascii", "utf-16-le", "utf-16-be"):
                assert form.encode(encoding) not in blob, form


def test_resumed_after_max_batches(run, citizens) -> None:
    first = json.loads(run("identity", "rekey", "--new-key", "--batch", "1", "--max-batches",
                           "1", "--json").stdout)
    assert (first["rewrapped"], first["remaining"], first["complete"]) == (1, 2, False)
    text = run("identity", "rekey", "--new-key").stdout  # continues: no third key
    assert "re-encrypted 2 ID number(s) and 0 TOTP secret(s) of 2 pending" in text
    status = json.loads(run("identity", "status", "--json").stdout)
    assert status["rows_per_key"] == {first["target_key"]: 3}


@pytest.mark.parametrize(("args", "fragment"), [
    (("--batch", "0"), "--batch"),
    (("--batch", "many"), "--batch"),
    (("--max-batches", "-1"), "--max-batches"),
])
def test_bad_input_is_one_line(run, args, fragment) -> None:
    assert_one_line_error(run("identity", "rekey", *args), fragment)


def test_missing_key_file_is_one_line(run, citizens, tmp_path: Path) -> None:
    status = json.loads(run("identity", "status", "--json").stdout)
    (tmp_path / "keys" / "identity" / f"data-{status['current_key']}.key").unlink()
    result = run("identity", "rekey", "--new-key")
    assert_one_line_error(result, "identity keys missing")
