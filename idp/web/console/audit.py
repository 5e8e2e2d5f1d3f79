"""The audit trail: search (tag prefix, actor, subject, time range; 50 entries a page, newest
first, paged back by sequence number), verify the hash chain against the anchors (the result
says OK, or names the first broken entry and why), and the anchors: the list, and "anchor now",
which appends the chain's head to the anchor file (``[audit] anchor_file``) as
``idp audit anchor`` does. Reading and verifying need ``audit:read``; anchoring ``audit:anchor``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from idp.audit.anchors import Anchor, AnchorLog, MalformedAnchors
from idp.errors import ValidationError
from idp.staff import roles as rbac
from idp.store.models import AuditEvent
from idp.web.account_labels import LOCAL_TIME
from idp.web.console import bp
from idp.web.console.access import current_staff, needs
from idp.web.console.messages import _, describe
from idp.web.console.outcome import DONE, FAILED, act
from idp.web.principal import services

PAGE = 50
FILTERS = (("tag", 64), ("actor", 100), ("subject", 100))


def anchor_log() -> AnchorLog:
    """The anchor file named by ``[audit] anchor_file`` (as ``idp audit anchor`` writes it)."""
    return AnchorLog(services().settings.audit_anchor_path)


def read_anchors() -> tuple[list[Anchor], bool]:
    """The anchors taken so far, and whether the file was readable."""
    try:
        return anchor_log().read(), True
    except MalformedAnchors:
        return [], False


def _time(name: str) -> datetime | None:
    """``2026-11-26T08:00`` (a datetime-local field, China Standard Time) or ISO 8601."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace(" ", "T"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TIME)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationError(f"{name} is not a time", code="console.time") from None


def _row(event: AuditEvent) -> dict[str, Any]:
    return {"seq": event.seq, "ts": event.ts if event.ts.tzinfo
            else event.ts.replace(tzinfo=UTC), "tag": event.tag, "actor": event.actor,
            "subject": event.subject, "client_id": event.client_id, "ip": event.ip,
            "extra": event.extra or {}}


@bp.get("/audit")
@needs(rbac.AUDIT_READ)
def audit() -> ResponseReturnValue:
    form = {name: request.args.get(name, "").strip()[:limit] for name, limit in FILTERS}
    form |= {"since": request.args.get("since", "")[:40], "until": request.args.get("until",
                                                                                  "")[:40]}
    before = request.args.get("before", "")
    error, rows = None, []
    try:
        events = services().audit.events(
            tag=form["tag"] or None, actor=form["actor"] or None,
            subject=form["subject"] or None, since=_time("since"), until=_time("until"),
            before_seq=int(before) if before.isascii() and before.isdigit()
            and len(before) <= 18 else None, limit=PAGE + 1)
        rows = [_row(e) for e in events]
    except ValidationError as exc:
        error = describe(exc)
    args: dict[str, Any] = {k: v for k, v in form.items() if v}
    older = None
    if len(rows) > PAGE:
        rows = rows[:PAGE]
        older = url_for("console.audit", before=rows[-1]["seq"], **args)
    return render_template("console/audit.html", form=form, events=rows, older=older,
                           newest=url_for("console.audit", **args), paged=bool(before),
                           error=error), 400 if error else 200


@bp.post("/audit/verify")
@needs(rbac.AUDIT_READ)
def audit_verify() -> ResponseReturnValue:
    svc, member = services(), current_staff()
    try:
        anchors = anchor_log().read()
    except MalformedAnchors:
        flash(_("The anchor file is damaged: a line in it is not an anchor. The chain was not "
                "verified."), FAILED)
        return redirect(url_for("console.audit_anchors"))
    result = svc.audit.verify(anchors)
    svc.audit.record(member.actor, "audit:verify", extra={"ok": result.ok})
    if result.ok:
        flash(_("The audit chain is intact: %(num)d entries checked, %(anchors)d anchors "
                "matched.", num=result.checked, anchors=len(anchors)), DONE)
    else:
        flash(_("The audit chain is broken at entry %(seq)s: %(reason)s",
                seq=result.broken_at, reason=result.reason or ""), FAILED)
    return redirect(url_for("console.audit_anchors"))


@bp.get("/audit/anchors")
@needs(rbac.AUDIT_READ)
def audit_anchors() -> ResponseReturnValue:
    anchors, readable = read_anchors()
    return render_template("console/anchors.html", anchors=list(reversed(anchors)),
                           readable=readable, head=services().audit.anchor(),
                           path=str(anchor_log().path))


@bp.post("/audit/anchors")
@needs(rbac.AUDIT_ANCHOR)
def audit_anchor() -> ResponseReturnValue:
    def change() -> str:
        anchor = services().audit.take_anchor(anchor_log(), actor=current_staff().actor)
        return _("The chain's head (entry %(seq)d) was written to the anchor file.",
                 seq=anchor.seq)
    return act(change, url_for("console.audit_anchors"))
