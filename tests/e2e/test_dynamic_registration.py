"""Dynamic client registration end to end, against a real ``idp serve`` over HTTP (issue 4):
staff issue an initial access token with the installed CLI; a department registers its
back-end at the discovery document's ``registration_endpoint``; bad metadata is refused with
``invalid_client_metadata`` / ``invalid_redirect_uri`` and writes nothing; the new client gets
no token until ``idp clients approve``, then it does; it reads, updates and deletes its own
registration (RFC 7592), after which its credentials are dead.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.clients.test_sectors import SectorServer
from tests.fixtures.server import IdpServer

pytestmark = pytest.mark.e2e

AWAITING = "this client waits for approval by the security staff"
CACHE_TTL = 10  # seconds a worker keeps a client record (ClientService cache_ttl)


@pytest.fixture
def sectors() -> Iterator[SectorServer]:
    server = SectorServer()
    yield server
    server.close()


def _clients(server: IdpServer) -> set[str]:
    return {c["client_id"] for c in server.cli_json("clients", "list")["clients"]}


def _token(server: IdpServer, client_id: str, secret: str) -> requests.Response:
    return requests.post(f"{server.url}/token", data={"grant_type": "client_credentials"},
                         auth=(client_id, secret), timeout=10)


def test_register_approve_manage(idp_server: IdpServer, sectors: SectorServer) -> None:
    issued = idp_server.cli_json("clients", "initial-token", "--label", "e2e 不动产局",
                                 "--uses", "2", "--actor", "e2e")
    endpoint = requests.get(f"{idp_server.url}/.well-known/openid-configuration",
                            timeout=10).json()["registration_endpoint"]
    assert endpoint == issued["registration_endpoint"] == f"{idp_server.url}/register"
    auth = {"Authorization": f"Bearer {issued['token']}"}
    portal = {"client_name": f"e2e portal {uuid.uuid4().hex[:6]}",
              "redirect_uris": ["https://bdc.example.gov.cn/cb"]}
    before = _clients(idp_server)

    # Bad metadata: refused, nothing written, no use of the token counted.
    uris = ["https://bdc.example.gov.cn/cb", "https://m.bdc.example.gov.cn/cb"]
    sector = sectors.serve("/sector.json", uris[:1])
    bad: list[tuple[Any, str, str]] = [
        (portal | {"redirect_uris": ["http://bdc.example.gov.cn/cb"]}, "invalid_redirect_uri",
         "use https"),
        (portal | {"grant_types": ["authorization_code", "password"]},
         "invalid_client_metadata", "unsupported grant type(s): password"),
        (portal | {"redirect_uris": uris, "subject_type": "pairwise",
                   "sector_identifier_uri": sector}, "invalid_client_metadata",
         "does not list the redirect URI(s)"),
        (portal | {"scope": "openid id_card"}, "invalid_client_metadata", "id_card"),
    ]
    for body, error, words in bad:
        answer = requests.post(endpoint, json=body, headers=auth, timeout=10)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == error and words in answer.json()["error_description"]
    garbled = requests.post(endpoint, data=b"{client_name", timeout=10,
                            headers=auth | {"Content-Type": "application/json"})
    assert garbled.status_code == 400 and garbled.json()["error"] == "invalid_client_metadata"
    assert _clients(idp_server) == before

    # Two registrations use the token up (so the refusals above used none of it).
    web = requests.post(endpoint, json=portal, headers=auth, timeout=10)
    assert web.status_code == 201, web.text
    reg = requests.post(endpoint, headers=auth, timeout=10, json={
        "client_name": "e2e 不动产后台", "channel": "service",
        "grant_types": ["client_credentials"]})
    assert reg.status_code == 201, reg.text
    used_up = requests.post(endpoint, json=portal, headers=auth, timeout=10)
    assert used_up.status_code == 401 and used_up.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in used_up.headers["WWW-Authenticate"]
    backend = reg.json()
    cid, secret = backend["client_id"], backend["client_secret"]
    pending = idp_server.cli_json("clients", "list", "--status", "pending")["clients"]
    assert {cid, web.json()["client_id"]} <= {c["client_id"] for c in pending}

    # Pending: no token, and the reason; no sign-in for the waiting website either.
    refused = _token(idp_server, cid, secret)
    assert refused.status_code == 401 and refused.json() == {
        "error": "invalid_client", "error_description": AWAITING}
    page = requests.get(f"{idp_server.url}/authorize", timeout=10, allow_redirects=False,
                        params={"client_id": web.json()["client_id"], "response_type": "code",
                                "scope": "openid", "redirect_uri": portal["redirect_uris"][0]})
    assert page.status_code == 400 and AWAITING in page.text

    # Approved by staff: tokens, at once from every worker (a pending client is not cached).
    idp_server.cli("clients", "approve", cid, "--actor", "e2e")
    for _ in range(4):
        granted = _token(idp_server, cid, secret)
        assert granted.status_code == 200, granted.text
        assert granted.json()["access_token"]

    # RFC 7592: read, update, delete with the registration access token.
    manage = {"Authorization": f"Bearer {backend['registration_access_token']}"}
    uri = backend["registration_client_uri"]
    assert uri == f"{idp_server.url}/register/{cid}"
    read = requests.get(uri, headers=manage, timeout=10)
    assert read.status_code == 200 and read.json()["status"] == "active"
    assert "client_secret" not in read.json()
    changed = read.json() | {"client_name": "e2e 不动产登记后台"}
    updated = requests.put(uri, json=changed, headers=manage, timeout=10)
    assert updated.status_code == 200 and updated.json()["client_name"] == "e2e 不动产登记后台"
    raised = requests.put(uri, json=changed | {"scope": "id_card"}, headers=manage, timeout=10)
    assert raised.status_code == 400 and raised.json()["error"] == "invalid_client_metadata"
    stranger = requests.get(uri, headers={"Authorization": f"Bearer {issued['token']}"},
                            timeout=10)
    assert stranger.status_code == 401 and stranger.json()["error"] == "invalid_token"
    deleted = requests.delete(uri, headers=manage, timeout=10)
    assert deleted.status_code == 204
    assert requests.get(uri, headers=manage, timeout=10).status_code == 401
    assert cid not in _clients(idp_server)
    deadline = time.monotonic() + CACHE_TTL + 5  # a worker may remember the client that long
    while _token(idp_server, cid, secret).status_code != 401:
        assert time.monotonic() < deadline, "the deleted client still gets tokens"
        time.sleep(0.5)
