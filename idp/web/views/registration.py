"""Dynamic client registration over HTTP (RFC 7591, RFC 7592; the protocol is in
:mod:`idp.oidc.registration`, the rules in :mod:`idp.clients.registration`).

- ``POST /register``: register a client — a JSON body, ``Authorization: Bearer <initial access
  token>``. The client waits for staff approval (``idp clients approve``).
- ``GET | PUT | DELETE /register/<client_id>``: the client's own registration, with its
  registration access token.

``/register`` is also the citizens' sign-up page (``auth.register``, an HTML form). A POST with
a JSON body or an ``Authorization`` header is a client registration; any other POST is the
sign-up form, handed on with its CSRF check. This blueprint is therefore registered before
``auth`` (whose rule would otherwise take every POST) and exempt from the app-wide CSRF check:
no cookie is read here. With ``[registration] enabled = false`` these routes answer 404 (JSON);
the sign-up form is unaffected.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from idp.oidc.registration import ConfigurationEndpoint, HttpCall, RegistrationEndpoint
from idp.web.app_api import json_error
from idp.web.extensions import csrf
from idp.web.principal import services
from idp.web.views import auth

bp = Blueprint("registration", __name__)


def _is_client_registration() -> bool:
    return request.is_json or "Authorization" in request.headers


def _respond(endpoint: str, client_id: str | None = None) -> Any:
    if not services().settings.registration.enabled:
        return json_error(404, "invalid_request",
                          "dynamic client registration is turned off on this server")
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return json_error(413, "invalid_request", "the body is too large")
    method = "GET" if request.method == "HEAD" else request.method
    call = HttpCall(method=method, uri=request.url, headers=dict(request.headers), body=body,
                    client_id=client_id)
    return current_app.extensions["idp.oauth"].create_endpoint_response(endpoint, call)


@bp.post("/register")
def register() -> Any:
    if not _is_client_registration():
        csrf.protect()  # the citizens' sign-up form, checked as it always is
        return auth.register()
    return _respond(RegistrationEndpoint.ENDPOINT_NAME)


@bp.route("/register/<client_id>", methods=["GET", "PUT", "DELETE"])
def configuration(client_id: str) -> Any:
    return _respond(ConfigurationEndpoint.ENDPOINT_NAME, client_id)
