"""Admin API: clients — list, read, register, edit, approve, suspend/resume, delete, rotate the
secret, the ID-number and in-person permissions, and initial access tokens (RFC 7591)."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from idp.clients import ClientRecord, NewClient
from idp.errors import NotFound, ValidationError
from idp.staff import roles
from idp.web.admin_api import api, body, needs, optional_body, reply, staff
from idp.web.principal import services

STATUSES = ("pending", "active", "suspended")


def client_dict(client: ClientRecord) -> dict[str, Any]:
    return {"client_id": client.client_id, "name": client.name, "channel": client.channel,
            "status": client.status, "client_type": client.client_type,
            "redirect_uris": list(client.redirect_uris),
            "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
            "scopes": list(client.scopes), "grant_types": list(client.grant_types),
            "skip_consent": client.skip_consent,
            "id_card_allowed": bool(client.extra.get("id_card_allowed")),
            "in_person_allowed": bool(client.extra.get("in_person_check"))}


def _client(client_id: str) -> ClientRecord:
    services().clients.invalidate(client_id)
    client = services().clients.get(client_id)
    if client is None:
        raise NotFound(f"no client {client_id}", code="client.not_found")
    return client


@api.get("/clients")
@needs(roles.CLIENTS_READ)
def clients_list() -> Response:
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise ValidationError(f"status must be one of {', '.join(STATUSES)}",
                              code="invalid_request")
    return reply({"items": [client_dict(c) for c in services().clients.list(status=status)]})


@api.post("/clients")
@needs(roles.CLIENTS_MANAGE)
def clients_create() -> Response:
    data = body("ClientCreate")
    new = NewClient(name=data["name"], channel=data["channel"],
                    redirect_uris=tuple(data.get("redirect_uris", ())),
                    post_logout_redirect_uris=tuple(data.get("post_logout_redirect_uris", ())),
                    backchannel_logout_uri=data.get("backchannel_logout_uri"),
                    scopes=tuple(data.get("scopes", ())),
                    skip_consent=data.get("skip_consent", False))
    client, secret = services().clients.create(new, actor=staff().actor)
    return reply({"client": client_dict(client), "client_secret": secret}, 201)


@api.get("/clients/<client_id>")
@needs(roles.CLIENTS_READ)
def clients_get(client_id: str) -> Response:
    return reply(client_dict(_client(client_id)))


@api.patch("/clients/<client_id>")
@needs(roles.CLIENTS_MANAGE)
def clients_update(client_id: str) -> Response:
    data = body("ClientChange")
    _client(client_id)
    def uris(name: str) -> tuple[str, ...] | None:
        return tuple(data[name]) if name in data else None

    return reply(client_dict(services().clients.update(
        client_id, actor=staff().actor, name=data.get("name"), redirect_uris=uris("redirect_uris"),
        post_logout_redirect_uris=uris("post_logout_redirect_uris"), scopes=uris("scopes"),
        skip_consent=data.get("skip_consent"))))


@api.delete("/clients/<client_id>")
@needs(roles.CLIENTS_MANAGE)
def clients_delete(client_id: str) -> Response:
    _client(client_id)
    services().clients.delete(client_id, actor=staff().actor)
    return Response(status=204)


@api.post("/clients/<client_id>/approve")
@needs(roles.CLIENTS_MANAGE)
def clients_approve(client_id: str) -> Response:
    _client(client_id)
    return reply(client_dict(services().clients.approve(client_id, actor=staff().actor)))


def _status(client_id: str, status: str) -> Response:
    _client(client_id)
    return reply(client_dict(services().clients.set_status(client_id, status,
                                                           actor=staff().actor)))


@api.post("/clients/<client_id>/suspend")
@needs(roles.CLIENTS_MANAGE)
def clients_suspend(client_id: str) -> Response:
    return _status(client_id, "suspended")


@api.post("/clients/<client_id>/resume")
@needs(roles.CLIENTS_MANAGE)
def clients_resume(client_id: str) -> Response:
    return _status(client_id, "active")


@api.post("/clients/<client_id>/rotate-secret")
@needs(roles.CLIENTS_MANAGE)
def clients_rotate_secret(client_id: str) -> Response:
    data = optional_body("SecretRotate")
    _client(client_id)
    client, secret = services().clients.rotate_secret(client_id, grace=data.get("grace", 0),
                                                      actor=staff().actor)
    return reply({"client": client_dict(client), "client_secret": secret})


@api.put("/clients/<client_id>/permissions")
@needs(roles.CLIENTS_MANAGE)
def clients_permissions(client_id: str) -> Response:
    data = body("ClientPermissions")
    _client(client_id)
    clients = services().clients
    if "id_card" in data:
        clients.set_id_card_allowed(client_id, data["id_card"], actor=staff().actor)
    if "in_person" in data:
        clients.set_in_person_allowed(client_id, data["in_person"], actor=staff().actor)
    return reply(client_dict(_client(client_id)))


def _token_dict(row: Any) -> dict[str, Any]:
    return {"id": row.id, "label": row.label, "created_by": row.created_by,
            "created_at": row.created_at, "expires_at": row.expires_at,
            "max_uses": row.max_uses, "uses": row.uses, "revoked": row.revoked_at is not None}


@api.get("/initial-access-tokens")
@needs(roles.CLIENTS_MANAGE)
def initial_tokens_list() -> Response:
    return reply({"items": [_token_dict(r) for r in services().initial_tokens.list()]})


@api.post("/initial-access-tokens")
@needs(roles.CLIENTS_MANAGE)
def initial_tokens_issue() -> Response:
    data = optional_body("InitialTokenCreate")
    svc = services()
    token, row = svc.initial_tokens.issue(
        label=data.get("label", "admin API"), max_uses=data.get("max_uses", 1),
        ttl=data.get("ttl", svc.settings.registration.initial_token_ttl), actor=staff().actor)
    return reply({"token": token, **_token_dict(row)}, 201)


@api.delete("/initial-access-tokens/<int(max=9223372036854775807):token_id>")
@needs(roles.CLIENTS_MANAGE)
def initial_tokens_revoke(token_id: int) -> Response:
    services().initial_tokens.revoke(token_id, actor=staff().actor)
    return Response(status=204)
