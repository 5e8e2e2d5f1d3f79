"""The device authorization grant's web side (RFC 8628 §3.1, §3.3).

* ``POST /device_authorization`` — a counter terminal starts a sign-in (Authlib's endpoint,
  :class:`idp.oidc.device_grant.DeviceAuthorizationEndpoint`).
* ``GET|POST /device`` — the citizen enters the terminal's user code in a browser, signs in if
  needed, sees which terminal asks for what, and allows or denies.
* ``GET /api/device``, ``POST /api/device/approve`` — the same from the citizen's app, with the
  app's access token.

Thin: parse, call :class:`idp.oidc.device_flow.DeviceFlow`, render. The pages (``bp``) are
CSRF-protected; the machine endpoints (``api``) carry their own credentials (the client secret,
the app's bearer token) and are exempt from CSRF.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from idp.clients import ClientRecord
from idp.errors import IdpError
from idp.oidc import acr
from idp.oidc.device_flow import (
    AlreadyDecided,
    DeviceAuthorization,
    ExpiredUserCode,
    InsufficientAssurance,
    UnknownUserCode,
    WrongCitizen,
)
from idp.oidc.user_code_throttle import UserCodeThrottled
from idp.web.app_api import AppAuthError, json_error, require_app_caller
from idp.web.factors import STEP_UP_PAGES, available_factors
from idp.web.principal import services
from idp.web.views.oidc import SCOPE_LABELS

bp = Blueprint("device", __name__)
api = Blueprint("device_api", __name__)

FAILURES: dict[type[IdpError], int] = {
    UserCodeThrottled: 429, UnknownUserCode: 404, ExpiredUserCode: 400, AlreadyDecided: 409,
    WrongCitizen: 403, InsufficientAssurance: 403,
}
FAILURE_TYPES: tuple[type[IdpError], ...] = tuple(FAILURES)
DECISIONS = ("allow", "deny")


def _acr_names() -> acr.AcrNames:
    return acr.AcrNames.of(services().settings.assurance)


def _status(exc: IdpError) -> int:
    return next(status for cls, status in FAILURES.items() if isinstance(exc, cls))


def _client_of(record: DeviceAuthorization) -> ClientRecord:
    client = services().clients.get(record.client_id)
    if client is None or client.status != "active":
        raise UnknownUserCode("the terminal's client is no longer registered")
    return client


def _lookup(raw: str, account_id: str) -> tuple[DeviceAuthorization, ClientRecord]:
    record = services().device.lookup(raw, account_id=account_id, ip=request.remote_addr)
    return record, _client_of(record)


def _retry_headers(exc: IdpError) -> dict[str, str]:
    return {"Retry-After": str(exc.retry_after)} if isinstance(exc, UserCodeThrottled) else {}


# -- the terminal ----------------------------------------------------------------------------
@api.post("/device_authorization")
def device_authorization() -> Any:
    return current_app.extensions["idp.oauth"].create_endpoint_response("device_authorization")


# -- the browser -----------------------------------------------------------------------------
def _page_message(exc: IdpError) -> str:
    if isinstance(exc, UserCodeThrottled):
        minutes = max(1, (exc.retry_after + 59) // 60)
        return str(_("Too many wrong codes were entered. Try again in %(m)d minutes.",
                     m=minutes))
    messages = {
        "invalid_user_code": _("This code is not valid. Check the code shown on the terminal "
                               "and enter it again."),
        "expired_token": _("This code has expired. Start again at the terminal to get a new "
                           "code."),
        "already_decided": _("This code has already been used."),
        "wrong_citizen": _("This sign-in was started at the terminal for another citizen. "
                           "Only that citizen can approve it."),
        "insufficient_user_authentication": _(
            "This terminal requires a higher assurance level than your sign-in reached. Set up "
            "a second factor in your account centre, then enter the code again."),
    }
    return str(messages[exc.code])


def _entry_page(user_code: str, error: str | None = None, status: int = 200,
                headers: dict[str, str] | None = None) -> Any:
    return render_template("device.html", user_code=user_code, error=error), status, \
        headers or {}


@bp.get("/device")
def enter() -> Any:
    return _entry_page(request.args.get("user_code", "")[:40])


@bp.post("/device")
def submit() -> Any:
    raw = request.form.get("user_code", "")[:40].strip()
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=url_for("device.enter",
                                                           user_code=raw or None)))
    if not raw:
        return _entry_page("", _("Enter the code shown on the terminal."), 400)
    decision = request.form.get("decision")
    if decision is not None and decision not in DECISIONS:
        abort(400)
    principal = current_user.principal
    try:
        record, client = _lookup(raw, principal.account.id)
        step_up = _step_up(record, principal) if decision != "deny" else None
        if step_up is not None:
            return step_up
        if decision is None:
            return render_template(
                "device_confirm.html", client=client, user_code=record.display_code,
                scopes=[_(SCOPE_LABELS.get(s, s)) for s in record.scope.split()],
                minutes=max(1, (services().device.expires_in(record) + 59) // 60))
        decided = services().device.decide(raw, session=principal.session,
                                           allow=decision == "allow",
                                           ip=request.remote_addr, via="browser")
    except FAILURE_TYPES as exc:
        return _entry_page(raw, _page_message(exc), _status(exc), _retry_headers(exc))
    return render_template("device_done.html", client=client,
                           approved=decided.status == "approved")


def _step_up(record: DeviceAuthorization, principal: Any) -> Any:
    """Below the terminal channel's level: off to the page of the next missing factor, back
    here afterwards (the password is not asked again) — or None when the level is met, or when
    the citizen has no such factor (then :meth:`DeviceFlow.decide` refuses, with the reason)."""
    svc = services()
    gap = svc.device.assurance_gap(record, principal.session)
    if gap is None:
        return None
    path = acr.steps(principal.session.acr, gap)
    if not path or acr.missing_steps(path, available_factors(svc, principal.account.id)) \
            or path[0] not in STEP_UP_PAGES:
        return None
    return redirect(url_for(STEP_UP_PAGES[path[0]], client=record.client_id,
                            next=url_for("device.enter", user_code=record.display_code)))


# -- the app ---------------------------------------------------------------------------------
def _api_failure(exc: IdpError) -> Response:
    resp = json_error(_status(exc), exc.code, exc.message)
    resp.headers.update(_retry_headers(exc))
    if isinstance(exc, InsufficientAssurance):  # RFC 9470 §3: what the app must achieve
        resp.headers["WWW-Authenticate"] = (f'Bearer error="{exc.code}", '
                                            f'acr_values="{_acr_names().external(exc.required)}"')
    return resp


@api.get("/api/device")
def api_lookup() -> Response:
    try:
        caller = require_app_caller()
    except AppAuthError as exc:
        return exc.response()
    raw = request.args.get("user_code", "")[:40].strip()
    if not raw:
        return json_error(400, "invalid_request", "user_code is required")
    try:
        record, client = _lookup(raw, caller.principal.account.id)
    except FAILURE_TYPES as exc:
        return _api_failure(exc)
    return jsonify(client_name=client.name, scopes=record.scope.split(),
                   expires_in=services().device.expires_in(record),
                   required_acr=_acr_names().external(record.required_acr),
                   in_person=record.in_person)


@api.post("/api/device/approve")
def api_approve() -> Response:
    try:
        caller = require_app_caller()
    except AppAuthError as exc:
        return exc.response()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error(400, "invalid_request", "send a JSON object with user_code and "
                          "decision")
    raw, decision = body.get("user_code"), body.get("decision")
    if not isinstance(raw, str) or not raw.strip():
        return json_error(400, "invalid_request", "user_code is required")
    if decision not in DECISIONS:
        return json_error(400, "invalid_request", 'decision must be "allow" or "deny"')
    raw = raw[:40].strip()
    try:
        _, client = _lookup(raw, caller.principal.account.id)
        decided = services().device.decide(raw, session=caller.principal.session,
                                           allow=decision == "allow",
                                           ip=request.remote_addr, via="app")
    except FAILURE_TYPES as exc:
        return _api_failure(exc)
    return jsonify(status="approved" if decided.status == "approved" else "denied",
                   client_name=client.name)
