"""The citizen's account centre (个人中心): home, sessions, consents, sign-in history, password,
second factor (``/account/security``: TOTP enrolment, recovery codes, removal).

Thin views: each parses the form, calls one domain service (:class:`SessionEnding`,
:class:`ConsentService`, :class:`AccountService`, the audit trail) and renders or redirects.
Every page needs a signed-in citizen; every form carries a CSRF token (CSRFProtect).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, TypeVar, cast

import qrcode
import qrcode.image.svg
from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, logout_user

from idp.errors import AuthenticationFailed, IdpError, NotFound, RateLimited
from idp.sessions import SsoSession, session_ref
from idp.sessions.user_agents import UNKNOWN, describe
from idp.web.account_labels import (
    FAILED_TAGS,
    HISTORY_TAGS,
    amr_labels,
    channel_label,
    history_label,
    local_time,
    masked_network,
)
from idp.web.factors import enrolment_needs_step_up
from idp.web.messages import error_message
from idp.web.principal import services
from idp.web.session_end import back_to_sign_in
from idp.web.views.oidc import SCOPE_LABELS

bp = Blueprint("account", __name__)
View = TypeVar("View", bound=Callable[..., Any])


def signed_in(view: View) -> View:
    """Flask-Login's ``login_required`` (to /login?next=…), typed for mypy."""
    return cast(View, login_required(view))


FLASH = "account"  # flash category of these pages (Flask-Login flashes under another one)
HISTORY_LIMIT = 50
# Audit-tag prefixes read for the history page (each query is indexed by subject and tag).
_HISTORY_PREFIXES = ("account:login:", "account:password:", "qr:login:completed",
                     "session:end:success")


def _account_id() -> str:
    return str(current_user.account.id)


def _current_sid() -> str:
    return str(current_user.principal.session.sid)


@bp.get("/")
def home() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return render_template("home.html", account=current_user.account,
                           session=current_user.principal.session)


# -- sessions ----------------------------------------------------------------------------------
def _session_row(session: SsoSession, current_sid: str) -> dict[str, Any]:
    svc = services()
    portals = []
    for client_id, channel in sorted(session.clients.items()):
        record = svc.clients.get(client_id)
        portals.append({"name": record.name if record else _("A portal no longer registered"),
                        "channel": channel_label(channel)})
    device = describe(session.user_agent)
    return {
        "ref": session_ref(session.sid),
        "current": session.sid == current_sid,
        "started": local_time(session.created_at),
        "methods": amr_labels(session.amr),
        "device": _("Unknown browser") if device == UNKNOWN else device,
        "portals": portals,
    }


def _sessions_page(error: str | None = None, status: int = 200) -> Any:
    current_sid = _current_sid()
    found = services().sso.for_account(_account_id())
    # This browser first, then the newest.
    found.sort(key=lambda s: (s.sid != current_sid, -s.created_at))
    rows = [_session_row(s, current_sid) for s in found]
    return render_template("account_sessions.html", sessions=rows, error=error,
                           nav="sessions"), status


@bp.get("/account/sessions")
@signed_in
def sessions() -> Any:
    return _sessions_page()


@bp.post("/account/sessions/end")
@signed_in
def end_session() -> Any:
    ref = request.form.get("session", "")[:64]
    current = session_ref(_current_sid())
    try:
        ended = services().session_ending.end_for_account(_account_id(), ref,
                                                          ip=request.remote_addr)
    except NotFound:
        return _sessions_page(_("That session is not one of yours, or it has already ended. "
                                "Nothing was ended."), 404)
    if ref == current:  # this browser's own: as the Sign out button (front-channel logout)
        logout_user()
        return back_to_sign_in(ended)
    flash(_("The session was ended. Portals that used it must sign you in again."), FLASH)
    return redirect(url_for("account.sessions"))


@bp.post("/account/sessions/end-others")
@signed_in
def end_other_sessions() -> Any:
    ended = services().session_ending.end_others(_account_id(), _current_sid(), by="citizen",
                                                 ip=request.remote_addr)
    flash(ngettext("%(num)d other session was ended.", "%(num)d other sessions were ended.",
                   len(ended)), FLASH)
    return redirect(url_for("account.sessions"))


# -- consents ----------------------------------------------------------------------------------
def _consents_page(error: str | None = None, status: int = 200) -> Any:
    svc = services()
    rows = []
    for consent in svc.consents.for_account(_account_id()):
        record = svc.clients.get(consent.client_id)
        rows.append({
            "client_id": consent.client_id,
            "name": record.name if record else _("A portal no longer registered"),
            "channel": channel_label(record.channel) if record else "",
            "scopes": [_(SCOPE_LABELS[s]) if s in SCOPE_LABELS else s
                       for s in consent.scopes],
            "granted": local_time(consent.granted_at),
        })
    return render_template("account_consents.html", consents=rows, error=error,
                           nav="consents"), status


@bp.get("/account/consents")
@signed_in
def consents() -> Any:
    return _consents_page()


@bp.post("/account/consents/withdraw")
@signed_in
def withdraw_consent() -> Any:
    svc = services()
    client_id = request.form.get("client_id", "")[:64]
    account_id = _account_id()
    if not client_id or not svc.consents.revoke(account_id, client_id):
        return _consents_page(_("There is no permission for that portal to withdraw."), 404)
    # The portal is told too: a logout token for each session of this citizen it took part in.
    sessions_left = svc.session_ending.client_withdrawn(account_id, client_id)
    svc.audit.record(account_id, "consent:revoke:success", subject=account_id,
                     client_id=client_id, ip=request.remote_addr,
                     extra={"by": "citizen", "sessions": sessions_left})
    flash(_("Permission withdrawn. The portal will ask you again the next time you sign in "
            "to it."), FLASH)
    return redirect(url_for("account.consents"))


