"""``idp logout deliveries``: what happened to each back-channel logout token — pending (with its
next attempt), delivered, rejected by the client, or given up — for operators chasing a portal
that says it never heard of a sign-out. Newest first; never prints tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from idp.cli.output import emit, guarded, json_option, open_services
from idp.sessions.logout_queue import STATUSES, Delivery


@click.group()
def logout() -> None:
    """Back-channel logout deliveries."""


def _when(ts: int | None) -> str | None:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat() if ts is not None else None


def _describe(d: Delivery) -> dict[str, Any]:
    return {"id": d.id, "client_id": d.client_id, "status": d.status, "attempts": d.attempts,
            "jti": d.jti, "uri": d.uri, "created_at": _when(d.created_at),
            "next_attempt_at": _when(d.next_attempt_at) if d.status == "pending" else None,
            "finished_at": _when(d.finished_at), "last_status": d.last_status,
            "last_error": d.last_error}


@logout.command("deliveries")
@click.option("--status", type=click.Choice(STATUSES), help="Only deliveries in this state.")
@click.option("--client-id", help="Only deliveries to this client.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
@guarded
def deliveries(status: str | None, client_id: str | None, limit: int, as_json: bool) -> None:
    """List back-channel logout deliveries, newest first."""
    with open_services() as svc:
        rows = [_describe(d) for d in svc.backchannel.queue.list(
            status=status, client_id=client_id, limit=limit)]
    lines = [f"{r['id']:>6} {r['status']:<9} {r['attempts']:>3}x {r['client_id']:<32} "
             f"{r['last_status'] or r['last_error'] or ''}" for r in rows]
    emit(as_json, rows, "\n".join(lines) or "no deliveries")
