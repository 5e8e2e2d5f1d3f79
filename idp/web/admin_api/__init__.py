"""The JSON admin API for security staff (issue 6 §2): ``/admin/api/v1``.

Every request carries ``Authorization: Bearer <staff API token>`` (``idp staff token``); the
token acts as its staff member with that member's role *now*. Each view names the permission it
needs (:func:`needs`, decided by :mod:`idp.staff.roles`), reads a JSON body validated against the
OpenAPI document's schema (:func:`body`), calls the domain services and answers JSON. Errors
are ``{"error", "error_description"}`` with 400 / 401 / 403 / 404 / 409 / 429 — never a 500 for
bad input. CSRF does not apply: no cookies are read here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, g, request

from idp.clock import as_aware
from idp.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    IdpError,
    NotFound,
    RateLimited,
    ValidationError,
)
from idp.staff import Actor, StaffRecord
from idp.staff.roles import require
from idp.web.admin_api.openapi import PREFIX, document, validator
from idp.web.principal import services

api = Blueprint("admin_api", __name__, url_prefix=PREFIX)
F = TypeVar("F", bound=Callable[..., Any])

_STATUS = {NotFound: 404, Conflict: 409, Forbidden: 403, RateLimited: 429,
           AuthenticationFailed: 401, ValidationError: 400}


def reply(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, default=_json_default), status=status,
                    content_type="application/json")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_aware(value).isoformat(timespec="seconds")
    raise TypeError(type(value).__name__)


def error(status: int, code: str, description: str) -> Response:
    response = reply({"error": code, "error_description": description}, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="admin", error="invalid_token"'
    return response


def staff() -> StaffRecord:
    return cast(StaffRecord, g.admin_staff)


def actor() -> Actor:
    member = staff()
    return Actor(name=member.actor, role=member.role)


def needs(permission: str) -> Callable[[F], F]:
    """The view needs ``permission`` (checked before anything is read or changed)."""
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require(staff().role, permission)
            return view(*args, **kwargs)
        return cast(F, wrapper)
    return decorate


def body(schema: str) -> dict[str, Any]:
    """The JSON body, valid against the OpenAPI schema ``schema``, or ValidationError."""
    if not request.is_json:
        raise ValidationError("send a JSON body (Content-Type: application/json)",
                              code="invalid_request")
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationError("the body is not valid JSON", code="invalid_request")
    problem = next(iter(validator(schema).iter_errors(data)), None)
    if problem is not None:
        where = "/".join(str(p) for p in problem.absolute_path) or "body"
        raise ValidationError(f"{where}: {problem.message}"[:300], code="invalid_request")
    return cast(dict[str, Any], data)


def optional_body(schema: str) -> dict[str, Any]:
    """As :func:`body`, but an empty body means ``{}``."""
    if not request.get_data():
        return {}
    return body(schema)


@api.before_request
def _authenticate() -> Response | None:
    if request.endpoint == "admin_api.openapi":
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error(401, "invalid_token", "send Authorization: Bearer <staff API token> "
                                           "(idp staff token)")
    member = services().staff_tokens.authenticate(token.strip())
    if member is None:
        return error(401, "invalid_token", "the API token is unknown, expired or revoked, or "
                                           "its staff member is disabled")
    g.admin_staff = member
    return None


@api.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@api.errorhandler(IdpError)
def _domain_error(exc: IdpError) -> Response:
    for cls, status in _STATUS.items():
        if isinstance(exc, cls):
            code = "invalid_request" if status == 400 else exc.code
            return error(status, code, exc.message)
    return error(400, "invalid_request", exc.message)


@api.get("/openapi.json")
def openapi() -> Response:
    response = reply(document())
    return response


@api.get("/me")
def me() -> Response:
    return reply(staff_dict(staff()))


def staff_dict(member: StaffRecord) -> dict[str, Any]:
    return {"id": member.id, "username": member.username, "display_name": member.display_name,
            "role": member.role, "status": member.status,
            "totp_confirmed": member.totp_confirmed, "last_login_at": member.last_login_at}


def register(app: Any) -> None:
    """Bind the API's views (imported for their routes) and exempt it from CSRF."""
    from idp.web.admin_api import audit, citizens, clients, keys, staff_views  # noqa: F401
    from idp.web.extensions import csrf

    app.register_blueprint(api)
    csrf.exempt(api)
