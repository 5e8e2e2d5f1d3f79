"""The OpenAPI 3.1 document of the admin API — the one description of it.

Served at ``/admin/api/v1/openapi.json`` and kept in ``docs/admin-api.openapi.json``
(``scripts/gen_openapi.py``; a test fails when the two differ). The request bodies the API
accepts are validated against the schemas below (:func:`validator`), so the document cannot
drift from what the code enforces; the test suite fuzzes the API from it (schemathesis).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from idp.staff.roles import ROLE_NAMES

VERSION = "1.0.0"
PREFIX = "/admin/api/v1"

_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_TS = {"type": ["string", "null"], "format": "date-time"}


def _obj(required: list[str], props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props,
            "additionalProperties": False}


def _str(min_len: int = 1, max_len: int = 200, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": min_len, "maxLength": max_len, **extra}


def _uris(max_items: int = 20) -> dict[str, Any]:
    return {"type": "array", "maxItems": max_items, "items": _str(1, 500)}


SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _obj(["error", "error_description"], {"error": _STR, "error_description": _STR}),
    "Staff": _obj(["id", "username", "display_name", "role", "status"], {
        "id": _STR, "username": _STR, "display_name": _STR,
        "role": {"enum": list(ROLE_NAMES)}, "status": {"enum": ["active", "disabled"]},
        "totp_confirmed": _BOOL, "last_login_at": _TS}),
    "StaffCreate": _obj(["username", "display_name", "role", "password"], {
        "username": _str(3, 64), "display_name": _str(1, 200),
        "role": {"enum": list(ROLE_NAMES)}, "password": _str(1, 1024)}),
    "StaffChange": _obj([], {"role": {"enum": list(ROLE_NAMES)},
                             "status": {"enum": ["active", "disabled"]}}),
    "Enrolment": _obj(["staff", "totp_secret", "totp_uri"], {
        "staff": {"$ref": "#/components/schemas/Staff"}, "totp_secret": _STR,
        "totp_uri": _STR}),
    "Key": _obj(["kid", "alg", "state"], {
        "kid": _STR, "alg": _STR,
        "state": {"enum": ["next", "active", "retired", "removed", "revoked"]},
        "created_at": _TS, "activates_at": _TS, "activated_at": _TS, "retired_at": _TS,
        "remove_after": _TS, "revoked_at": _TS}),
    "KeyRotate": _obj([], {"algs": {"type": "array", "minItems": 1, "maxItems": 2,
                                    "uniqueItems": True,
                                    "items": {"enum": ["RS256", "ES256"]}}}),
    "Reason": _obj([], {"reason": _str(0, 200)}),
    "Client": {"type": "object", "required": ["client_id", "name", "channel", "status"],
               "properties": {"client_id": _STR, "name": _STR, "channel": _STR,
                              "status": _STR, "client_type": _STR,
                              "redirect_uris": {"type": "array", "items": _STR},
                              "scopes": {"type": "array", "items": _STR},
                              "id_card_allowed": _BOOL, "in_person_allowed": _BOOL}},
    "ClientCreate": _obj(["name", "channel"], {
        "name": _str(1, 200),
        "channel": {"enum": ["website", "app", "miniprogram", "counter", "service"]},
        "redirect_uris": _uris(), "post_logout_redirect_uris": _uris(),
        "backchannel_logout_uri": _str(1, 500), "scopes": _uris(),
        "skip_consent": _BOOL}),
    "ClientChange": _obj([], {
        "name": _str(1, 200), "redirect_uris": _uris(), "post_logout_redirect_uris": _uris(),
        "scopes": _uris(), "skip_consent": _BOOL}),
    "ClientPermissions": _obj([], {"id_card": _BOOL, "in_person": _BOOL}),
    "SecretRotate": _obj([], {"grace": {"type": "integer", "minimum": 0,
                                        "maximum": 30 * 86400}}),
    "ClientSecret": _obj(["client", "client_secret"], {
        "client": {"$ref": "#/components/schemas/Client"}, "client_secret": _STR}),
    "InitialTokenCreate": _obj([], {
        "label": _str(1, 200), "ttl": {"type": "integer", "minimum": 60,
                                       "maximum": 90 * 86400},
        "max_uses": {"type": "integer", "minimum": 1, "maximum": 100}}),
    "CitizenSearch": _obj(["query"], {"query": _str(1, 64)}),
    "Citizen": _obj(["sub", "id_number", "name", "status"], {
        "sub": _STR, "id_number": _STR, "name": _STR, "phone": _STR, "status": _STR,
        "sessions": {"type": "integer"}, "second_factors": {"type": "object"},
        "recent_failures": {"type": "array", "items": {"type": "object"}}}),
    "Verification": _obj(["verification"], {"verification": _str(4, 200)}),
    "AuditEvent": {"type": "object", "required": ["seq", "ts", "tag", "actor"],
                   "properties": {"seq": {"type": "integer"}, "ts": _STR, "tag": _STR,
                                  "actor": _STR, "subject": {"type": ["string", "null"]},
                                  "client_id": {"type": ["string", "null"]},
                                  "ip": {"type": ["string", "null"]}, "extra": {}}},
    "VerifyResult": {"type": "object", "required": ["ok", "checked"],
                     "properties": {"ok": _BOOL, "checked": {"type": "integer"},
                                    "broken_at": {"type": ["integer", "null"]},
                                    "reason": {"type": ["string", "null"]},
                                    "anchors": {"type": "integer"}}},
    "Anchor": _obj(["seq", "hash", "ts"], {"seq": {"type": "integer"}, "hash": _STR,
                                           "ts": {"type": "integer"}}),
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(name: str) -> dict[str, Any]:
    return {"type": "object", "required": ["items"],
            "properties": {"items": {"type": "array", "items": _ref(name)}}}


def _op(summary: str, permission: str, *, ok: dict[str, Any] | None = None, status: int = 200,
        body: str | None = None, params: list[dict[str, Any]] | None = None,
        tag: str) -> dict[str, Any]:
    errors = {"$ref": "#/components/responses/Error"}
    responses: dict[str, Any] = {
        str(status): {"description": "done"} if ok is None else {
            "description": "done", "content": {"application/json": {"schema": ok}}},
        "400": errors, "401": errors, "403": errors, "404": errors, "409": errors,
        "429": errors}
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses,
                          "x-permission": permission}
    if body:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": _ref(body)}}}
    if params:
        op["parameters"] = params
    return op


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _str(1, 64)}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _paths() -> dict[str, Any]:
    kid, cid, sub = [_path("kid")], [_path("client_id")], [_path("sub")]
    return {
        "/me": {"get": _op("The staff member the token acts for", "-", ok=_ref("Staff"),
                           tag="staff")},
        "/staff": {
            "get": _op("List staff", "staff:manage", ok=_list_of("Staff"), tag="staff"),
            "post": _op("Create a staff member (TOTP enrolment returned once)", "staff:manage",
                        ok=_ref("Enrolment"), status=201, body="StaffCreate", tag="staff")},
        "/staff/{staff_id}": {"patch": _op(
            "Change role or status (disabled ends its console sessions)", "staff:manage",
            ok=_ref("Staff"), body="StaffChange", params=[_path("staff_id")], tag="staff")},
        "/staff/{staff_id}/reset-totp": {"post": _op(
            "New TOTP secret (returned once)", "staff:manage", ok=_ref("Enrolment"),
            params=[_path("staff_id")], tag="staff")},
        "/keys": {"get": _op("List signing keys", "keys:read", ok=_list_of("Key"), tag="keys")},
        "/keys/rotate": {"post": _op(
            "Publish the next key (it signs after the overlap)", "keys:manage",
            ok=_list_of("Key"), body="KeyRotate", tag="keys")},
        "/keys/{kid}/retire": {"post": _op("Retire a key now", "keys:manage", ok=_ref("Key"),
                                           params=kid, tag="keys")},
        "/keys/{kid}/revoke": {"post": _op(
            "Emergency revoke: out of the JWKS at once, its tokens revoked", "keys:manage",
            ok={"type": "object"}, body="Reason", params=kid, tag="keys")},
        "/clients": {
            "get": _op("List clients", "clients:read", ok=_list_of("Client"), tag="clients",
                       params=[_query("status", {"enum": ["pending", "active", "suspended"]})]),
            "post": _op("Register a client (secret returned once)", "clients:manage",
                        ok=_ref("ClientSecret"), status=201, body="ClientCreate",
                        tag="clients")},
        "/clients/{client_id}": {
            "get": _op("Read a client", "clients:read", ok=_ref("Client"), params=cid,
                       tag="clients"),
            "patch": _op("Edit a client", "clients:manage", ok=_ref("Client"), params=cid,
                         body="ClientChange", tag="clients"),
            "delete": _op("Delete a client (its tokens go with it)", "clients:manage",
                          status=204, params=cid, tag="clients")},
        "/clients/{client_id}/approve": {"post": _op(
            "Approve a pending registration", "clients:manage", ok=_ref("Client"),
            params=cid, tag="clients")},
        "/clients/{client_id}/suspend": {"post": _op(
            "Suspend: no sign-ins, no tokens", "clients:manage", ok=_ref("Client"), params=cid,
            tag="clients")},
        "/clients/{client_id}/resume": {"post": _op(
            "Resume a suspended client", "clients:manage", ok=_ref("Client"), params=cid,
            tag="clients")},
        "/clients/{client_id}/rotate-secret": {"post": _op(
            "New secret (returned once); the old one works for `grace` seconds",
            "clients:manage", ok=_ref("ClientSecret"), body="SecretRotate", params=cid,
            tag="clients")},
        "/clients/{client_id}/permissions": {"put": _op(
            "Allow the ID-number scope (id_card) / in-person checks", "clients:manage",
            ok=_ref("Client"), body="ClientPermissions", params=cid, tag="clients")},
        "/initial-access-tokens": {
            "get": _op("List initial access tokens (RFC 7591)", "clients:manage",
                       ok={"type": "object"}, tag="clients"),
            "post": _op("Issue an initial access token (returned once)", "clients:manage",
                        ok={"type": "object"}, status=201, body="InitialTokenCreate",
                        tag="clients")},
        "/initial-access-tokens/{token_id}": {"delete": _op(
            "Revoke an initial access token", "clients:manage", status=204,
            params=[{"name": "token_id", "in": "path", "required": True,
                     "schema": {"type": "integer", "minimum": 1,
                                "maximum": 9223372036854775807}}], tag="clients")},
        "/citizens/search": {"post": _op(
            "Find a citizen by ID number or phone (in the body: never in a URL)",
            "citizens:read", ok=_ref("Citizen"), body="CitizenSearch", tag="citizens")},
        "/citizens/{sub}": {"get": _op("A citizen, masked", "citizens:read",
                                       ok=_ref("Citizen"), params=sub, tag="citizens")},
        "/citizens/{sub}/sessions": {
            "get": _op("The citizen's sessions across channels", "sessions:read",
                       ok={"type": "object"}, params=sub, tag="citizens"),
            "delete": _op("End every session (tokens revoked, portals told)", "sessions:end",
                          ok={"type": "object"}, params=sub, tag="citizens")},
        "/citizens/{sub}/sessions/{ref}": {"delete": _op(
            "End one session", "sessions:end", ok={"type": "object"},
            params=[*sub, _path("ref")], tag="citizens")},
        "/citizens/{sub}/lock": {"post": _op("Lock (every session ended)", "citizens:lock",
                                             ok=_ref("Citizen"), body="Reason", params=sub,
                                             tag="citizens")},
        "/citizens/{sub}/unlock": {"post": _op("Unlock", "citizens:unlock", ok=_ref("Citizen"),
                                               body="Reason", params=sub, tag="citizens")},
        "/citizens/{sub}/reset-factors": {"post": _op(
            "Remove authenticator app and passkeys after an in-person check",
            "citizens:reset-factors", ok={"type": "object"}, body="Verification",
            params=sub, tag="citizens")},
        "/audit/events": {"get": _op(
            "Search the audit trail (newest first)", "audit:read", ok=_list_of("AuditEvent"),
            params=[_query("tag", _str(1, 64)), _query("actor", _str(1, 100)),
                    _query("subject", _str(1, 100)), _query("client_id", _str(1, 64)),
                    _query("since", {"type": "string", "format": "date-time"}),
                    _query("until", {"type": "string", "format": "date-time"}),
                    _query("before_seq", {"type": "integer", "minimum": 1}),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000})],
            tag="audit")},
        "/audit/verify": {"get": _op("Verify the hash chain and the anchors", "audit:read",
                                     ok=_ref("VerifyResult"), tag="audit")},
        "/audit/anchors": {
            "get": _op("Anchors taken so far", "audit:read", ok=_list_of("Anchor"),
                       tag="audit"),
            "post": _op("Write the chain head to the anchor log now", "audit:anchor",
                        ok=_ref("Anchor"), status=201, tag="audit")},
    }


@cache
def document() -> dict[str, Any]:
    error = {"description": "error", "content": {"application/json": {"schema": _ref("Error")}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "一网通办 Unified Identity — admin API", "version": VERSION,
                 "description": "Security staff operations (issue 6). Every call needs "
                                "`Authorization: Bearer <staff API token>` (`idp staff token`) "
                                "and acts with that staff member's role; `x-permission` names "
                                "what each operation needs. Every change is audited."},
        "servers": [{"url": PREFIX}],
        "security": [{"staffToken": []}],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "responses": {"Error": error},
            "securitySchemes": {"staffToken": {"type": "http", "scheme": "bearer"}},
        },
    }


@cache
def validator(schema: str) -> Draft202012Validator:
    return Draft202012Validator(SCHEMAS[schema])
