"""Sign-in, registration and sign-out pages. Thin: parse the form, call the account service,
start the SSO session, redirect back to where the citizen was going."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from idp.accounts.services import Registration
from idp.accounts.sms import SmsDeliveryFailed, mask_phone
from idp.errors import (
    AccountLocked,
    AuthenticationFailed,
    Conflict,
    IdpError,
    NotFound,
    RateLimited,
    ValidationError,
)
from idp.oidc.acr import STEP_UP
from idp.oidc.models import Principal
from idp.web.browser_binding import browser_secret
from idp.web.factors import available_factors
from idp.web.messages import error_message
from idp.web.principal import CitizenUser, services
from idp.web.session_end import back_to_sign_in, end_browser_session

bp = Blueprint("auth", __name__)


def _safe_next(value: str | None) -> str:
    """Only local paths: never an open redirect."""
    if not value:
        return url_for("account.home")
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//") \
            or "\\" in value:
        return url_for("account.home")
    return value


def _client_name(client_id: str | None) -> str | None:
    if not client_id:
        return None
    record = services().clients.get(client_id)
    return record.name if record else None


def _sign_in(account: Any, *, amr: list[str], acr: str) -> None:
    svc = services()
    ua = request.headers.get("User-Agent")
    if current_user.is_authenticated:
        existing = current_user.principal.session
        if existing.account_id == account.id:
            session = svc.sso.reauthenticated(existing, amr=amr, acr=acr)
            login_user(CitizenUser(Principal(account=account, session=session)))
            if session.sid != existing.sid:  # it had ended meanwhile: a new one started
                svc.session_limits.started(session, ip=request.remote_addr)
            return
        # Another citizen signs in on this browser (a shared computer): the previous citizen's
        # session ends everywhere — tokens revoked, portals told — not just in this browser.
        svc.session_ending.end(existing.sid, by="citizen", ip=request.remote_addr,
                               reason="account_switch")
        logout_user()
    session = svc.sso.start(account.id, amr=amr, acr=acr, user_agent=ua)
    login_user(CitizenUser(Principal(account=account, session=session)))
    svc.session_limits.started(session, ip=request.remote_addr)  # [session] max_per_account


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_url = _safe_next(request.values.get("next"))
    client_name = _client_name(request.values.get("client"))
    context = {"next_url": next_url, "client_name": client_name, "error": None,
               "username": request.values.get("login_hint") or ""}
    browser_secret()  # for the page's scan-to-login script (see idp/web/browser_binding.py)
    if request.method == "GET":
        return render_template("login.html", **context)
    username = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")[:256]
    context["username"] = username
    if not username or not password:
        context["error"] = _("Enter your ID number or phone number, and your password.")
        return render_template("login.html", **context), 400
    try:
        account = services().accounts.authenticate(username, password, ip=request.remote_addr)
    except RateLimited as exc:
        context["error"] = error_message(exc)
        return render_template("login.html", **context), 429, {
            "Retry-After": str(exc.retry_after)}
    except (AuthenticationFailed, AccountLocked) as exc:
        context["error"] = error_message(exc)
        return render_template("login.html", **context), 401
    _sign_in(account, amr=["pwd"], acr="L1")
    return redirect(next_url)


@bp.route("/login/verify", methods=["GET", "POST"])
def verify() -> Any:
    """The second factor (step-up to L2, docs/assurance.md): a passkey (static/passkeys.js,
    views/passkeys.py), a code from the authenticator app, a recovery code, or a code sent by
    SMS to the account's phone (``action=send_sms``, then ``sms_code``), in the signed-in
    session — the password is not asked again."""
    next_url = _safe_next(request.values.get("next"))
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=next_url, client=request.values.get("client")))
    svc = services()
    account = current_user.account
    factors = available_factors(svc, account.id)
    totp, passkey = "otp" in factors, "hwk" in factors  # passkeys: views/passkeys.py
    if not factors & set(STEP_UP["L2"]):  # /authorize explains how to set one up
        return redirect(next_url)
    context = {"next_url": next_url, "client_name": _client_name(request.values.get("client")),
               "client_id": request.values.get("client") or "", "error": None, "totp": totp,
               "passkey": passkey,
               "sms": svc.sms.enabled, "phone_masked": mask_phone(account.phone),
               "sms_sent": svc.sms.enabled and svc.sms.pending(account.id)}
    if request.method == "GET":
        return render_template("login_verify.html", **context)
    if svc.sms.enabled and request.form.get("action") == "send_sms":
        try:
            svc.sms.send(account.id, account.phone, ip=request.remote_addr)
        except (RateLimited, SmsDeliveryFailed) as exc:
            return _verify_failed(context, exc)
        return redirect(url_for("auth.verify", next=next_url, client=context["client_id"] or None))
    sms_code = request.form.get("sms_code")
    if svc.sms.enabled and sms_code is not None:
        if not sms_code.strip():
            context["error"] = _("Enter the code from the text message.")
            return render_template("login_verify.html", **context), 400
        try:
            svc.sms.verify(account.id, sms_code.strip()[:16], ip=request.remote_addr)
        except (AuthenticationFailed, NotFound) as exc:
            context["sms_sent"] = svc.sms.pending(account.id)
            return _verify_failed(context, exc)
        return _stepped_up(account, "sms", next_url)
    code = request.form.get("code", "").strip()[:64]
    if not code:
        context["error"] = _("Enter the 6-digit code from your authenticator app, or a "
                             "recovery code.")
        return render_template("login_verify.html", **context), 400
    try:
        svc.mfa.verify_any(account.id, code, ip=request.remote_addr)
    except (RateLimited, AuthenticationFailed, NotFound) as exc:
        return _verify_failed(context, exc)
    # RFC 8176 has no value for a recovery code: it is a one-time code too, so "otp" either
    # way (the audit trail tells them apart: mfa:totp:verify vs mfa:recovery:use).
    return _stepped_up(account, "otp", next_url)


def _verify_failed(context: dict[str, Any], exc: IdpError) -> Any:
    """The verify page again with the error: 429 (+ Retry-After), 503 (gateway) or 401."""
    context["error"] = error_message(exc)
    if isinstance(exc, RateLimited):
        return render_template("login_verify.html", **context), 429, {
            "Retry-After": str(exc.retry_after)}
    status = 503 if isinstance(exc, SmsDeliveryFailed) else 401
    return render_template("login_verify.html", **context), status


def _stepped_up(account: Any, amr: str, next_url: str) -> Any:
    """The same SSO session, now L2 with ``amr`` added; back to where the citizen was going."""
    session = services().sso.stepped_up(current_user.principal.session, amr=amr, acr="L2")
    if session is None:  # the session ended meanwhile
        logout_user()
        return redirect(url_for("auth.login", next=next_url))
    login_user(CitizenUser(Principal(account=account, session=session)))
    return redirect(next_url)


@bp.route("/register", methods=["GET", "POST"])
def register() -> Any:
    next_url = _safe_next(request.values.get("next"))
    form = {k: request.form.get(k, "").strip()[:100] for k in ("id_number", "name", "phone")}
    context = {"next_url": next_url, "form": form, "error": None}
    if request.method == "GET":
        return render_template("register.html", **context)
    password = request.form.get("password", "")[:256]
    if password != request.form.get("password_confirm", "")[:256]:
        context["error"] = _("The two passwords do not match.")
        return render_template("register.html", **context), 400
    try:
        account = services().accounts.register(
            Registration(id_number=form["id_number"], name=form["name"], phone=form["phone"],
                         password=password), ip=request.remote_addr)
    except (ValidationError, Conflict, IdpError) as exc:
        context["error"] = error_message(exc)
        return render_template("register.html", **context), 409 if isinstance(
            exc, Conflict) else 400
    _sign_in(account, amr=["pwd"], acr="L1")
    return redirect(next_url)


@bp.post("/logout")
def logout() -> Any:
    return back_to_sign_in(end_browser_session(by="citizen"))
