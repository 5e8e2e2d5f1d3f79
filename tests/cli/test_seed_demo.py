"""``idp seed-demo`` registers each demo client's back-channel logout URI — also on a database
seeded before logout existed — through ``ClientService.set_logout_uris`` (checked as at
registration, audited, and seen at once through the client cache), and gives the demo portal
the ``id_card`` scope and the demo counter terminal in-person ID-card checks (L4), as staff
would with ``idp clients allow-id-card`` / ``allow-in-person``."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, select, update

from idp.cli.demo import BACKCHANNEL
from idp.clients import NewClient
from idp.errors import NotFound, ValidationError
from idp.store.models import Client

EXPECTED = {
    "website": "http://localhost:5001/backchannel-logout",
    "miniprogram": "http://localhost:5002/backchannel-logout",
    "app": "http://127.0.0.1:5003/backchannel-logout",
    "counter": "http://127.0.0.1:5004/backchannel-logout",
}
EXPECTED_IDS = ("demo-website", "demo-app", "demo-miniprogram", "demo-counter")


def demo_clients(tmp_path) -> dict:
    return json.loads((tmp_path / "var" / "demo-clients.json").read_text())["clients"]


def test_demo_clients_get_their_listeners_also_when_seeded_before(run, tmp_path):
    assert BACKCHANNEL == EXPECTED
    assert run("seed-demo").returncode == 0
    seeded = demo_clients(tmp_path)
    assert {c: seeded[c]["backchannel_logout_uri"] for c in seeded} == EXPECTED

    engine = create_engine(run.db_url)  # as a database seeded before back-channel logout
    try:
        with engine.begin() as conn:
            conn.execute(update(Client).values(backchannel_logout_uri=None))
    finally:
        engine.dispose()
    result = run("seed-demo", "--json")
    assert result.returncode == 0, result.stderr
    reseeded = demo_clients(tmp_path)
    assert {c: reseeded[c]["backchannel_logout_uri"] for c in reseeded} == EXPECTED
    assert run("seed-demo").returncode == 0, "idempotent"


def permissions(db_url: str) -> dict[str, dict]:
    """Each demo client's staff permissions (``clients.extra``), as the IdP reads them."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Client.client_id, Client.extra)).all()
    finally:
        engine.dispose()
    keys = ("id_card_allowed", "in_person_check")
    return {cid: {k: v for k, v in (extra or {}).items() if k in keys} for cid, extra in rows}


def test_demo_portal_gets_id_card_and_demo_counter_in_person_checks(run, tmp_path):
    assert run("seed-demo").returncode == 0
    assert permissions(run.db_url) == {
        "demo-website": {"id_card_allowed": True},
        "demo-app": {},
        "demo-miniprogram": {},
        "demo-counter": {"in_person_check": True},  # the walkthrough's counter sign-in at L4
    }
    # Staff withdrew them (or the database was seeded before they existed): seeded again.
    for client_id, command in (("demo-website", "allow-id-card"),
                               ("demo-counter", "allow-in-person")):
        assert run("clients", command, client_id, "--revoke").returncode == 0
    assert permissions(run.db_url) == {c: {} for c in EXPECTED_IDS}
    result = run("seed-demo", "--json")
    assert result.returncode == 0, result.stderr
    assert permissions(run.db_url)["demo-counter"] == {"in_person_check": True}
    assert permissions(run.db_url)["demo-website"] == {"id_card_allowed": True}


def test_set_logout_uris_validates_audits_and_invalidates_the_cache(services):
    clients = services.clients
    record, _ = clients.create(
        NewClient(name="门户", channel="website", redirect_uris=("https://p.example.gov.cn/cb",))
    )
    assert clients.get(record.client_id).backchannel_logout_uri is None  # now cached
    updated = clients.set_logout_uris(
        record.client_id, backchannel="https://p.example.gov.cn/bcl", frontchannel=None,
        actor="staff-1",
    )
    assert updated.backchannel_logout_uri == "https://p.example.gov.cn/bcl"
    assert clients.get(record.client_id).backchannel_logout_uri == updated.backchannel_logout_uri
    event = services.audit.events(tag="client:update:success")[0]
    assert (event.actor, event.client_id) == ("staff-1", record.client_id)
    for bad in ("http://p.example.gov.cn/bcl", "https://p.example.gov.cn/bcl#x", "javascript:x"):
        with pytest.raises(ValidationError):
            clients.set_logout_uris(record.client_id, backchannel=bad, frontchannel=None)
    with pytest.raises(NotFound):
        clients.set_logout_uris("website-none", backchannel=None, frontchannel=None)


def test_no_logout_uris_leaves_the_demo_clients_without_listeners(run, tmp_path):
    """Test servers seed with --no-logout-uris: their sign-outs never reach a running demo."""
    assert run("seed-demo", "--no-logout-uris").returncode == 0
    assert {c["backchannel_logout_uri"] for c in demo_clients(tmp_path).values()} == {None}


def test_demo_security_admin_gets_a_fresh_second_factor_at_every_seeding(run, tmp_path):
    import pyotp

    from idp.cli.demo import DEMO_STAFF, DEMO_STAFF_PASSWORD
    from idp.config import load_settings
    from idp.container import build_services

    assert run("seed-demo").returncode == 0
    first = json.loads((tmp_path / "var" / "demo-clients.json").read_text())["staff"]
    assert run("seed-demo").returncode == 0
    second = json.loads((tmp_path / "var" / "demo-clients.json").read_text())["staff"]
    assert first["username"] == DEMO_STAFF and first["totp_secret"] != second["totp_secret"]
    svc = build_services(load_settings({
        "IDP_DATABASE_URL": run.db_url, "IDP_DATA_DIR": str(tmp_path / "var"),
        "IDP_KEYS_DIR": str(tmp_path / "keys")}))
    try:
        member = svc.staff.authenticate(DEMO_STAFF, DEMO_STAFF_PASSWORD,
                                        pyotp.TOTP(second["totp_secret"]).now())
        assert member.role == "security_admin" and len(svc.staff.list()) == 1
    finally:
        svc.close()


def test_seed_demo_refuses_production(tmp_path, db_url):
    from tests.cli.test_cli import assert_one_line_error
    from tests.fixtures.cli import run_idp

    env = {"IDP_DATABASE_URL": db_url, "IDP_DATA_DIR": str(tmp_path / "var"),
           "IDP_KEYS_DIR": str(tmp_path / "keys"), "IDP_MODE": "production",
           "IDP_SECRET_KEY": "p" * 40, "IDP_SMS_BACKEND": "none", "IDP_FACE_BACKEND": "none"}
    assert run_idp(["init"], env=env, cwd=tmp_path).returncode == 0
    assert_one_line_error(run_idp(["seed-demo"], env=env, cwd=tmp_path),
                          "refuses to run in production")
    assert not (tmp_path / "var" / "demo-clients.json").exists()
