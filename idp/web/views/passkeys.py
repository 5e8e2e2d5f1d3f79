"""Passkeys (WebAuthn) in the browser: registration in the account centre and step-up to L2 at
/login/verify (``amr`` ``hwk``, docs/assurance.md). Thin: parse the JSON body, call
:class:`idp.accounts.passkeys.PasskeyService`, answer JSON for ``static/passkeys.js``.

Every JSON endpoint is a POST that needs the CSRF token in the ``X-CSRFToken`` header
(CSRFProtect checks it); errors are JSON ``{"error", "error_description"}`` — 400 for bad input,
401 for a passkey that did not verify, 403 when a step-up is needed first, 429 with
``Retry-After`` past the failure limit — never a page or a traceback. Removal is an ordinary
form POST from /account/security.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from idp.accounts.passkeys import NAME_MAX, StepUpRequired
from idp.errors import AuthenticationFailed, Conflict, IdpError, NotFound, RateLimited
from idp.oidc import acr
from idp.web.factors import enrolment_needs_step_up
from idp.web.messages import error_message
from idp.web.principal import services
from idp.web.views.account import FLASH, signed_in
from idp.web.views.auth import _safe_next, _stepped_up

bp = Blueprint("passkeys", __name__)  # form posts (pages)
api = Blueprint("passkeys_api", __name__)  # JSON endpoints


def _error(status: int, error: str, description: str, **headers: str) -> Any:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    response.headers.update(headers)
    return response


def _message(exc: IdpError) -> str:
    """The citizen's message for a passkey error (translated; never echoes input)."""
    messages = {
        "passkey.failed": _("The passkey could not be verified. Try again, or use another way "
                            "to confirm it is you."),
        "passkey.step_up_required": _("Confirm it is you with your second factor first, then "
                                      "add the passkey."),
        "passkey.name": _("Give the passkey a name of at most %(num)d characters.",
                          num=NAME_MAX),
        "passkey.malformed": _("The answer of your passkey could not be read. Try again."),
        "passkey.invalid": _("The passkey could not be added. Try again."),
        "passkey.challenge": _("The request has expired. Try again."),
        "passkey.duplicate": _("This passkey is already added."),
        "passkey.none": _("No passkey is set up for this account."),
    }
    return messages.get(exc.code) or error_message(exc)


def _failure(exc: IdpError) -> Any:
    """A domain error as the JSON answer (see the module docstring)."""
    if isinstance(exc, RateLimited):
        return _error(429, "rate_limited", error_message(exc), **{
            "Retry-After": str(exc.retry_after)})
    if isinstance(exc, StepUpRequired):
        return _error(403, "step_up_required", _message(exc))
    if isinstance(exc, AuthenticationFailed):
        return _error(401, "passkey_failed", _message(exc))
    if isinstance(exc, NotFound):
        return _error(404, "not_found", _message(exc))
    if isinstance(exc, Conflict):
        return _error(409, "conflict", _message(exc))
    return _error(400, "invalid_request", _message(exc))


def _body() -> dict[str, Any] | None:
    """The JSON object posted, or None (not JSON, not an object)."""
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def _bad_request() -> Any:
    return _error(400, "invalid_request",
                  _("The request could not be completed. Check your input and try again."))


@api.errorhandler(CSRFError)
def _csrf(exc: CSRFError) -> Any:
    return _error(400, "invalid_request", _("For your security the page expired. Reload the "
                                            "page and try again."))


@api.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Any:
    return _error(exc.code or 400, "invalid_request", exc.description or exc.name)


@api.before_request
def _signed_in() -> Any:
    if not current_user.is_authenticated:
        return _error(401, "login_required", _("Your session has ended. Sign in again."))
    return None


# -- account centre: register, remove --------------------------------------------------------
@api.post("/account/security/passkeys/options")
def registration_options() -> Any:
    account = current_user.account
    session = current_user.principal.session
    if enrolment_needs_step_up(services(), account.id, session.acr):
        return _failure(StepUpRequired("confirm it is you with a second factor before adding "
                                       "a passkey"))
    try:
        options = services().passkeys.registration_options(account.id,
                                                           account.id_number_masked)
    except IdpError as exc:
        return _failure(exc)
    return jsonify(options)


@api.post("/account/security/passkeys")
def register() -> Any:
    body = _body()
    if body is None or not isinstance(body.get("credential"), dict):
        return _bad_request()
    name = body.get("name")
    name = name.strip()[:NAME_MAX + 1] if isinstance(name, str) else ""
    svc = services()
    account_id = current_user.account.id
    if not name:
        name = _("Passkey %(num)d", num=len(svc.passkeys.list(account_id)) + 1)
    try:
        svc.passkeys.finish_registration(account_id, body["credential"], name,
                                         ip=request.remote_addr)
    except IdpError as exc:
        return _failure(exc)
    flash(_("The passkey was added. You can use it to confirm it is you."), FLASH)
    return jsonify({"redirect": url_for("account.security")}), 201


@bp.post("/account/security/passkeys/<int:passkey_id>/delete")
@signed_in
def remove(passkey_id: int) -> Any:
    # Like removing the authenticator app (which takes a current code): a session that has
    # shown a second factor, so a stolen password alone cannot strip the citizen's factors.
    if acr.rank(current_user.principal.session.acr) < acr.rank("L2"):
        return redirect(url_for("auth.verify", next=url_for("account.security")))
    try:
        services().passkeys.remove(current_user.account.id, passkey_id, ip=request.remote_addr)
    except NotFound:
        flash(_("That passkey is not one of yours, or it was already removed."), FLASH)
        return redirect(url_for("account.security"))
    flash(_("The passkey was removed."), FLASH)
    return redirect(url_for("account.security"))


# -- /login/verify: step-up with a passkey ----------------------------------------------------
@api.post("/login/verify/passkey/options")
def authentication_options() -> Any:
    try:
        options = services().passkeys.authentication_options(current_user.account.id)
    except IdpError as exc:
        return _failure(exc)
    return jsonify(options)


@api.post("/login/verify/passkey")
def verify() -> Any:
    body = _body()
    if body is None or not isinstance(body.get("credential"), dict):
        return _bad_request()
    raw_next = body.get("next")
    next_url = _safe_next(raw_next if isinstance(raw_next, str) else None)
    account = current_user.account
    try:
        services().passkeys.finish_authentication(account.id, body["credential"],
                                                  ip=request.remote_addr)
    except IdpError as exc:
        return _failure(exc)
    done = _stepped_up(account, "hwk", next_url)  # the same SSO session, now L2 (+ hwk)
    return jsonify({"redirect": done.headers["Location"]})
