"""RFC 7592 at GET|PUT|DELETE /register/<client_id> (idp.oidc.registration): a registered client
reads, replaces and deletes its own registration with its registration access token. An update
is checked as a registration and can never raise the client's scopes past the registration
limits or change its channel; every token problem, an unknown client included, is the same
401."""

from __future__ import annotations

from typing import Any

import pytest

from idp.clients import NewClient
from tests.oidc.test_dynamic_registration import PORTAL, SERVICE, initial_token, register

AWAITING = "this client waits for approval by the security staff"


def registered(client: Any, services: Any, body: dict[str, Any] = PORTAL) -> dict[str, Any]:
    token, _ = initial_token(services)
    answer = register(client, token, body)
    assert answer.status_code == 201, answer.get_json()
    result: dict[str, Any] = answer.get_json()
    return result


def path(reg: dict[str, Any]) -> str:
    return f"/register/{reg['client_id']}"


def bearer(reg: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {reg['registration_access_token']}"}


def metadata(reg: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What the client sends back in a PUT: its registered metadata, changed."""
    provisioned = ("client_secret", "registration_access_token")
    return {k: v for k, v in reg.items() if k not in provisioned} | changes


def test_a_client_reads_its_registration(client: Any, services: Any) -> None:
    reg = registered(client, services)
    answer = client.get(path(reg), headers=bearer(reg))
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    assert body["client_id"] == reg["client_id"] and body["status"] == "pending"
    assert body["redirect_uris"] == PORTAL["redirect_uris"]
    assert body["registration_client_uri"] == reg["registration_client_uri"]
    assert "client_secret" not in body and "registration_access_token" not in body


def test_a_client_replaces_its_metadata(client: Any, services: Any) -> None:
    reg = registered(client, services)
    services.clients.approve(reg["client_id"], actor="staff:test")
    services.clients.update(reg["client_id"], actor="staff:test", skip_consent=True)
    new_uris = ["https://bdc.example.gov.cn/cb2", "https://bdc.example.gov.cn/cb3"]
    answer = client.put(path(reg), headers=bearer(reg), json=metadata(
        reg, redirect_uris=new_uris, client_name="不动产登记", scope="openid phone",
        client_secret=reg["client_secret"]))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["redirect_uris"] == new_uris and body["scope"] == "openid phone"
    assert body["status"] == "active"  # an approved client stays approved
    record = services.clients.get(reg["client_id"])
    assert record.redirect_uris == tuple(new_uris) and record.name == "不动产登记"
    assert record.skip_consent  # what staff granted stays
    assert record.check_secret(reg["client_secret"])
    event = services.audit.events(tag="client:update", client_id=reg["client_id"], limit=1)[0]
    assert event.actor == f"client:{reg['client_id']}"


@pytest.mark.parametrize(("changes", "error", "words"), [
    ({"redirect_uris": ["http://bdc.example.gov.cn/cb"]}, "invalid_redirect_uri", "use https"),
    ({"scope": "openid address"}, "invalid_client_metadata", "cannot be registered"),
    ({"scope": "openid id_card"}, "invalid_client_metadata", "id_card scope"),
    ({"channel": "miniprogram"}, "invalid_client_metadata", "stays a website client"),
    ({"skip_consent": True}, "invalid_client_metadata", "set by the security staff"),
    ({"grant_types": ["authorization_code", "password"]}, "invalid_client_metadata",
     "unsupported grant type(s): password"),
    ({"client_id": "website-0000"}, "invalid_request", "client_id must be this client"),
    ({"client_secret": "chosen-by-the-client"}, "invalid_request", "cannot choose its secret"),
])
def test_a_bad_update_changes_nothing(client: Any, services: Any, changes: dict[str, Any],
                                      error: str, words: str) -> None:
    reg = registered(client, services)
    before = services.clients.get(reg["client_id"])
    answer = client.put(path(reg), headers=bearer(reg), json=metadata(reg, **changes))
    assert answer.status_code == 400
    assert answer.get_json()["error"] == error
    assert words in answer.get_json()["error_description"]
    services.clients.invalidate()
    assert services.clients.get(reg["client_id"]) == before


def test_a_put_without_its_client_id_is_refused(client: Any, services: Any) -> None:
    reg = registered(client, services)
    body = metadata(reg)
    del body["client_id"]
    answer = client.put(path(reg), headers=bearer(reg), json=body)
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_request"


def test_a_client_deletes_its_registration(client: Any, services: Any) -> None:
    reg = registered(client, services, SERVICE)
    services.clients.approve(reg["client_id"], actor="staff:test")
    token = client.post("/token", data={"grant_type": "client_credentials"},
                        auth=(reg["client_id"], reg["client_secret"])).get_json()
    answer = client.delete(path(reg), headers=bearer(reg))
    assert answer.status_code == 204 and answer.data == b""
    assert services.clients.get(reg["client_id"]) is None
    assert services.tokens.validate_access_token(token["access_token"]) is None
    gone = client.get(path(reg), headers=bearer(reg))
    assert gone.status_code == 401 and gone.get_json()["error"] == "invalid_token"
    event = services.audit.events(tag="client:delete", limit=1)[0]
    assert event.actor == f"client:{reg['client_id']}"


def test_token_problems_are_all_the_same_401(client: Any, services: Any) -> None:
    reg, other = registered(client, services), registered(client, services)
    staff_made, _ = services.clients.create(NewClient(name="后台", channel="service"))
    attempts = [
        (path(reg), {}),
        (path(reg), {"Authorization": "Bearer wrong"}),
        (path(reg), bearer(other)),  # another client's token
        ("/register/website-doesnotexist", bearer(reg)),
        (f"/register/{staff_made.client_id}", bearer(reg)),  # registered by staff: no token
    ]
    descriptions = set()
    for url, headers in attempts:
        for method in (client.get, client.put, client.delete):
            answer = method(url, headers=headers, json=metadata(reg))
            assert answer.status_code == 401, (url, method)
            assert answer.get_json()["error"] == "invalid_token"
            assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
            descriptions.add(answer.get_json()["error_description"])
    assert len(descriptions) == 2  # no token at all, or one not valid for this client
    assert services.clients.get(reg["client_id"]) is not None


def test_a_pending_client_may_manage_its_registration(client: Any, services: Any) -> None:
    reg = registered(client, services, SERVICE)
    answer = client.put(path(reg), headers=bearer(reg),
                        json=metadata(reg, client_name="不动产后台二"))
    assert answer.status_code == 200 and answer.get_json()["status"] == "pending"
    refused = client.post("/token", data={"grant_type": "client_credentials"},
                          auth=(reg["client_id"], reg["client_secret"]))
    assert refused.get_json()["error_description"] == AWAITING
