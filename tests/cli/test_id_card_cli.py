"""``idp clients allow-id-card CLIENT_ID [--revoke]``: staff permission for the id_card scope."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, select

from idp.store.models import AuditEvent, Client
from tests.cli.test_cli import assert_one_line_error


def _client_row(db_url: str, client_id: str) -> tuple[dict, list[dict]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            extra = conn.execute(select(Client.extra).where(Client.client_id == client_id)
                                 ).scalar_one()
            events = [dict(r._mapping) for r in conn.execute(
                select(AuditEvent.tag, AuditEvent.client_id, AuditEvent.extra)
                .where(AuditEvent.tag == "client:update:success").order_by(AuditEvent.seq))]
    finally:
        engine.dispose()
    return extra or {}, events


def test_allow_then_revoke_is_stored_and_audited(run):
    created = run("clients", "create", "--name", "社保门户", "--channel", "website",
                  "--redirect-uri", "https://si.example.gov.cn/cb", "--client-id", "si-portal",
                  "--json")
    assert created.returncode == 0, created.stderr
    result = run("clients", "allow-id-card", "si-portal", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"client_id": "si-portal", "id_card_allowed": True}
    extra, events = _client_row(run.db_url, "si-portal")
    assert extra == {"id_card_allowed": True}
    assert events[-1]["client_id"] == "si-portal"
    assert events[-1]["extra"] == {"id_card_allowed": True}

    result = run("clients", "allow-id-card", "si-portal", "--revoke")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "si-portal: id_card scope no longer allowed"
    extra, events = _client_row(run.db_url, "si-portal")
    assert "id_card_allowed" not in extra
    assert events[-1]["extra"] == {"id_card_allowed": False}


def test_unknown_client_is_one_line_exit_2(run):
    assert_one_line_error(run("clients", "allow-id-card", "no-such-client"),
                          "no client no-such-client")


def test_id_card_cannot_be_registered_as_a_scope(run):
    result = run("clients", "create", "--name", "X", "--channel", "website",
                  "--redirect-uri", "https://x.example.gov.cn/cb", "--scope", "openid id_card")
    assert_one_line_error(result, "allow-id-card")
