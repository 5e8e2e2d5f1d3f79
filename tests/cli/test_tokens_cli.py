"""`idp tokens purge` from the command line: JSON summary, one-line errors, exit 2."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_purge_prints_what_it_deleted(run):
    result = run("tokens", "purge", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) | {"cutoff": 0} == {"deleted": 0, "batches": 1, "cutoff": 0}
    assert "deleted 0 expired token records" in run("tokens", "purge").stdout


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("args", [["--grace", "-1"], ["--batch", "0"], ["--grace", "soon"]])
def test_bad_options_get_one_line_and_exit_2(run, args):
    result = run("tokens", "purge", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