# -- sign-in history ---------------------------------------------------------------------------
@bp.get("/account/history")
@signed_in
def history() -> Any:
    audit = services().audit
    account_id = _account_id()
    events = [event for prefix in _HISTORY_PREFIXES
              for event in audit.events(tag=prefix, subject=account_id, limit=HISTORY_LIMIT)
              if event.tag in HISTORY_TAGS]
    events.sort(key=lambda e: e.seq, reverse=True)
    rows = [{"time": local_time(e.ts), "outcome": history_label(e.tag),
             "failed": e.tag in FAILED_TAGS, "network": masked_network(e.ip)}
            for e in events[:HISTORY_LIMIT]]
    return render_template("account_history.html", events=rows, nav="history")


# -- password ----------------------------------------------------------------------------------
@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def password() -> Any:
    if request.method == "GET":
        return render_template("account_password.html", error=None, nav="password")
    current = request.form.get("current_password", "")[:256]
    new = request.form.get("new_password", "")[:256]
    end_others = request.form.get("end_other_sessions") == "yes"
    status, error = 400, None
    if not current or not new:
        error = _("Enter your current password and a new password.")
    elif new != request.form.get("new_password_confirm", "")[:256]:
        error = _("The two passwords do not match.")
    else:
        try:
            ended = services().accounts.change_password(
                _account_id(), current, new, end_other_sessions=end_others,
                keep_sid=_current_sid(), ip=request.remote_addr)
        except RateLimited as exc:
            status, error = 429, error_message(exc)
        except AuthenticationFailed:
            status, error = 401, _("The current password is not correct. Nothing was changed.")
        except IdpError as exc:
            error = error_message(exc)
        else:
            flash(_("Your password was changed."), FLASH)
            if end_others:
                flash(ngettext("%(num)d other session was ended.",
                               "%(num)d other sessions were ended.", ended), FLASH)
            return redirect(url_for("account.password"))
    return render_template("account_password.html", error=error, nav="password"), status


# -- second factor (TOTP) -----------------------------------------------------------------------
def _qr_data_uri(text: str) -> str:
    """The QR code as an SVG data URI (CSP ``img-src`` allows ``data:``)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10,
                         border=4, image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(text)
    code.make(fit=True)
    svg = code.make_image().to_string()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


def _security_page(error: str | None = None, status: int = 200) -> Any:
    mfa = services().mfa
    account = current_user.account
    state = mfa.status(account.id)
    enrolment = mfa.pending(account.id, label=account.id_number_masked) if state.pending else None
    context: dict[str, Any] = {"state": state, "error": error, "nav": "security",
                               "confirm_first": enrolment_needs_step_up(
                                   services(), account.id, current_user.principal.session.acr),
                               "since": local_time(state.confirmed_at)
                               if state.confirmed_at else None,
                               "passkeys": [{"id": p.id, "name": p.name,
                                             "created": local_time(p.created_at),
                                             "last_used": local_time(p.last_used_at)
                                             if p.last_used_at else None}
                                            for p in services().passkeys.list(account.id)]}
    if enrolment is not None:
        context["qr"] = _qr_data_uri(enrolment.uri)
        context["secret"] = " ".join(enrolment.secret[i:i + 4]
                                     for i in range(0, len(enrolment.secret), 4))
    resp = make_response(render_template("account_security.html", **context), status)
    resp.headers["Cache-Control"] = "no-store"  # the pending secret is on the page
    return resp


@bp.get("/account/security")
@signed_in
def security() -> Any:
    return _security_page()


@bp.post("/account/security/totp/enrol")
@signed_in
def totp_enrol() -> Any:
    if enrolment_needs_step_up(services(), _account_id(), current_user.principal.session.acr):
        return redirect(url_for("auth.verify", next=url_for("account.security")))
    try:
        services().mfa.enrol(_account_id(), label=current_user.account.id_number_masked,
                             ip=request.remote_addr)
    except IdpError as exc:
        return _security_page(error_message(exc), 409)
    return redirect(url_for("account.security"))


@bp.post("/account/security/totp/confirm")
@signed_in
def totp_confirm() -> Any:
    code = request.form.get("code", "").strip()[:16]
    try:
        codes = services().mfa.confirm(_account_id(), code, ip=request.remote_addr)
    except RateLimited as exc:
        return _security_page(error_message(exc), 429)
    except AuthenticationFailed as exc:
        return _security_page(error_message(exc), 401)
    except IdpError as exc:
        return _security_page(error_message(exc), 409)
    resp = make_response(render_template("account_recovery_codes.html", codes=codes,
                                         error=None, nav="security"))
    resp.headers["Cache-Control"] = "no-store"  # shown once: never from a cache
    return resp


@bp.post("/account/security/totp/disable")
@signed_in
def totp_disable() -> Any:
    code = request.form.get("code", "").strip()[:64]
    try:
        services().mfa.disable(_account_id(), code, ip=request.remote_addr)
    except RateLimited as exc:
        return _security_page(error_message(exc), 429)
    except AuthenticationFailed as exc:
        return _security_page(error_message(exc), 401)
    except IdpError as exc:
        return _security_page(error_message(exc), 409)
    flash(_("The authenticator app was removed. Portals that require assurance level L2 can "
            "no longer be used until you set one up again."), FLASH)
    return redirect(url_for("account.security"))
