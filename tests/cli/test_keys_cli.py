"""``idp keys list|rotate|retire|revoke`` (SQLite and PostgreSQL): the lifecycle from the
command line, audited as ``staff:<--actor>``; bad input is one line, exit 2, and changes
nothing — no key, no audit entry."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli import assert_one_line_error


def _keys(run):
    return json.loads(run("keys", "list", "--json").stdout)["keys"]


def _audit(run):
    return run("audit", "export").stdout.splitlines()


def _kid(run, alg, state):
    return next(k["kid"] for k in _keys(run) if k["alg"] == alg and k["state"] == state)


def test_list_shows_every_key_with_its_dates(run):
    keys = _keys(run)
    assert sorted((k["alg"], k["state"]) for k in keys) == [("ES256", "active"),
                                                           ("RS256", "active")]
    for key in keys:
        assert set(key) == {"kid", "alg", "state", "created_at", "activates_at",
                            "activated_at", "retired_at", "remove_after", "removed_at",
                            "revoked_at"}
        assert key["created_at"] and key["activated_at"] and key["retired_at"] is None
    text = run("keys", "list").stdout
    assert all(k["kid"] in text for k in keys) and "active" in text


def test_rotate_then_retire_then_revoke(run):
    rotated = json.loads(run("keys", "rotate", "--alg", "ES256", "--actor", "alice",
                             "--json").stdout)["keys"]
    assert [(k["alg"], k["state"]) for k in rotated] == [("ES256", "next")]
    assert rotated[0]["activates_at"]
    again = json.loads(run("keys", "rotate", "--json").stdout)["keys"]  # ES256 kept, RS256 new
    assert sorted(k["alg"] for k in again) == ["ES256", "RS256"]
    assert rotated[0]["kid"] in {k["kid"] for k in again}

    old = _kid(run, "ES256", "active")
    retired = json.loads(run("keys", "retire", old, "--json").stdout)
    assert retired["state"] == "retired" and retired["remove_after"]
    assert _kid(run, "ES256", "active") == rotated[0]["kid"]

    revoked = json.loads(run("keys", "revoke", old, "--reason", "drill", "--json").stdout)
    assert revoked == {"kid": old, "alg": "ES256", "tokens_revoked": 0, "replacement": None}
    text = run("keys", "revoke", rotated[0]["kid"], "--reason", "drill").stdout
    assert "revoked" in text and "signs ES256 now" in text  # a replacement signs at once
    assert _kid(run, "ES256", "active") not in (old, rotated[0]["kid"])

    tags = [json.loads(line) for line in _audit(run)]
    rotate = [e for e in tags if e["tag"] == "key:rotate"]
    assert rotate[0]["actor"] == "staff:alice" and rotate[1]["actor"] == "staff:cli"
    assert [e["extra"]["reason"] for e in tags if e["tag"] == "key:revoke"] == ["drill"] * 2


def test_rotate_if_due_does_nothing_before_it_is_due(run):
    done = json.loads(run("keys", "rotate", "--if-due", "--json").stdout)
    assert done["advanced"] == [] and done["rotated"] == []
    assert set(done["schedule"]) == {"RS256", "ES256"}
    assert {k["state"] for k in _keys(run)} == {"active"}
    assert "next key published from" in run("keys", "rotate", "--if-due").stdout


@pytest.mark.parametrize(("args", "fragment"), [
    (["retire", "nope"], "no signing key nope"),
    (["revoke", "nope"], "no signing key nope"),
    (["retire", "ACTIVE"], "rotate first"),
    (["rotate", "--alg", "HS256"], "HS256"),
    (["rotate", "--if-due", "--alg", "ES256"], "leave out --alg"),
    (["rotate", "--actor", ""], "--actor"),
    (["retire"], "Missing argument"),
])
def test_bad_input_is_one_line_and_changes_nothing(run, args, fragment):
    args = [_kid(run, "ES256", "active") if a == "ACTIVE" else a for a in args]
    keys, audit = _keys(run), _audit(run)
    assert_one_line_error(run("keys", *args), fragment)
    assert _keys(run) == keys and _audit(run) == audit


def test_revoke_twice_is_one_line_and_changes_nothing(run):
    kid = _kid(run, "RS256", "active")
    assert run("keys", "revoke", kid).returncode == 0
    keys, audit = _keys(run), _audit(run)
    assert_one_line_error(run("keys", "revoke", kid), "already revoked")
    assert_one_line_error(run("keys", "retire", kid), "revoked")
    assert _keys(run) == keys and _audit(run) == audit
