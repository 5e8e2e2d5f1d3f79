"""``idp sessions list|end``: a citizen's sign-in sessions across channels, for staff (issue 6).

The citizen is named by ID number or mobile phone number (found through the blind index, shown
masked) or by account id. Sessions are named by the same short reference the account centre
uses (:func:`idp.sessions.ending.session_ref`), never by their ``sid``. Ending goes through
:class:`~idp.sessions.ending.SessionEnding`: every token of the session revoked, every portal
that took part told by back-channel logout, audited with ``by: staff``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from idp.cli.citizens import find_citizen, staff_actor
from idp.cli.output import CliError, emit, guarded, json_option, open_services
from idp.sessions.ending import session_ref


def _when(ts: int | float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else None


@click.group()
def sessions() -> None:
    """A citizen's sign-in sessions (staff)."""


@sessions.command("list")
@click.argument("citizen")
@json_option
@guarded
def sessions_list(citizen: str, as_json: bool) -> None:
    """The live sessions of CITIZEN (ID number, phone number or account id)."""
    with open_services() as svc:
        account = find_citizen(svc, citizen)
        rows: list[dict[str, Any]] = [{
            "ref": session_ref(s.sid), "created": _when(s.created_at),
            "auth_time": _when(s.auth_time), "acr": s.acr, "amr": list(s.amr),
            "clients": dict(sorted(s.clients.items()))}
            for s in sorted(svc.sso.for_account(account.id), key=lambda s: s.created_at)]
    head = f"{account.id_number_masked} {account.name}: {len(rows)} session(s)"
    lines = [f"{r['ref']}  {r['acr'] or '-'}  since {r['created']}  "
             f"{', '.join(f'{c} ({ch})' for c, ch in r['clients'].items()) or 'browser only'}"
             for r in rows]
    emit(as_json, {"sub": account.id, "id_number": account.id_number_masked,
                   "sessions": rows}, "\n".join([head, *lines]))


@sessions.command("end")
@click.argument("citizen")
@click.option("--ref", "ref", default=None, help="The session to end (from `sessions list`).")
@click.option("--all", "end_all", is_flag=True, help="End every session of the citizen.")
@click.option("--actor", default="staff", show_default=True, help="Who ends them (audited).")
@json_option
@guarded
def sessions_end(citizen: str, ref: str | None, end_all: bool, actor: str,
                 as_json: bool) -> None:
    """End one session (--ref) or all (--all) of CITIZEN: tokens revoked, portals told."""
    if (ref is None) == (not end_all):
        raise CliError("give either --ref REF or --all")
    staff = staff_actor(actor)
    with open_services() as svc:
        account = find_citizen(svc, citizen)
        targets = [s for s in svc.sso.for_account(account.id)
                   if end_all or session_ref(s.sid) == ref]
        if not targets:
            raise CliError("no such session of this citizen (see `idp sessions list`)")
        ended = [s for s in targets if svc.session_ending.end(
            s.sid, by="staff", actor=staff, reason="staff") is not None]
    emit(as_json, {"sub": account.id, "ended": [session_ref(s.sid) for s in ended]},
         f"ended {len(ended)} session(s) of {account.id_number_masked}")
