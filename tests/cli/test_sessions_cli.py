"""``idp sessions list|end``: staff see a citizen's sessions across channels (masked number,
session references, never a sid) and end one or all through SessionEnding (tokens revoked,
audited as staff); bad input is one line, exit 2, and ends nothing."""

from __future__ import annotations

import json

import pytest

from idp.config import load_settings
from idp.container import build_services
from idp.errors import AccountLocked, AuthenticationFailed
from tests.cli.test_cli import assert_one_line_error
from tests.factories import make_citizen


@pytest.fixture
def world(run, tmp_path):
    svc = build_services(load_settings({
        "IDP_DATABASE_URL": run.db_url, "IDP_DATA_DIR": str(tmp_path / "var"),
        "IDP_KEYS_DIR": str(tmp_path / "keys"), "IDP_PASSWORDS_TIME_COST": "1",
        "IDP_PASSWORDS_MEMORY_COST": "8192"}))
    citizen = make_citizen(svc)
    browser = svc.sso.start(citizen.sub, amr=["pwd"], acr="L1")
    app = svc.sso.start(citizen.sub, amr=["pwd", "otp"], acr="L2")
    app = svc.sso.add_client(app, "demo-app", "app")
    yield svc, citizen, browser, app
    svc.close()


def test_list_then_end_one_then_all(run, world):
    svc, citizen, browser, app = world
    listed = json.loads(run("sessions", "list", citizen.phone, "--json").stdout)
    assert listed["sub"] == citizen.sub and citizen.id_number not in json.dumps(listed)
    refs = {s["ref"]: s for s in listed["sessions"]}
    assert len(refs) == 2 and browser.sid not in json.dumps(listed)
    [app_ref] = [r for r, s in refs.items() if s["clients"] == {"demo-app": "app"}]
    assert refs[app_ref]["acr"] == "L2" and refs[app_ref]["amr"] == ["pwd", "otp"]
    text = run("sessions", "list", citizen.id_number)
    assert "2 session(s)" in text.stdout and citizen.id_number not in text.stdout

    ended = json.loads(run("sessions", "end", citizen.sub, "--ref", app_ref, "--actor",
                           "helpdesk-7", "--json").stdout)
    assert ended["ended"] == [app_ref]
    assert svc.sso.get(app.sid) is None and svc.sso.get(browser.sid) is not None
    [event] = svc.audit.events(tag="session:end:success")
    assert event.actor == "staff:helpdesk-7" and event.extra["by"] == "staff"
    assert run("sessions", "end", citizen.phone, "--all").stdout.strip().startswith(
        "ended 1 session(s)")
    assert svc.sso.for_account(citizen.sub) == []


def test_bad_input_ends_nothing(run, world):
    svc, citizen, browser, app = world
    assert_one_line_error(run("sessions", "list", "13000000000"), "no citizen")
    assert_one_line_error(run("sessions", "end", citizen.sub), "--ref REF or --all")
    assert_one_line_error(run("sessions", "end", citizen.sub, "--ref", "x", "--all"),
                          "--ref REF or --all")
    assert_one_line_error(run("sessions", "end", citizen.sub, "--ref", "0" * 16),
                          "no such session")
    assert_one_line_error(run("sessions", "end", citizen.sub, "--all", "--actor", "a\nb"),
                          "--actor")
    assert len(svc.sso.for_account(citizen.sub)) == 2
    assert svc.audit.events(tag="session:end:success") == []


def test_show_lock_and_unlock(run, world):
    svc, citizen, browser, app = world
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            svc.accounts.authenticate(citizen.phone, "wrong-password", ip="10.0.0.9")
    shown = json.loads(run("accounts", "show", citizen.id_number, "--json").stdout)
    assert (shown["status"], shown["sessions"]) == ("active", 2)
    assert [f["ip"] for f in shown["recent_failures"]] == ["10.0.0.9", "10.0.0.9"]
    assert citizen.id_number not in json.dumps(shown)

    locked = json.loads(run("accounts", "lock", citizen.phone, "--reason", "stolen phone",
                            "--actor", "helpdesk-7", "--json").stdout)
    assert locked == {"sub": citizen.sub, "status": "locked"}
    assert svc.sso.for_account(citizen.sub) == []  # every session ended
    with pytest.raises(AccountLocked):
        svc.accounts.authenticate(citizen.phone, citizen.password)
    [event] = svc.audit.events(tag="account:lock:success")
    assert event.actor == "staff:helpdesk-7" and event.extra == {"reason": "stolen phone"}
    assert run("accounts", "unlock", citizen.sub).stdout.strip().endswith(": active")
    assert svc.accounts.authenticate(citizen.phone, citizen.password).id == citizen.sub


def test_lock_bad_input_changes_nothing(run, world):
    svc, citizen, browser, app = world
    assert_one_line_error(run("accounts", "lock", "no-such-account"), "no citizen")
    assert_one_line_error(run("accounts", "lock", citizen.sub, "--actor", ""), "--actor")
    assert svc.accounts.get(citizen.sub).status == "active"
    assert len(svc.sso.for_account(citizen.sub)) == 2


def test_reset_factors_after_a_counter_check(run, world):
    svc, citizen, browser, app = world
    import pyotp

    enrolment = svc.mfa.enrol(citizen.sub, label="x")
    svc.mfa.confirm(citizen.sub, pyotp.TOTP(enrolment.secret).now())
    assert_one_line_error(run("accounts", "reset-factors", citizen.phone, "--verification",
                              "ok"), "say how the citizen's identity was checked")
    assert svc.mfa.has_totp(citizen.sub)  # refused: nothing removed
    done = json.loads(run("accounts", "reset-factors", citizen.id_number, "--verification",
                          f"ID card seen at counter 3, {citizen.id_number}", "--actor",
                          "clerk-9", "--json").stdout)
    assert done["removed"] == {"totp": 1, "passkeys": 0}
    assert not svc.mfa.has_totp(citizen.sub)
    [event] = svc.audit.events(tag="account:factors:reset")
    assert event.actor == "staff:clerk-9" and citizen.id_number not in json.dumps(event.extra)
    assert "[ID number removed]" in event.extra["verification"]
    assert svc.sso.get(app.sid) is None  # a session that stood on the factor is gone
