"""Staff commands on one citizen's account (issue 6): ``idp accounts show|lock|unlock``.

The citizen is named by ID number or mobile phone number (found through the blind index; the
number is only ever shown masked) or by account id — :func:`find_citizen`, shared with
``idp sessions``.
"""

from __future__ import annotations

import click

from idp.cli.admin import accounts
from idp.cli.output import CliError, emit, guarded, json_option, open_services
from idp.container import Services
from idp.staff import Actor
from idp.staff.roles import SECURITY_ADMIN
from idp.store.models import Account


def cli_actor(actor: str) -> Actor:
    """The operator at the command line acts with every staff permission, as ``--actor``."""
    return Actor(name=staff_actor(actor), role=SECURITY_ADMIN)


def find_citizen(svc: Services, who: str) -> Account:
    return svc.desk.find(who, cli_actor("staff"))


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
    """CITIZEN's account: status, second factors, live sessions, the last sign-in failures."""
    with open_services() as svc:
        view = svc.desk.view(find_citizen(svc, citizen), cli_actor("staff"))
    emit(as_json, view.as_dict(), f"{view.id_number} {view.name} ({view.sub}): "
                                  f"{view.status}, {view.sessions} session(s), "
                                  f"{len(view.recent_failures)} recent sign-in failure(s)")


def _set_status(citizen: str, status: str, actor: str, reason: str, as_json: bool) -> None:
    who = cli_actor(actor)
    with open_services() as svc:
        account = svc.desk.set_status(find_citizen(svc, citizen), status, who, reason=reason)
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


@accounts.command("reset-factors")
@click.argument("citizen")
@click.option("--verification", required=True,
              help="How the citizen's identity was checked in person (audited).")
@click.option("--actor", default="staff", show_default=True, help="Who (audited).")
@json_option
@guarded
def accounts_reset_factors(citizen: str, verification: str, actor: str, as_json: bool) -> None:
    """Remove CITIZEN's authenticator app and passkeys (lost phone), after a counter check."""
    who = cli_actor(actor)
    with open_services() as svc:
        account = find_citizen(svc, citizen)
        removed = svc.desk.reset_factors(account, who, verification=verification)
    emit(as_json, {"sub": account.id, "removed": removed},
         f"{account.id_number_masked}: removed {removed['totp']} authenticator app(s), "
         f"{removed['passkeys']} passkey(s)")
