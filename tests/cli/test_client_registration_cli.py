"""``idp clients initial-token | list | approve | update | delete``: the staff's side of dynamic
registration at the command line. JSON with --json; bad input is one line, exit 2, and changes
nothing; every action is audited as ``staff:ACTOR``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import create_engine, select

from idp.store.models import AuditEvent, Client, InitialAccessToken
from tests.cli.test_cli import assert_one_line_error


def _query(run: Any, statement: Any) -> list[Any]:
    engine = create_engine(run.db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement).all())
    finally:
        engine.dispose()


def _create(run: Any, *args: str) -> dict[str, Any]:
    created: dict[str, Any] = json.loads(run("clients", "create", *args, "--json").stdout)
    return created


def _make_pending(run: Any, client_id: str) -> None:
    engine = create_engine(run.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(Client.__table__.update().where(Client.client_id == client_id)
                         .values(status="pending"))
    finally:
        engine.dispose()


def test_initial_token_is_printed_once_and_stored_as_a_digest(run: Any) -> None:
    data = json.loads(run("clients", "initial-token", "--label", "人社局", "--ttl", "3600",
                          "--uses", "3", "--actor", "wang", "--json").stdout)
    assert len(data["token"]) >= 43 and data["max_uses"] == 3 and data["label"] == "人社局"
    assert data["registration_endpoint"].endswith("/register")
    rows = _query(run, select(InitialAccessToken.digest, InitialAccessToken.created_by))
    assert rows == [(hashlib.sha256(data["token"].encode()).hexdigest(), "staff:wang")]
    text = run("clients", "initial-token")
    assert text.returncode == 0 and "initial access token (shown once): " in text.stdout
    tags = _query(run, select(AuditEvent.tag, AuditEvent.actor)
                  .where(AuditEvent.tag == "client:initial-token:issue"))
    assert ("client:initial-token:issue", "staff:wang") in tags


def test_initial_token_bad_input(run: Any) -> None:
    for args, words in ((["--ttl", "10"], "--ttl"), (["--uses", "0"], "--uses"),
                        (["--uses", "many"], "--uses"), (["--label", " "], "label"),
                        (["--actor", ""], "--actor")):
        assert_one_line_error(run("clients", "initial-token", *args), words)
    assert _query(run, select(InitialAccessToken.id)) == []


def test_list_approve_update_delete(run: Any) -> None:
    portal = _create(run, "--name", "税务门户", "--channel", "website",
                     "--redirect-uri", "https://tax.example.gov.cn/cb")
    backend = _create(run, "--name", "税务后台", "--channel", "service")
    _make_pending(run, backend["client_id"])
    listed = json.loads(run("clients", "list", "--json").stdout)["clients"]
    assert [c["client_id"] for c in listed] == [portal["client_id"], backend["client_id"]]
    pending = json.loads(run("clients", "list", "--status", "pending", "--json").stdout)
    assert [c["client_id"] for c in pending["clients"]] == [backend["client_id"]]
    assert run("clients", "list", "--status", "suspended").stdout.strip() == "no clients"

    approved = json.loads(run("clients", "approve", backend["client_id"], "--actor", "li",
                              "--json").stdout)
    assert approved["status"] == "active"
    assert run("clients", "list", "--status", "pending", "--json").stdout.count("client_id") == 0

    updated = json.loads(run(
        "clients", "update", portal["client_id"], "--name", "税务局门户",
        "--redirect-uri", "https://tax.example.gov.cn/cb2", "--scope", "openid phone",
        "--skip-consent", "--json").stdout)
    assert updated["name"] == "税务局门户" and updated["scopes"] == ["openid", "phone"]
    assert updated["redirect_uris"] == ["https://tax.example.gov.cn/cb2"]
    assert updated["skip_consent"] is True
    assert run("clients", "update", portal["client_id"], "--no-skip-consent").stdout.strip() \
        == f"{portal['client_id']}: updated"

    assert run("clients", "delete", backend["client_id"]).stdout.strip() == \
        f"{backend['client_id']}: deleted"
    assert _query(run, select(Client.client_id)) == [(portal["client_id"],)]
    tags = _query(run, select(AuditEvent.tag, AuditEvent.actor).where(
        AuditEvent.tag.in_(["client:approve:success", "client:update:success",
                            "client:delete:success"])))
    assert ("client:approve:success", "staff:li") in tags
    assert ("client:delete:success", "staff:staff") in tags


def test_bad_input_changes_nothing(run: Any) -> None:
    portal = _create(run, "--name", "W", "--channel", "website",
                     "--redirect-uri", "https://w.example.gov.cn/cb")
    cid = portal["client_id"]
    before = _query(run, select(Client))
    assert_one_line_error(run("clients", "approve", cid), "not waiting for approval")
    assert_one_line_error(run("clients", "approve", "no-such-client"), "no client")
    assert_one_line_error(run("clients", "delete", "no-such-client"), "no client")
    assert_one_line_error(run("clients", "update", cid), "nothing to change")
    assert_one_line_error(run("clients", "update", cid, "--redirect-uri",
                              "http://w.example.gov.cn/cb"), "use https")
    assert_one_line_error(run("clients", "update", cid, "--scope", "id_card"),
                          "allow-id-card")
    assert_one_line_error(run("clients", "update", cid, "--channel", "app"),
                          "cannot move to the app channel")
    assert_one_line_error(run("clients", "list", "--status", "gone"), "--status")
    assert _query(run, select(Client)) == before
    _make_pending(run, cid)
    assert_one_line_error(run("clients", "suspend", cid), "waits for approval")
