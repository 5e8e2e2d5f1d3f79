"""``idp clients rotate-secret | suspend``: JSON out, the new secret printed once; bad input is
one line, exit 2, and changes nothing."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, select

from idp.store.models import Client
from tests.cli.test_cli import assert_one_line_error


def _row(run, client_id: str) -> tuple[str | None, str]:
    engine = create_engine(run.db_url)
    try:
        with engine.connect() as conn:
            digest, status = conn.execute(select(Client.secret_digest, Client.status).where(
                Client.client_id == client_id)).one()
            return digest, status
    finally:
        engine.dispose()


def test_rotate_suspend_resume(run):
    created = json.loads(run("clients", "create", "--name", "税务门户", "--channel", "website",
                             "--redirect-uri", "https://tax.example.gov.cn/cb", "--json").stdout)
    cid = created["client_id"]
    before = _row(run, cid)[0]
    rotated = json.loads(run("clients", "rotate-secret", cid, "--grace", "600", "--json").stdout)
    assert rotated["client_id"] == cid and rotated["grace"] == 600
    assert len(rotated["client_secret"]) >= 40 and rotated["client_secret"] != \
        created["client_secret"]
    assert _row(run, cid)[0] != before
    text = run("clients", "rotate-secret", cid)
    assert text.returncode == 0 and "the old secret works for 86400 s more" in text.stdout
    assert json.loads(run("clients", "suspend", cid, "--json").stdout)["status"] == "suspended"
    assert _row(run, cid)[1] == "suspended"
    assert run("clients", "suspend", cid, "--resume").stdout.strip() == f"{cid}: active"


def test_bad_input_changes_nothing(run):
    app = json.loads(run("clients", "create", "--name", "App", "--channel", "app",
                         "--redirect-uri", "http://127.0.0.1/cb", "--json").stdout)
    assert_one_line_error(run("clients", "rotate-secret", app["client_id"]), "public client")
    assert _row(run, app["client_id"]) == (None, "active")
    assert_one_line_error(run("clients", "rotate-secret", "no-such-client"), "no client")
    assert_one_line_error(run("clients", "suspend", "no-such-client"), "no client")
    web = json.loads(run("clients", "create", "--name", "W", "--channel", "website",
                         "--redirect-uri", "https://w.example.gov.cn/cb", "--json").stdout)
    before = _row(run, web["client_id"])
    for grace in ("-1", str(31 * 86400), "soon"):
        assert_one_line_error(run("clients", "rotate-secret", web["client_id"], "--grace",
                                  grace), "--grace")
    assert _row(run, web["client_id"]) == before
