"""The OpenID Connect ``end_session_endpoint`` (RP-Initiated Logout 1.0; the rules are in
``idp.oidc.end_session``). Thin: parse, resolve, then sign out and send the browser back to the
portal, ask the citizen first, or show the signed-out page — by way of the front-channel
logout page when portals of the ended session must be told (``idp.web.session_end``).

A portal may POST the request (§2). Our session cookie is ``SameSite=Lax``, so a cross-site POST
arrives without it: we answer such a POST with a 303 to the same request as a GET, which a
browser sends with the cookie. The confirmation form posts back here with ``decision``; what it
confirms was resolved when the page was shown and is kept in the signed session cookie, so the
ID token is never written into the page.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from idp.oidc.end_session import (
    PARAMS,
    EndSession,
    EndSessionRequest,
    InvalidEndSessionRequest,
    resolve,
)
from idp.web.errors import error_page
from idp.web.extensions import csrf
from idp.web.principal import services
from idp.web.session_end import end_browser_session, frontchannel_page

bp = Blueprint("logout", __name__)

PENDING = "end_session"  # session key: the request waiting for the citizen's answer


@bp.route("/end_session", methods=["GET", "POST"])
def end_session() -> Any:
    if request.method == "POST":
        if "decision" in request.form:
            return _decide()
        query = [(k, v) for k, v in request.form.items() if k in PARAMS]
        return redirect(url_for("logout.end_session") + ("?" + urlencode(query) if query else ""),
                        code=303)
    svc = services()
    try:
        outcome = resolve(EndSessionRequest.from_params(request.args),
                          key_set=svc.tokens.verification_keys, issuer=svc.settings.issuer,
                          lookup_client=svc.clients.get)
    except InvalidEndSessionRequest as exc:
        return error_page(
            400, _("This sign-out request cannot be processed"),
            _("The portal that sent you here made a sign-out request we cannot accept "
              "(%(detail)s), so nothing was changed. To sign out, use the Sign out button in "
              "your account, or go back to the portal and try again.", detail=exc.description),
            code="invalid_request")
    principal = current_user.principal if current_user.is_authenticated else None
    if principal is None or outcome.names_session(principal.account.id, principal.session.sid,
                                                  sub_for=svc.subjects.sub_for):
        return _signed_out(outcome.client.client_id if outcome.client else None,
                           outcome.redirect_to, outcome.redirect_refused)
    return _ask(outcome)


# Portals POST here cross-site; the confirmation form is checked in _decide().
csrf.exempt(end_session)


def _ask(outcome: EndSession) -> Any:
    """No hint, or one naming another sign-in: the citizen decides (§2, §6 logout CSRF)."""
    pending_id = secrets.token_urlsafe(16)
    session[PENDING] = {
        "id": pending_id, "client_id": outcome.client.client_id if outcome.client else None,
        "redirect_to": outcome.redirect_to, "refused": outcome.redirect_refused}
    return render_template("logout_confirm.html", client=outcome.client, pending_id=pending_id)


def _decide() -> Any:
    csrf.protect()  # raises CSRFError: the usual "form has expired" page
    pending = session.pop(PENDING, None) or {}
    if pending.get("id") != request.form.get("pending"):
        pending = {}  # another tab's request, or none: sign out, but send nobody anywhere
    if request.form.get("decision") != "logout":
        return redirect(url_for("account.home"))
    return _signed_out(pending.get("client_id"), pending.get("redirect_to"),
                       bool(pending.get("refused")))


def _signed_out(client_id: str | None, redirect_to: str | None, refused: bool) -> Any:
    ended = end_browser_session(by="rp", client_id=client_id)
    page = frontchannel_page(ended, redirect_to or url_for(
        "logout.logged_out", refused="1" if refused else None))
    if page is not None:  # portals to tell first (Front-Channel Logout 1.0 §4)
        return page
    if redirect_to:  # registered for the client, exactly (idp.oidc.end_session §3)
        return redirect(redirect_to, code=302)
    return render_template("logged_out.html", refused=refused)


@bp.get("/logged_out")
def logged_out() -> Any:
    """Where the front-channel logout page goes on to when no portal address was given."""
    return render_template("logged_out.html", refused=request.args.get("refused") == "1")
