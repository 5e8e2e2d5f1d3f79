"""Scan-to-login (扫码登录): the sign-in page's QR code and the app's approval API.

Browser side (session cookie; POSTs carry the page's CSRF token in ``X-CSRFToken``), driven by
``static/qr-login.js``:

* ``POST /qr/start`` ``{"next"}`` → ``{"ticket_id", "qr_svg", "expires_in", "poll_interval"}``
* ``GET /qr/status?ticket=…`` → ``{"status": "waiting|scanned|confirmed|denied|expired"}``
* ``POST /qr/complete`` ``{"ticket_id"}`` → signs the browser in → ``{"redirect": next}``
* ``GET /qr/<ticket_id>``: what a phone camera that opens the QR code sees (use the app).

App side (``Authorization: Bearer`` app access token, JSON, no CSRF; docs/channels/app.md):

* ``POST /api/qr/scan`` ``{"ticket_id"}`` → what the phone shows before the citizen decides
* ``POST /api/qr/confirm`` ``{"ticket_id", "decision": "allow|deny"}``

The ticket rules live in :mod:`idp.sessions.qr`; these views parse, call it and answer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import qrcode
import qrcode.image.svg
from flask import Blueprint, Response, jsonify, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError

from idp.errors import IdpError
from idp.oidc.models import Principal
from idp.sessions.qr import (
    TicketExpired,
    TicketState,
    UnknownTicket,
    WrongBrowser,
    WrongSession,
    fingerprint,
)
from idp.sessions.user_agents import describe
from idp.web.app_api import AppAuthError, AppCaller, json_error, require_app_caller
from idp.web.browser_binding import browser_secret, current_secret
from idp.web.principal import CitizenUser, services
from idp.web.views.auth import _safe_next

bp = Blueprint("qr", __name__)
api = Blueprint("qr_api", __name__, url_prefix="/api/qr")

MCA = "mca"  # RFC 8176: multiple-channel authentication

STATUS_CODES: tuple[tuple[type[IdpError], int], ...] = (
    (UnknownTicket, 404), (TicketExpired, 410), (WrongBrowser, 403), (WrongSession, 403),
    (TicketState, 409))
TICKET_ERRORS = (UnknownTicket, TicketExpired, WrongBrowser, WrongSession, TicketState)


class BadBody(Exception):
    """The app's request body is not what the endpoint takes (answered 400)."""


def _ticket_error(exc: IdpError, ticket_id: str, *, account_id: str | None = None
                  ) -> Response:
    """The JSON answer to a refused ticket step. Refusals that point at someone else's ticket
    (another browser, another app session) are audited."""
    status = next(code for kind, code in STATUS_CODES if isinstance(exc, kind))
    if isinstance(exc, WrongBrowser | WrongSession):
        services().audit.record(account_id or "anonymous", "qr:login:refused",
                                subject=account_id, ip=request.remote_addr,
                                extra={"reason": exc.code, "ticket": fingerprint(ticket_id)})
    return json_error(status, exc.code, exc.message)


def _body() -> dict[str, Any] | None:
    """The request's JSON object, or None when the body is not one."""
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def _qr_svg(text: str) -> str:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10,
                         border=4, image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(text)
    code.make(fit=True)
    return str(code.make_image().to_string(encoding="unicode"))


def _continues_to(next_url: str) -> str | None:
    """The client an authorization request in ``next`` is for (shown on the phone)."""
    parts = urlsplit(next_url)
    if parts.path != url_for("oidc.authorize"):
        return None
    client_id = (parse_qs(parts.query).get("client_id") or [""])[0]
    if not client_id or len(client_id) > 100 or services().clients.get(client_id) is None:
        return None
    return client_id


def _join(principal: Principal) -> None:
    """Sign the browser in to ``principal``'s session, ending any other session it had (as
    ``auth._sign_in`` does)."""
    if current_user.is_authenticated and current_user.principal.session.sid != \
            principal.session.sid:
        services().session_ending.end(current_user.principal.session.sid, by="citizen",
                                      ip=request.remote_addr, reason="account_switch")
        logout_user()
    login_user(CitizenUser(principal))


# -- the browser --------------------------------------------------------------------------------


@bp.post("/qr/start")
def start() -> Any:
    svc = services()
    body = _body() or {}
    next_url = _safe_next(body.get("next") if isinstance(body.get("next"), str) else None)
    ticket = svc.qr.start(browser_secret=browser_secret(), next_url=next_url,
                          user_agent=request.headers.get("User-Agent"),
                          client_id=_continues_to(next_url))
    url = f"{svc.settings.issuer}/qr/{ticket.ticket_id}"
    return jsonify(ticket_id=ticket.ticket_id, qr_svg=_qr_svg(url), qr_url=url,
                   status=ticket.status, expires_in=svc.qr.ttl,
                   poll_interval=svc.settings.qr.poll_interval)


