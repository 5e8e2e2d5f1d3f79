"""Console sign-in and sign-out (issue 6 §1: staff sign-in always needs a second factor).

``/console/login`` takes the username, the password and the 6-digit TOTP code in one form and
hands all three to :meth:`idp.staff.StaffService.authenticate`, which throttles, checks, guards
against a replayed code and audits (``staff:login:success|failure|throttled``). Every wrong
answer gets the same sentence. On success a new console session starts and its id is set in
the ``idp_console`` cookie — a new one at every sign-in; a session this browser had before is
ended. ``POST /console/logout`` ends the session (audited ``staff:logout:success``).
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from idp.errors import AuthenticationFailed, RateLimited
from idp.web.console import bp
from idp.web.console.access import COOKIE, clear_cookie, current_staff, safe_next, set_cookie
from idp.web.console.messages import _, describe
from idp.web.console.outcome import DONE
from idp.web.principal import services


def _page(error: str | None = None, status: int = 200, username: str = "") -> ResponseReturnValue:
    next_url = safe_next(request.values.get("next"))
    return render_template("console/login.html", error=error, username=username,
                           next_url=next_url or ""), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        if g.console_staff is not None:
            return redirect(url_for("console.home"))
        return _page()
    username = request.form.get("username", "")[:64].strip()
    password = request.form.get("password", "")[:256]
    code = request.form.get("code", "")[:16].strip()
    svc = services()
    try:
        member = svc.staff.authenticate(username, password, code, ip=request.remote_addr)
    except RateLimited as exc:
        return _page(describe(exc), 429, username)
    except AuthenticationFailed as exc:
        return _page(describe(exc), 401, username)
    previous = request.cookies.get(COOKIE, "")
    if previous:  # a new session id at every sign-in
        svc.console_sessions.end(previous)
    session_id = svc.console_sessions.start(member)
    response = redirect(safe_next(request.form.get("next")) or url_for("console.home"))
    set_cookie(response, session_id)
    return response


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    svc = services()
    member = current_staff()
    svc.console_sessions.end(g.console_session_id)
    svc.audit.record(member.actor, "staff:logout:success", subject=member.actor)
    flash(_("You are signed out of the console."), DONE)
    response = redirect(url_for("console.login"))
    clear_cookie(response)
    return response
