"""``idp audit anchor | verify | export``: a clean truncation of the trail (tail cut, head row
rewritten) is named once an anchor was taken; the export is JSON Lines with the hashes; bad
input is one line and exit 2."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine

from tests.cli.test_cli import assert_one_line_error


def _sql(run, *statements: str) -> None:
    engine = create_engine(run.db_url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_anchor_then_a_clean_truncation_is_named(run, tmp_path):
    for n in range(3):  # a few more entries than `idp init` wrote
        assert run("clients", "create", "--name", f"Portal {n}", "--channel", "website",
                   "--redirect-uri", f"https://p{n}.example.gov.cn/cb").returncode == 0
    anchored = json.loads(run("audit", "anchor", "--json").stdout)
    assert anchored["seq"] >= 4 and len(anchored["hash"]) == 64
    assert (tmp_path / "var" / "audit-anchors.jsonl").exists()
    intact = json.loads(run("audit", "verify", "--json").stdout)
    assert intact["ok"] is True and intact["anchors"] == 1
    keep = anchored["seq"] - 2
    _sql(run, f"DELETE FROM audit_events WHERE seq > {keep}",  # noqa: S608 — test data
         f"UPDATE audit_head SET seq = {keep}, hash = (SELECT hash FROM audit_events "  # noqa: S608
         f"WHERE seq = {keep})")
    result = run("audit", "verify", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["broken_at"] == keep + 1 and "truncated" in report["reason"]
    text = run("audit", "verify")
    assert text.returncode == 1 and f"BROKEN at entry {keep + 1}" in text.stdout


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
def test_verify_names_the_first_tampered_entry_and_exits_1(run, tamper):
    for n in range(4):
        assert run("clients", "create", "--name", f"Portal {n}", "--channel", "website",
                   "--redirect-uri", f"https://p{n}.example.gov.cn/cb").returncode == 0
    seqs = [e["seq"] for e in map(json.loads, run("audit", "export").stdout.splitlines())]
    a, b = seqs[-3], seqs[-2]
    if tamper == "edit":  # an insider rewrites what an entry says
        _sql(run, f"UPDATE audit_events SET actor = 'someone-else' WHERE seq = {a}")  # noqa: S608
        where, why = a, "altered"
    elif tamper == "delete":  # an entry disappears from the middle
        _sql(run, f"DELETE FROM audit_events WHERE seq = {a}")  # noqa: S608
        where, why = b, "removed or reordered"
    else:  # two entries swap places (their contents; the sequence numbers stay)
        _sql(run, f"UPDATE audit_events SET seq = -1 WHERE seq = {a}",  # noqa: S608
             f"UPDATE audit_events SET seq = {a} WHERE seq = {b}",  # noqa: S608
             f"UPDATE audit_events SET seq = {b} WHERE seq = -1")  # noqa: S608
        where, why = a, "removed or reordered"
    result = run("audit", "verify", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["broken_at"] == where and why in report["reason"]
    text = run("audit", "verify")
    assert text.returncode == 1 and f"BROKEN at entry {where}" in text.stdout


def test_export_writes_json_lines_with_the_hashes(run):
    assert run("clients", "create", "--name", "Portal", "--channel", "website", "--redirect-uri",
               "https://p.example.gov.cn/cb").returncode == 0
    lines = run("audit", "export").stdout.splitlines()
    entries = [json.loads(line) for line in lines]
    assert len(entries) >= 2 and [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(entries, entries[1:], strict=False))
    clients = [json.loads(line) for line in run("audit", "export", "--tag", "client:").stdout
               .splitlines()]
    assert clients and all(e["tag"].startswith("client:") for e in clients)
    later = run("audit", "export", "--since", str(entries[-1]["seq"])).stdout
    assert later == ""


def test_bad_input_is_one_line(run, tmp_path):
    assert_one_line_error(run("audit", "export", "--since", "-1"), "-1")
    assert_one_line_error(run("audit", "verify", "--anchors", str(tmp_path / "none.jsonl")),
                          "no anchor file")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not an anchor\n")
    assert_one_line_error(run("audit", "verify", "--anchors", str(bad)), "line 1")


def test_a_missing_choice_option_is_one_line_too(run):
    result = run("clients", "create", "--name", "Portal", "--redirect-uri",
                 "https://p.example.gov.cn/cb")
    assert_one_line_error(result, "--channel")
    assert "website" in result.stderr  # the choices, on the same line
