"""Face verification pages: step-up from L2 to L3 (实人, docs/assurance.md). Thin: the
:class:`~idp.accounts.face_checks.FaceCheckService` starts and finishes checks; the capture
itself happens at the face service (or, in development, at :mod:`idp.web.views.face_dev`).

``GET /login/face`` explains and offers the button; ``POST /login/face`` starts a check and
sends the browser to the service; the service sends it back to ``/login/face/return`` with
``check=<id>``, where the result is asked for and the same SSO session becomes L3 (``amr`` +
``face``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from idp.accounts.face import FaceServiceUnavailable
from idp.errors import AuthenticationFailed, IdpError, RateLimited
from idp.oidc import acr
from idp.oidc.models import Principal
from idp.web.messages import error_message
from idp.web.principal import CitizenUser, services
from idp.web.views.auth import _client_name, _safe_next

bp = Blueprint("face", __name__)


def _context(next_url: str) -> dict[str, Any]:
    client_id = (request.values.get("client") or "")[:128]
    return {"next_url": next_url, "client_id": client_id,
            "client_name": _client_name(client_id or None), "error": None}


def _page(context: dict[str, Any], exc: IdpError) -> Any:
    """The page again with the error: 429 (+ Retry-After), 503 (service down), 401 (no match),
    400 (no such check)."""
    context["error"] = error_message(exc)
    if isinstance(exc, RateLimited):
        return render_template("login_face.html", **context), 429, {
            "Retry-After": str(exc.retry_after)}
    if isinstance(exc, FaceServiceUnavailable):
        return render_template("login_face.html", **context), 503
    status = 401 if isinstance(exc, AuthenticationFailed) else 400
    return render_template("login_face.html", **context), status


def _not_ready(next_url: str) -> Any | None:
    """Where to go instead, when this browser cannot verify a face yet (or at all)."""
    client = request.values.get("client") or None
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=next_url, client=client))
    if not services().face.enabled:  # /authorize says L3 cannot be reached
        return redirect(next_url)
    if acr.rank(current_user.principal.session.acr) < acr.rank("L2"):
        return redirect(url_for("auth.verify", next=next_url, client=client))
    return None


@bp.route("/login/face", methods=["GET", "POST"])
def verify() -> Any:
    next_url = _safe_next(request.values.get("next"))
    elsewhere = _not_ready(next_url)
    if elsewhere is not None:
        return elsewhere
    context = _context(next_url)
    if request.method == "GET":
        return render_template("login_face.html", **context)
    svc = services()
    # Built from the issuer, never from the Host header the request came with.
    return_url = svc.settings.issuer + url_for(
        "face.finish", next=next_url, client=context["client_id"] or None)
    try:
        check = svc.face.start(current_user.account, current_user.principal.session.sid,
                               return_url, ip=request.remote_addr)
    except (RateLimited, FaceServiceUnavailable) as exc:
        return _page(context, exc)
    return redirect(check.url)


@bp.get("/login/face/return")
def finish() -> Any:
    next_url = _safe_next(request.values.get("next"))
    elsewhere = _not_ready(next_url)
    if elsewhere is not None:
        return elsewhere
    context = _context(next_url)
    svc = services()
    account = current_user.account
    try:
        svc.face.finish(account.id, current_user.principal.session.sid,
                        (request.args.get("check") or "")[:256], ip=request.remote_addr)
    except IdpError as exc:
        return _page(context, exc)
    session = svc.sso.stepped_up(current_user.principal.session, amr="face", acr="L3")
    if session is None:  # the session ended meanwhile
        logout_user()
        return redirect(url_for("auth.login", next=next_url))
    login_user(CitizenUser(Principal(account=account, session=session)))
    return redirect(next_url)