@bp.get("/qr/status")
def status() -> Any:
    ticket_id = request.args.get("ticket")
    if not ticket_id:
        return json_error(400, "invalid_request", "name the ticket: /qr/status?ticket=…")
    try:
        state, expires_in = services().qr.status(ticket_id, browser_secret=current_secret())
    except TICKET_ERRORS as exc:
        return _ticket_error(exc, ticket_id)
    return jsonify(status=state, expires_in=expires_in)


@bp.post("/qr/complete")
def complete() -> Any:
    svc = services()
    ticket_id = (_body() or {}).get("ticket_id")
    if not isinstance(ticket_id, str) or not ticket_id:
        return json_error(400, "invalid_request", "send a JSON object with the ticket_id")
    try:
        ticket = svc.qr.complete(ticket_id, browser_secret=current_secret())
    except TICKET_ERRORS as exc:
        return _ticket_error(exc, ticket_id)
    sso = svc.sso.get(ticket.sid)
    account = svc.accounts.get(ticket.account_id or "") if sso is not None else None
    joined = svc.sso.join_browser(sso, amr=MCA) if sso is not None and account is not None \
        and account.status == "active" and sso.account_id == account.id else None
    if joined is None or account is None:
        return json_error(410, "session_ended",
                          "the app signed out before the sign-in was completed")
    _join(Principal(account=account, session=joined))
    svc.audit.record(account.id, "qr:login:completed", subject=account.id,
                     ip=request.remote_addr,
                     extra={"ticket": fingerprint(ticket.ticket_id),
                            "browser": describe(request.headers.get("User-Agent"))})
    return jsonify(redirect=ticket.next_url)


@bp.get("/qr/<ticket_id>")
def phone_page(ticket_id: str) -> Any:
    """A phone camera app opened the QR code: point the citizen at the 一网通办 app."""
    return render_template("qr_phone.html")


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> Response:
    return json_error(400, "csrf", "reload the sign-in page and try again")


# -- the app ------------------------------------------------------------------------------------


def _app_request() -> tuple[AppCaller, dict[str, Any], str]:
    """The calling app session, the JSON body and its ``ticket_id``; raises
    :class:`AppAuthError` (401/403) or :class:`BadBody` (400)."""
    caller = require_app_caller()
    body = _body()
    if body is None:
        raise BadBody("send a JSON object (Content-Type: application/json)")
    ticket_id = body.get("ticket_id")
    if not isinstance(ticket_id, str) or not ticket_id:
        raise BadBody("ticket_id is required")
    return caller, body, ticket_id


@api.post("/scan")
def scan() -> Any:
    svc = services()
    try:
        caller, _, ticket_id = _app_request()
    except AppAuthError as exc:
        return exc.response()
    except BadBody as exc:
        return json_error(400, "invalid_request", str(exc))
    account_id = caller.principal.account.id
    try:
        ticket = svc.qr.scan(ticket_id, sid=caller.principal.session.sid, account_id=account_id)
    except TICKET_ERRORS as exc:
        return _ticket_error(exc, ticket_id, account_id=account_id)
    browser = describe(ticket.user_agent)
    svc.audit.record(account_id, "qr:login:scanned", subject=account_id,
                     client_id=caller.token.client_id, ip=request.remote_addr,
                     extra={"ticket": fingerprint(ticket.ticket_id), "browser": browser})
    portal = svc.clients.get(ticket.client_id) if ticket.client_id else None
    return jsonify(status=ticket.status, browser=browser, requested_at=ticket.created_at,
                   next_client=portal.name if portal else None,
                   expires_at=ticket.expires_at)


@api.post("/confirm")
def confirm() -> Any:
    svc = services()
    try:
        caller, body, ticket_id = _app_request()
        decision = body.get("decision")
        if decision not in ("allow", "deny"):
            raise BadBody('decision must be "allow" or "deny"')
    except AppAuthError as exc:
        return exc.response()
    except BadBody as exc:
        return json_error(400, "invalid_request", str(exc))
    account_id = caller.principal.account.id
    try:
        ticket = svc.qr.decide(ticket_id, sid=caller.principal.session.sid,
                               account_id=account_id, allow=decision == "allow")
    except TICKET_ERRORS as exc:
        return _ticket_error(exc, ticket_id, account_id=account_id)
    svc.audit.record(account_id, f"qr:login:{ticket.status}", subject=account_id,
                     client_id=caller.token.client_id, ip=request.remote_addr,
                     extra={"ticket": fingerprint(ticket.ticket_id),
                            "browser": describe(ticket.user_agent)})
    return jsonify(status=ticket.status)
