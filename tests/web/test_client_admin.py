"""Staff actions on a client, seen at the token endpoint: a rotated secret (the old one still
accepted during the grace period) and a suspended client (refused until resumed)."""

from __future__ import annotations

import base64

from idp.clients import NewClient


def _token(client, client_id: str, secret: str):
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post("/token", headers={"Authorization": f"Basic {basic}"},
                       data={"grant_type": "client_credentials"})


def test_rotated_secret_and_suspension_at_the_token_endpoint(client, services):
    backend, old = services.clients.create(NewClient(name="社保后台", channel="service"))
    assert _token(client, backend.client_id, old).status_code == 200
    _, new = services.clients.rotate_secret(backend.client_id, grace=600)
    assert _token(client, backend.client_id, new).status_code == 200
    assert _token(client, backend.client_id, old).status_code == 200  # the grace period
    services.clients.set_status(backend.client_id, "suspended")
    refused = _token(client, backend.client_id, new)
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_client"
    assert "access_token" not in refused.get_json()
    services.clients.set_status(backend.client_id, "active")
    assert _token(client, backend.client_id, new).status_code == 200
    _, newest = services.clients.rotate_secret(backend.client_id, grace=0)
    assert _token(client, backend.client_id, new).status_code == 401  # no grace: at once
    assert _token(client, backend.client_id, newest).status_code == 200
    tags = [e.tag for e in services.audit.events(tag="client:", limit=20)]
    assert {"client:suspend:success", "client:resume:success", "client:secret:rotate"} <= \
        set(tags)
