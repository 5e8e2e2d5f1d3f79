"""Admin API: staff accounts (security_admin): list, create, change role or status, new TOTP."""

from __future__ import annotations

from flask import Response

from idp.staff import StaffEnrolment, roles
from idp.web.admin_api import api, body, needs, reply, staff, staff_dict
from idp.web.principal import services


def _enrolment(enrolment: StaffEnrolment) -> dict[str, object]:
    return {"staff": staff_dict(enrolment.staff), "totp_secret": enrolment.secret,
            "totp_uri": enrolment.uri}


@api.get("/staff")
@needs(roles.STAFF_MANAGE)
def staff_list() -> Response:
    return reply({"items": [staff_dict(s) for s in services().staff.list()]})


@api.post("/staff")
@needs(roles.STAFF_MANAGE)
def staff_create() -> Response:
    data = body("StaffCreate")
    enrolment = services().staff.create(data["username"], data["display_name"], data["role"],
                                        data["password"], actor=staff().actor)
    return reply(_enrolment(enrolment), 201)


@api.patch("/staff/<staff_id>")
@needs(roles.STAFF_MANAGE)
def staff_change(staff_id: str) -> Response:
    data = body("StaffChange")
    svc = services()
    member = svc.staff.get(staff_id)
    if member is None:
        return reply({"error": "staff.not_found", "error_description": "no such staff member"},
                     404)
    if "role" in data:
        member = svc.staff.set_role(staff_id, data["role"], actor=staff().actor)
    if "status" in data:
        member = svc.staff.set_status(staff_id, data["status"], actor=staff().actor)
    return reply(staff_dict(member))


@api.post("/staff/<staff_id>/reset-totp")
@needs(roles.STAFF_MANAGE)
def staff_reset_totp(staff_id: str) -> Response:
    return reply(_enrolment(services().staff.reset_totp(staff_id, actor=staff().actor)))
