"""``idp delegations grant|revoke``: staff record that a citizen authorises a family member to
act for them (代办, RFC 8693 §4.1), after checking both people's documents at a counter.

Citizens are named by ID number, phone or account id; output shows only masked ID numbers.
"""

from __future__ import annotations

from typing import Any

import click

from idp.accounts.delegations import DEFAULT_DAYS, MAX_DAYS
from idp.cli.output import emit, guarded, json_option, open_services
from idp.store.models import Account, Delegation

_CITIZEN = click.option("--citizen", required=True, metavar="ID_OR_PHONE",
                        help="The citizen who authorises: ID number, phone or account id.")
_AGENT = click.option("--agent", required=True, metavar="ID_OR_PHONE",
                      help="The citizen who may act for them: ID number, phone or account id.")


@click.group()
def delegations() -> None:
    """Delegations (代办): who may act for a citizen."""


def _describe(row: Delegation, citizen: Account, agent: Account) -> dict[str, Any]:
    return {"delegation": row.id, "citizen": citizen.id,
            "citizen_id_number": citizen.id_number_masked, "agent": agent.id,
            "agent_id_number": agent.id_number_masked,
            "expires_at": row.expires_at.isoformat(),
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None}


@delegations.command("grant")
@_CITIZEN
@_AGENT
@click.option("--days", type=click.IntRange(1, MAX_DAYS), default=DEFAULT_DAYS,
              show_default=True, help="How long the delegation lasts.")
@json_option
@guarded
def grant(citizen: str, agent: str, days: int, as_json: bool) -> None:
    """Let AGENT act for CITIZEN (token exchange with the agent's token as actor_token)."""
    with open_services() as svc:
        principal = svc.delegations.find_account(citizen, role="citizen")
        delegate = svc.delegations.find_account(agent, role="agent")
        row = svc.delegations.grant(principal, delegate, days=days, actor="cli")
    data = _describe(row, principal, delegate)
    emit(as_json, data, f"delegation {row.id}: {delegate.id_number_masked} may act for "
                        f"{principal.id_number_masked} until {data['expires_at']}")


@delegations.command("revoke")
@_CITIZEN
@_AGENT
@json_option
@guarded
def revoke(citizen: str, agent: str, as_json: bool) -> None:
    """End AGENT's active delegation from CITIZEN."""
    with open_services() as svc:
        principal = svc.delegations.find_account(citizen, role="citizen")
        delegate = svc.delegations.find_account(agent, role="agent")
        row = svc.delegations.revoke(principal, delegate, actor="cli")
    emit(as_json, _describe(row, principal, delegate),
         f"delegation {row.id} revoked: {delegate.id_number_masked} may no longer act for "
         f"{principal.id_number_masked}")
