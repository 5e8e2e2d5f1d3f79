"""Registration tokens: RFC 7591 initial access tokens, which let a department register its own
client (it then waits, pending, for approval on the clients page). Issue one (label, validity,
number of registrations; the token is shown once), see them all, revoke one. Everything here
needs ``clients:manage``.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from flask.typing import ResponseReturnValue

from idp.clock import as_aware
from idp.errors import IdpError
from idp.staff import roles as rbac
from idp.store.models import InitialAccessToken
from idp.web.console import bp
from idp.web.console.access import current_staff, needs
from idp.web.console.messages import _
from idp.web.console.outcome import act, failed, number, text
from idp.web.principal import services

DAY = 86400


def _row(row: InitialAccessToken) -> dict[str, Any]:
    return {"id": row.id, "label": row.label, "created_by": row.created_by,
            "created_at": as_aware(row.created_at), "expires_at": as_aware(row.expires_at),
            "uses": row.uses, "max_uses": row.max_uses, "revoked": row.revoked_at is not None}


@bp.get("/initial-tokens")
@needs(rbac.CLIENTS_MANAGE)
def initial_tokens() -> ResponseReturnValue:
    default_days = max(1, services().settings.registration.initial_token_ttl // DAY)
    return render_template("console/initial_tokens.html", default_days=default_days,
                           tokens=[_row(r) for r in services().initial_tokens.list()])


@bp.post("/initial-tokens")
@needs(rbac.CLIENTS_MANAGE)
def initial_tokens_issue() -> ResponseReturnValue:
    back = url_for("console.initial_tokens")
    try:
        label = text("label", required=True, code="initial_token.label")
        days = number("days", low=1, high=90, default=7)
        uses = number("max_uses", low=1, high=100, default=1)
        token, row = services().initial_tokens.issue(label=label, ttl=days * DAY,
                                                     max_uses=uses, actor=current_staff().actor)
    except IdpError as exc:
        return failed(exc, back)
    return render_template(
        "console/secret.html", title=_("New registration token"),
        label=_("Initial access token"), value=token, subject=row.label,
        note=_("Give it to the department over a safe channel. It registers up to %(num)d "
               "clients within %(days)d days; each waits for approval.", num=uses, days=days),
        back=back)


@bp.post("/initial-tokens/<int(max=9223372036854775807):token_id>/revoke")
@needs(rbac.CLIENTS_MANAGE)
def initial_tokens_revoke(token_id: int) -> ResponseReturnValue:
    def change() -> str:
        services().initial_tokens.revoke(token_id, actor=current_staff().actor)
        return _("The registration token was revoked. Clients it registered stay.")
    return act(change, url_for("console.initial_tokens"))
