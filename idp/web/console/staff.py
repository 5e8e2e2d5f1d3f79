"""Staff accounts (``staff:manage``, security administrators): the list, a new member (username,
display name, role, first password), change a role, disable or enable, and a new TOTP secret
for a lost phone.

A new member's TOTP enrolment — the QR code and the secret — is shown once, in the answer to
the POST that made it; the first code the member enters at ``/console/login`` confirms it.
Nobody changes their own account here (a slip could lock the last administrator out): another
administrator does, or ``idp staff`` on the server.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue

from idp.errors import IdpError, NotFound, ValidationError
from idp.staff import StaffEnrolment, StaffRecord
from idp.staff import roles as rbac
from idp.web.console import bp
from idp.web.console.access import current_staff, needs
from idp.web.console.messages import _, describe, role_label
from idp.web.console.outcome import act, confirmed, failed, qr_data_uri
from idp.web.principal import services


def _page(form: dict[str, Any] | None = None, error: str | None = None,
          status: int = 200) -> ResponseReturnValue:
    return render_template("console/staff.html", members=services().staff.list(),
                           roles=rbac.ROLE_NAMES, form=form or {}, error=error), status


def _enrolment(enrolment: StaffEnrolment, title: str) -> ResponseReturnValue:
    secret = enrolment.secret
    return render_template("console/enrolment.html", title=title, member=enrolment.staff,
                           qr=qr_data_uri(enrolment.uri),
                           secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)))


def _other(staff_id: str) -> StaffRecord:
    """Another staff member than the one signed in."""
    member = services().staff.get(staff_id) if len(staff_id) <= 40 else None
    if member is None:
        raise NotFound("no such staff member", code="staff.not_found")
    if member.id == current_staff().id:
        raise ValidationError("not your own account", code="console.self")
    return member


@bp.get("/staff")
@needs(rbac.STAFF_MANAGE)
def staff() -> ResponseReturnValue:
    return _page()


@bp.post("/staff")
@needs(rbac.STAFF_MANAGE)
def staff_create() -> ResponseReturnValue:
    form = {"username": request.form.get("username", "")[:64].strip(),
            "display_name": request.form.get("display_name", "")[:200].strip(),
            "role": request.form.get("role", "")[:32]}
    try:
        enrolment = services().staff.create(
            form["username"], form["display_name"], form["role"],
            request.form.get("password", "")[:256], actor=current_staff().actor)
    except IdpError as exc:
        return _page(form, describe(exc), 409 if exc.code == "staff.username_taken" else 400)
    return _enrolment(enrolment, _("New staff member %(name)s",
                                   name=enrolment.staff.username))


@bp.post("/staff/<staff_id>/role")
@needs(rbac.STAFF_MANAGE)
def staff_role(staff_id: str) -> ResponseReturnValue:
    def change() -> str:
        member = services().staff.set_role(_other(staff_id).id,
                                           request.form.get("role", "")[:32],
                                           actor=current_staff().actor)
        return _("%(name)s is now: %(role)s.", name=member.username,
                 role=role_label(member.role))
    return act(change, url_for("console.staff"))


@bp.post("/staff/<staff_id>/status")
@needs(rbac.STAFF_MANAGE)
def staff_status(staff_id: str) -> ResponseReturnValue:
    def change() -> str:
        status = "disabled" if request.form.get("status") == "disabled" else "active"
        member = services().staff.set_status(_other(staff_id).id, status,
                                             actor=current_staff().actor)
        if status == "disabled":
            return _("%(name)s is disabled: console sessions ended, API tokens stopped.",
                     name=member.username)
        return _("%(name)s is enabled again.", name=member.username)
    return act(change, url_for("console.staff"))


@bp.post("/staff/<staff_id>/reset-totp")
@needs(rbac.STAFF_MANAGE)
def staff_reset_totp(staff_id: str) -> ResponseReturnValue:
    try:
        member = _other(staff_id)
        confirmed(member.username)
        enrolment = services().staff.reset_totp(member.id, actor=current_staff().actor)
    except IdpError as exc:
        return failed(exc, url_for("console.staff"))
    return _enrolment(enrolment, _("New second factor for %(name)s",
                                   name=enrolment.staff.username))
