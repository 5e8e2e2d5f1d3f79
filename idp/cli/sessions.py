"""``idp sessions list|end``: a citizen's sign-in sessions across channels, for staff (issue 6).

The citizen is named by ID number or mobile phone number (found through the blind index, shown
masked) or by account id. Sessions are named by the same short reference the account centre
uses (:func:`idp.sessions.ending.session_ref`), never by their ``sid``. Ending goes through
:class:`~idp.sessions.ending.SessionEnding`: every token of the session revoked, every portal
that took part told by back-channel logout, audited with ``by: staff``.
"""

from __future__ import annotations

import click

from idp.cli.citizens import cli_actor, find_citizen
from idp.cli.output import CliError, emit, guarded, json_option, open_services
from idp.errors import NotFound


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
        rows = svc.desk.sessions(account, cli_actor("staff"))
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
    who = cli_actor(actor)
    with open_services() as svc:
        account = find_citizen(svc, citizen)
        try:
            ended = svc.desk.end_sessions(account, who, ref=None if end_all else ref)
        except NotFound:
            raise CliError("no such session of this citizen (see `idp sessions list`)") from None
        if not ended and not end_all:
            raise CliError("no such session of this citizen (see `idp sessions list`)")
    emit(as_json, {"sub": account.id, "ended": ended},
         f"ended {len(ended)} session(s) of {account.id_number_masked}")
