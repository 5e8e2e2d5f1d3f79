"""The staff's side of a client's life (ClientService): pending registrations and their
approval, edits checked as at registration, deletion with the client's tokens, listing by
status — every step audited, the client cache kept consistent."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from idp.clients import ClientService, NewClient
from idp.errors import Conflict, NotFound, ValidationError
from idp.store.models import Client, Token
from tests.clients.test_sectors import SectorServer

PORTAL = NewClient(name="公积金门户", channel="website",
                   redirect_uris=("https://gjj.example.gov.cn/cb",))


def _pending(services: Any, new: NewClient = PORTAL) -> Any:
    record, _ = services.clients.create(new, actor="initial-token:1", status="pending")
    return record


def test_a_pending_client_is_approved_once(services: Any) -> None:
    record = _pending(services)
    assert record.status == "pending" and services.clients.get(record.client_id).status == \
        "pending"
    assert [c.client_id for c in services.clients.list(status="pending")] == [record.client_id]
    approved = services.clients.approve(record.client_id, actor="staff:zhao")
    assert approved.status == "active"
    assert services.clients.get(record.client_id).status == "active"  # cache invalidated
    assert services.clients.list(status="pending") == []
    with pytest.raises(Conflict, match="not waiting for approval"):
        services.clients.approve(record.client_id, actor="staff:zhao")
    with pytest.raises(NotFound):
        services.clients.approve("no-such-client", actor="staff:zhao")
    tags = [(e.tag, e.actor) for e in services.audit.events(client_id=record.client_id)]
    assert ("client:approve:success", "staff:zhao") in tags
    assert ("client:create:success", "initial-token:1") in tags


def test_an_approval_counts_at_once_on_every_node(services: Any) -> None:
    other_node = ClientService(services.sessions, audit=services.audit,
                               policies=services.policies)
    record = _pending(services)
    assert other_node.get(record.client_id).status == "pending"
    services.clients.approve(record.client_id, actor="staff:zhao")
    assert other_node.get(record.client_id).status == "active"  # a pending one is not cached


def test_a_pending_client_cannot_be_suspended_into_activity(services: Any) -> None:
    record = _pending(services)
    with pytest.raises(Conflict, match="waits for approval"):
        services.clients.set_status(record.client_id, "suspended")
    with pytest.raises(Conflict, match="waits for approval"):
        services.clients.set_status(record.client_id, "active")
    assert services.clients.get(record.client_id).status == "pending"


def test_staff_edit_checks_as_at_registration(services: Any) -> None:
    record, _ = services.clients.create(PORTAL)
    updated = services.clients.update(
        record.client_id, actor="staff:qian", name="公积金中心",
        redirect_uris=["https://gjj.example.gov.cn/cb2"], scopes=["openid", "address"],
        skip_consent=True)
    assert updated.name == "公积金中心" and updated.redirect_uris == \
        ("https://gjj.example.gov.cn/cb2",)
    assert updated.scopes == ("openid", "address") and updated.skip_consent
    assert services.clients.get(record.client_id).name == "公积金中心"
    event = services.audit.events(tag="client:update", client_id=record.client_id)[0]
    assert set(event.extra["changed"]) == {"name", "redirect_uris", "scopes", "skip_consent"}
    for bad in ({"redirect_uris": ["http://gjj.example.gov.cn/cb"]}, {"scopes": ["id_card"]},
                {"name": " "}, {"channel": "app"}):
        with pytest.raises(ValidationError):
            services.clients.update(record.client_id, actor="staff:qian", **bad)
    assert services.clients.get(record.client_id) == updated
    with pytest.raises(NotFound):
        services.clients.update("no-such-client", actor="staff:qian", name="x")


def test_a_channel_change_keeps_the_client_type(services: Any) -> None:
    record, _ = services.clients.create(PORTAL)
    moved = services.clients.update(record.client_id, actor="staff:qian", channel="miniprogram")
    assert moved.channel == "miniprogram" and moved.client_type == "confidential"
    assert "urn:ietf:params:oauth:grant-type:token-exchange" in moved.grant_types


def test_an_edit_keeps_permissions_secrets_and_status(services: Any) -> None:
    record, secret = services.clients.create(PORTAL)
    services.clients.set_id_card_allowed(record.client_id, True)
    updated = services.clients.update(record.client_id, actor="staff:qian", name="新名字")
    assert updated.extra["id_card_allowed"] is True and updated.check_secret(secret)
    assert updated.status == "active"


def test_delete_takes_the_tokens_with_it(services: Any, client: Any) -> None:
    record, secret = services.clients.create(NewClient(name="后台", channel="service"))
    answer = client.post("/token", data={"grant_type": "client_credentials"},
                         auth=(record.client_id, secret))
    access_token = answer.get_json()["access_token"]
    assert services.tokens.validate_access_token(access_token) is not None
    services.clients.delete(record.client_id, actor="staff:sun")
    assert services.clients.get(record.client_id) is None  # the cache forgot it
    assert services.tokens.validate_access_token(access_token) is None
    with services.sessions() as session:
        assert session.get(Client, record.client_id) is None
        assert session.scalar(select(func.count()).select_from(Token)
                              .where(Token.client_id == record.client_id)) == 0
    event = services.audit.events(tag="client:delete", limit=1)[0]
    assert event.actor == "staff:sun" and event.client_id == record.client_id
    with pytest.raises(NotFound):
        services.clients.delete(record.client_id, actor="staff:sun")


def test_list_filters_by_status(services: Any) -> None:
    active, _ = services.clients.create(PORTAL)
    pending = _pending(services, NewClient(name="b", channel="service"))
    suspended, _ = services.clients.create(NewClient(name="c", channel="service"))
    services.clients.set_status(suspended.client_id, "suspended")
    assert {c.client_id for c in services.clients.list()} == \
        {active.client_id, pending.client_id, suspended.client_id}
    for status, record in (("active", active), ("pending", pending),
                           ("suspended", suspended)):
        assert [c.client_id for c in services.clients.list(status=status)] == \
            [record.client_id]


def test_create_within_runs_in_the_insert_transaction(services: Any) -> None:
    def refuse(session: Any) -> None:
        raise ValidationError("no", code="test")

    with pytest.raises(ValidationError):
        services.clients.create(PORTAL, status="pending", within=refuse)
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Client)) == 0
    with pytest.raises(ValidationError, match="status"):
        services.clients.create(PORTAL, status="approved")


def test_the_sector_is_fetched_again_only_when_the_redirect_uris_change(services: Any) -> None:
    sectors = SectorServer()
    try:
        uris = ("https://gjj.example.gov.cn/cb", "https://m.gjj.example.gov.cn/cb")
        sector_uri = sectors.serve("/sector.json", list(uris))
        record, _ = services.clients.create(NewClient(
            name="公积金", channel="website", redirect_uris=uris, subject_type="pairwise",
            sector_identifier_uri=sector_uri))
        sectors.pages.clear()  # the document is gone: a new fetch would fail
        renamed = services.clients.update(record.client_id, actor="staff:qian", name="公积金2")
        assert renamed.extra["sector"] == "127.0.0.1" and renamed.name == "公积金2"
        with pytest.raises(ValidationError, match="sector_identifier_uri"):
            services.clients.update(record.client_id, actor="staff:qian",
                                    redirect_uris=[uris[0]])
        assert services.clients.get(record.client_id).redirect_uris == uris
    finally:
        sectors.close()
