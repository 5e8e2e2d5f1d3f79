"""Who is signed in to the console, and what their role lets them see and do.

The console session is the staff's own: a random id in the ``idp_console`` cookie (HttpOnly,
SameSite=Strict, Path=/console, Secure when the site's cookies are), looked up in the ephemeral
store on every request by :class:`idp.staff.ConsoleSessions` (idle and absolute limits) — the
citizens' Flask-Login session plays no part. The staff record is read again on every request,
so a role change or a disabled account takes effect at the next click.

Every view but the sign-in page needs a signed-in staff member (else: to the sign-in page) and
names its permission with :func:`needs`; :func:`idp.staff.roles.require` decides. A role that
lacks it gets the 403 page, which says which roles may. The navigation lists only what the
role may use (:func:`idp.staff.roles.allowed`). Console pages are never cached or framed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from idp.errors import Forbidden, IdpError, NotFound, ValidationError
from idp.staff import Actor, StaffRecord
from idp.staff import roles as rbac
from idp.web.console import bp
from idp.web.console.messages import (
    describe,
    nav_label,
    permission_label,
    role_label,
    state_label,
)
from idp.web.console.outcome import DONE, FAILED, when
from idp.web.principal import services

COOKIE = "idp_console"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, CR and LF are fine
PUBLIC = frozenset({"console.login"})
F = TypeVar("F", bound=Callable[..., Any])

# The navigation: endpoint, label key (messages.NAV), the permission it needs (None: everyone).
NAV: tuple[tuple[str, str, str | None], ...] = (
    ("console.home", "home", None),
    ("console.keys", "keys", rbac.KEYS_READ),
    ("console.clients", "clients", rbac.CLIENTS_READ),
    ("console.initial_tokens", "initial_tokens", rbac.CLIENTS_MANAGE),
    ("console.citizens", "citizens", rbac.CITIZENS_READ),
    ("console.audit", "audit", rbac.AUDIT_READ),
    ("console.staff", "staff", rbac.STAFF_MANAGE),
    ("console.tokens", "tokens", None),
)


def current_staff() -> StaffRecord:
    """The signed-in staff member (every view but the sign-in page has one)."""
    return cast(StaffRecord, g.console_staff)


def actor() -> Actor:
    member = current_staff()
    return Actor(name=member.actor, role=member.role)


def may(permission: str) -> bool:
    member: StaffRecord | None = g.get("console_staff")
    return member is not None and rbac.allowed(member.role, permission)


def needs(permission: str) -> Callable[[F], F]:
    """The view needs ``permission``: checked before anything is read or changed."""
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                rbac.require(current_staff().role, permission)
            except Forbidden:
                return forbidden(permission)
            return view(*args, **kwargs)
        return cast(F, wrapper)
    return decorate


def forbidden(permission: str | None = None) -> ResponseReturnValue:
    needed = [role_label(r) for r in rbac.ROLE_NAMES
              if permission is not None and rbac.allowed(r, permission)]
    return render_template("console/forbidden.html", permission=permission_label(permission),
                           roles=needed), 403


def safe_next(target: str | None) -> str | None:
    """A console page to go back to after signing in; anything else is dropped."""
    if not target or len(target) > 500:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/") \
            or "\\" in target or target.startswith("//"):
        return None
    return target


def set_cookie(response: Response, session_id: str) -> None:
    settings = services().settings
    response.set_cookie(COOKIE, session_id, max_age=settings.staff.session_absolute_ttl,
                        path="/console", httponly=True, samesite="Strict",
                        secure=settings.production or settings.session.cookie_secure)


def clear_cookie(response: Response) -> None:
    settings = services().settings
    response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="Strict",
                           secure=settings.production or settings.session.cookie_secure)


@bp.before_request
def _printable_input() -> ResponseReturnValue | None:
    """Control characters (a NUL above all, which PostgreSQL refuses) are never valid input:
    refused here, before any service or store sees them."""
    values = [v for _, v in request.args.items(multi=True)]
    values += [v for _, v in request.form.items(multi=True)]
    values += [v for v in (request.view_args or {}).values() if isinstance(v, str)]
    if any(_CONTROL.search(v) for v in values):
        message = describe(ValidationError("control characters", code="console.characters"))
        return render_template("console/error.html", message=message), 400
    return None


@bp.before_request
def _signed_in() -> ResponseReturnValue | None:
    svc = services()
    g.console_staff = None
    session_id = request.cookies.get(COOKIE, "")
    found = svc.console_sessions.get(session_id) if session_id else None
    if found is not None:
        member = svc.staff.get(found.staff_id)
        if member is not None and member.status == "active":
            g.console_staff, g.console_session_id = member, session_id
    if g.console_staff is not None or request.endpoint in PUBLIC:
        return None
    back = safe_next(request.full_path.rstrip("?")) if request.method == "GET" else None
    response = redirect(url_for("console.login", next=back))
    if session_id:
        clear_cookie(response)
    return response


@bp.after_request
def _never_cached(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    response.headers["X-Frame-Options"] = "DENY"
    return response


@bp.context_processor
def _page_context() -> dict[str, Any]:
    member: StaffRecord | None = g.get("console_staff")
    nav = [(endpoint, key) for endpoint, key, permission in NAV
           if member is not None and (permission is None or may(permission))]
    return {"staff": member, "may": may, "perm": rbac, "console_nav": nav,
            "role_label": role_label, "nav_label": nav_label, "state_label": state_label,
            "when": when, "done_category": DONE, "failed_category": FAILED}


@bp.errorhandler(Forbidden)
def _forbidden(exc: Forbidden) -> ResponseReturnValue:
    return forbidden()


@bp.errorhandler(IdpError)
def _domain_error(exc: IdpError) -> ResponseReturnValue:
    """A safety net: views catch what they expect; anything else is still a page, not a 500."""
    status = 404 if isinstance(exc, NotFound) else 400
    return render_template("console/error.html", message=describe(exc)), status
