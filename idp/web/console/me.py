"""The signed-in member's own pages, open to every role: the overview and "my API tokens".

The overview says who is signed in and with which role, links the pages that role may use and
— for roles that read the audit trail — shows the chain's head and the last anchor taken.

API tokens are each member's own bearer tokens for the JSON admin API (``/admin/api/v1``),
acting with the member's role at the time of each call: issue one (a name and a lifetime; the
token is shown once), see one's own, revoke one's own. No permission beyond being signed in:
a token can do no more than its member could in the console.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from flask.typing import ResponseReturnValue

from idp.errors import IdpError
from idp.staff import roles as rbac
from idp.web.console import bp
from idp.web.console.access import current_staff, may
from idp.web.console.audit import read_anchors
from idp.web.console.messages import _
from idp.web.console.outcome import act, failed, number, text
from idp.web.principal import services

DAY = 86400


@bp.get("/")
def home() -> ResponseReturnValue:
    context: dict[str, Any] = {"member": current_staff()}
    if may(rbac.AUDIT_READ):
        anchors, readable = read_anchors()
        context.update(head=services().audit.anchor(), last_anchor=anchors[-1] if anchors
                       else None, anchors_readable=readable)
    return render_template("console/home.html", **context)


@bp.get("/tokens")
def tokens() -> ResponseReturnValue:
    svc = services()
    return render_template("console/tokens.html",
                           tokens=svc.staff_tokens.list(current_staff().id),
                           default_days=max(1, svc.settings.staff.api_token_ttl // DAY))


@bp.post("/tokens")
def tokens_issue() -> ResponseReturnValue:
    member = current_staff()
    try:
        name = text("name", limit=100, required=True, code="staff.token_name")
        days = number("days", low=1, high=366,
                      default=max(1, services().settings.staff.api_token_ttl // DAY))
        token, info = services().staff_tokens.issue(member, name, ttl=days * DAY,
                                                    actor=member.actor)
    except IdpError as exc:
        return failed(exc, url_for("console.tokens"))
    return render_template(
        "console/secret.html", title=_("New API token"), label=_("API token"), value=token,
        subject=info.name,
        note=_("Send it as “Authorization: Bearer …” to /admin/api/v1. It acts with your role "
               "and expires in %(days)d days.", days=days),
        back=url_for("console.tokens"))


@bp.post("/tokens/<int(max=9223372036854775807):token_id>/revoke")
def tokens_revoke(token_id: int) -> ResponseReturnValue:
    member = current_staff()

    def change() -> str:
        services().staff_tokens.revoke(token_id, staff_id=member.id, actor=member.actor)
        return _("The API token was revoked.")
    return act(change, url_for("console.tokens"))
