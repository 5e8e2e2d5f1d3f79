"""Admin API: the audit trail — search, verify the chain (with the anchors), take an anchor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, request

from idp.audit.anchors import AnchorLog, MalformedAnchors
from idp.errors import ValidationError
from idp.staff import roles
from idp.store.models import AuditEvent
from idp.web.admin_api import api, needs, reply, staff
from idp.web.principal import services


def event_dict(row: AuditEvent) -> dict[str, Any]:
    return {"seq": row.seq, "ts": row.ts.replace(tzinfo=row.ts.tzinfo or UTC).isoformat(),
            "tag": row.tag, "actor": row.actor, "subject": row.subject,
            "client_id": row.client_id, "ip": row.ip, "extra": row.extra or {}}


def _text(name: str, limit: int) -> str | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not 0 < len(value) <= limit or not value.isprintable():
        raise ValidationError(f"{name} must be 1-{limit} printable characters",
                              code="invalid_request")
    return value


def _int(name: str, low: int, high: int) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise ValidationError(f"{name} must be a whole number from {low} to {high}",
                              code="invalid_request")
    return int(value)


def _time(name: str) -> datetime | None:
    value = request.args.get(name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{name} must be an ISO 8601 date-time, e.g. "
                              "2026-11-26T08:00:00+08:00", code="invalid_request") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def anchor_log() -> AnchorLog:
    return AnchorLog(services().settings.audit_anchor_path)


@api.get("/audit/events")
@needs(roles.AUDIT_READ)
def audit_events() -> Response:
    rows = services().audit.events(
        tag=_text("tag", 64), actor=_text("actor", 100), subject=_text("subject", 100),
        client_id=_text("client_id", 64), since=_time("since"), until=_time("until"),
        before_seq=_int("before_seq", 1, 2**62), limit=_int("limit", 1, 1000) or 100)
    return reply({"items": [event_dict(r) for r in rows]})


@api.get("/audit/verify")
@needs(roles.AUDIT_READ)
def audit_verify() -> Response:
    try:
        anchors = anchor_log().read()
    except MalformedAnchors as exc:
        return reply({"ok": False, "checked": 0, "broken_at": None,
                      "reason": f"the anchor log is damaged: {exc}", "anchors": 0})
    result = services().audit.verify(anchors)
    services().audit.record(staff().actor, "audit:verify", extra={"ok": result.ok})
    return reply({"ok": result.ok, "checked": result.checked,
                  "broken_at": result.broken_at, "reason": result.reason,
                  "anchors": len(anchors)})


@api.get("/audit/anchors")
@needs(roles.AUDIT_READ)
def audit_anchors() -> Response:
    try:
        anchors = anchor_log().read()
    except MalformedAnchors as exc:
        raise ValidationError(f"the anchor log is damaged: {exc}", code="invalid_request") \
            from None
    return reply({"items": [{"seq": a.seq, "hash": a.hash, "ts": a.ts} for a in anchors]})


@api.post("/audit/anchors")
@needs(roles.AUDIT_ANCHOR)
def audit_anchor() -> Response:
    anchor = services().audit.take_anchor(anchor_log(), actor=staff().actor)
    return reply({"seq": anchor.seq, "hash": anchor.hash, "ts": anchor.ts}, 201)
