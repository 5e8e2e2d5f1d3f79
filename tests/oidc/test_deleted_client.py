"""A client deleted on one node while another node still has it cached gets a clear
``invalid_client`` from that node's token endpoint — never a 500, and no token."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from idp.container import build_services
from idp.store.models import Token
from tests.factories import make_client


def test_token_request_of_a_client_deleted_by_another_node(services: Any, client: Any,
                                                           settings: Any) -> None:
    service = make_client(services, channel="service", redirect_uri="https://svc.example.gov.cn/cb")
    ok = client.post("/token", data={"grant_type": "client_credentials"},
                     auth=(service.client_id, service.secret))
    assert ok.status_code == 200  # this node now has the client cached
    other_node = build_services(settings)
    try:
        other_node.clients.delete(service.client_id, actor="staff:test")
    finally:
        other_node.close()
    answer = client.post("/token", data={"grant_type": "client_credentials"},
                         auth=(service.client_id, service.secret))
    assert answer.status_code == 401
    assert answer.get_json() == {"error": "invalid_client",
                                 "error_description": "this client no longer exists"}
    with services.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Token)) == 0  # went with the client
