"""Staff commands on one citizen's account (issue 6): ``idp accounts show|lock|unlock``.

The citizen is named by ID number or mobile phone number (found through the blind index; the
number is only ever shown masked) or by account id — :func:`find_citizen`, shared with
``idp sessions``.
"""

from __future__ import annotations

from typing import Any

import click

from idp.cli.admin import accounts
from idp.cli.output import CliError, emit, guarded, json_option, open_services
from idp.container import Services
from idp.store.models import Account


def find_citizen(svc: Services, who: str) -> Account:
    account = svc.accounts.find_by_username(who) or svc.accounts.get(who.strip())
    if account is None:
        raise CliError("no citizen with that ID number, phone number or account id")
    return account


def staff_actor(actor: str) -> str:
    """The audited actor of a staff command (``--actor``)."""
    if not 0 < len(actor) <= 64 or not actor.isprintable():
        raise CliError("--actor must be 1 to 64 printable characters")
    return f"staff:{actor}"


@accounts.command("show")
@click.argument("citizen")
@json_option
@guarded
def accounts_show(citizen: str, as_json: bool) -> None:
    """CITIZEN's account: status, live sessions and the last sign-in failures."""
    with open_services() as svc:
        account = find_citizen(svc, citizen)
        failures = [{"ts": e.ts.isoformat(timespec="seconds"), "ip": e.ip,
                     "reason": (e.extra or {}).get("reason")}
                    for e in svc.audit.events(tag="account:login:failure", subject=account.id,
                                              limit=10)]
        data: dict[str, Any] = {
            "sub": account.id, "id_number": account.id_number_masked, "name": account.name,
            "status": account.status, "sessions": len(svc.sso.for_account(account.id)),
            "recent_failures": failures}
    emit(as_json, data, f"{account.id_number_masked} {account.name} ({account.id}): "
                        f"{account.status}, {data['sessions']} session(s), "
                        f"{len(failures)} recent sign-in failure(s)")


def _set_status(citizen: str, status: str, actor: str, reason: str, as_json: bool) -> None:
    with open_services() as svc:
        account = svc.accounts.set_status(find_citizen(svc, citizen).id, status,
                                          actor=staff_actor(actor), reason=reason)
    emit(as_json, {"sub": account.id, "status": account.status},
         f"{account.id_number_masked}: {account.status}")


@accounts.command("lock")
@click.argument("citizen")
@click.option("--reason", default="", help="Why (audited).")
@click.option("--actor", default="staff", show_default=True, help="Who (audited).")
@json_option
@guarded
def accounts_lock(citizen: str, reason: str, actor: str, as_json: bool) -> None:
    """Lock CITIZEN: no sign-in; every session ended (tokens revoked, portals told)."""
    _set_status(citizen, "locked", actor, reason, as_json)


@accounts.command("unlock")
@click.argument("citizen")
@click.option("--reason", default="", help="Why (audited).")
@click.option("--actor", default="staff", show_default=True, help="Who (audited).")
@json_option
@guarded
def accounts_unlock(citizen: str, reason: str, actor: str, as_json: bool) -> None:
    """Unlock CITIZEN."""
    _set_status(citizen, "active", actor, reason, as_json)
