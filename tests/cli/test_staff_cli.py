"""``idp staff``: bootstrap the first admin (TOTP enrolment printed once), list, disable and
enable, new TOTP, API tokens; bad input is one line, exit 2, and writes nothing. Also
``idp accounts reset-factors`` (helpdesk's lost-phone reset, from the command line)."""

from __future__ import annotations

import json

import pyotp
from sqlalchemy import create_engine, func, select

from idp.store.models import StaffAccount, StaffApiToken
from tests.cli.test_cli import assert_one_line_error

PASSWORD = "staff-Password-2026!\n"  # noqa: S105 — test data


def _count(run, model) -> int:
    engine = create_engine(run.db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(model)).scalar_one())
    finally:
        engine.dispose()


def test_bootstrap_admin_prints_the_enrolment_once(run):
    created = json.loads(run("staff", "create", "--username", "admin", "--name", "首席管理员",
                             "--role", "security_admin", "--password-stdin", "--json",
                             stdin=PASSWORD).stdout)
    assert created["role"] == "security_admin" and created["username"] == "admin"
    totp = pyotp.parse_uri(created["totp_uri"])
    assert totp.secret == created["totp_secret"] and len(totp.now()) == 6
    text = run("staff", "create", "--username", "clerk", "--name", "窗口", "--role",
               "helpdesk", "--password-stdin", stdin=PASSWORD)
    assert text.returncode == 0 and "created helpdesk clerk" in text.stdout
    assert "▀" in text.stdout or "█" in text.stdout  # the QR code, for the phone
    assert "PASSWORD" not in text.stdout and "staff-Password" not in text.stdout
    listed = json.loads(run("staff", "list", "--json").stdout)["staff"]
    assert [(s["username"], s["role"], s["status"]) for s in listed] == [
        ("admin", "security_admin", "active"), ("clerk", "helpdesk", "active")]
    assert "totp_secret" not in json.dumps(listed)


def test_disable_enable_reset_totp_and_tokens(run):
    run("staff", "create", "--username", "admin", "--name", "A", "--role", "security_admin",
        "--password-stdin", stdin=PASSWORD)
    token = json.loads(run("staff", "token", "admin", "--name", "ci", "--ttl", "3600",
                           "--json").stdout)
    assert token["token"].startswith("stk_") and token["id"] == 1
    assert run("staff", "disable", "admin").stdout.strip() == "admin: disabled"
    assert_one_line_error(run("staff", "token", "admin", "--name", "x"), "disabled")
    assert run("staff", "enable", "admin", "--json").returncode == 0
    fresh = json.loads(run("staff", "reset-totp", "admin", "--json").stdout)
    assert pyotp.parse_uri(fresh["totp_uri"]).secret == fresh["totp_secret"]
    assert run("staff", "revoke-token", "1").stdout.strip() == "revoked API token 1"
    assert_one_line_error(run("staff", "revoke-token", "1"), "no such live API token")


def test_bad_input_is_one_line_and_writes_nothing(run):
    cases = [
        (("staff", "create", "--username", "a", "--name", "A", "--role", "auditor",
          "--password-stdin"), PASSWORD, "username must be"),
        (("staff", "create", "--username", "admin", "--name", "A", "--role", "root",
          "--password-stdin"), PASSWORD, "--role"),
        (("staff", "create", "--username", "admin", "--name", "A", "--role", "auditor",
          "--password-stdin"), "short\n", "at least 12 characters"),
        (("staff", "create", "--username", "admin", "--name", "A", "--role", "auditor"),
         PASSWORD, "--password-stdin"),
        (("staff", "disable", "ghost"), None, "no staff member 'ghost'"),
        (("staff", "token", "ghost", "--name", "x"), None, "no staff member"),
        (("staff", "token", "ghost", "--name", "x", "--ttl", "0"), None, "--ttl"),
        (("staff", "revoke-token", "abc"), None, "TOKEN_ID"),
    ]
    for args, stdin, fragment in cases:
        assert_one_line_error(run(*args, stdin=stdin), fragment)
    assert _count(run, StaffAccount) == 0 and _count(run, StaffApiToken) == 0
