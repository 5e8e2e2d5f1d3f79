"""Admin API: signing keys — list, rotate (pre-publish the next key), retire, emergency revoke."""

from __future__ import annotations

from typing import Any

from flask import Response

from idp.staff import roles
from idp.store.models import SigningKey
from idp.web.admin_api import api, needs, optional_body, reply, staff
from idp.web.principal import services


def key_dict(row: SigningKey) -> dict[str, Any]:
    return {"kid": row.kid, "alg": row.alg, "state": row.state,
            **{name: getattr(row, name, None) for name in (
                "created_at", "activates_at", "activated_at", "retired_at", "remove_after",
                "revoked_at")}}


@api.get("/keys")
@needs(roles.KEYS_READ)
def keys_list() -> Response:
    return reply({"items": [key_dict(k) for k in services().keys.list_keys()]})


@api.post("/keys/rotate")
@needs(roles.KEYS_MANAGE)
def keys_rotate() -> Response:
    data = optional_body("KeyRotate")
    rows = services().keys.rotate(actor=staff().actor, algs=data.get("algs"))
    return reply({"items": [key_dict(k) for k in rows]})


@api.post("/keys/<kid>/retire")
@needs(roles.KEYS_MANAGE)
def keys_retire(kid: str) -> Response:
    return reply(key_dict(services().keys.retire(kid, actor=staff().actor)))


@api.post("/keys/<kid>/revoke")
@needs(roles.KEYS_MANAGE)
def keys_revoke(kid: str) -> Response:
    data = optional_body("Reason")
    result = services().keys.revoke(kid, actor=staff().actor, reason=data.get("reason", ""))
    return reply({"kid": result.kid, "alg": result.alg, "tokens_revoked": result.tokens_revoked,
                  "replacement": result.replacement})
