"""``idp sessions list|end``: staff see a citizen's sessions across channels (masked number,
session references, never a sid) and end one or all through SessionEnding (tokens revoked,
audited as staff); bad input is one line, exit 2, and ends nothing."""

from __future__ import annotations

import json

import pytest

from idp.config import load_settings
from idp.container import build_services
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
