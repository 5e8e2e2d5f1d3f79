"""The ``run`` fixture of the command-line tests: ``idp ARGS`` against a fresh, initialised
data directory and database (SQLite and PostgreSQL, through ``db_url``)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.fixtures.cli import run_idp


@pytest.fixture
def run(tmp_path, db_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update({"IDP_DATABASE_URL": db_url, "IDP_DATA_DIR": str(tmp_path / "var"),
                "IDP_KEYS_DIR": str(tmp_path / "keys"), "IDP_PASSWORDS_TIME_COST": "1",
                "IDP_PASSWORDS_MEMORY_COST": "8192"})

    def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_idp(args, env=env, stdin=stdin, cwd=tmp_path)

    _run.db_url = db_url  # type: ignore[attr-defined]
    assert _run("init").returncode == 0
    return _run
