"""``idp keys list|rotate|retire|revoke``: the signing-key lifecycle (issue 6 §3).

``idp keys rotate --if-due`` is meant for cron on every node (it does nothing when nothing is
due, and two nodes at once act once); the other changes are staff actions, audited as
``staff:<--actor>``. Runbook: docs/runbooks/key-rotation.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from idp.cli.citizens import staff_actor
from idp.cli.output import CliError, emit, guarded, json_option, open_services
from idp.clock import as_aware
from idp.keys import SUPPORTED_ALGS
from idp.store.models import SigningKey

DATES = ("created_at", "activates_at", "activated_at", "retired_at", "remove_after",
         "removed_at", "revoked_at")

_actor_option = click.option("--actor", default="cli", show_default=True,
                             help="Who does it (audited as staff:ACTOR).")


def _date(value: datetime | None) -> str | None:
    return as_aware(value).isoformat(timespec="seconds") if value is not None else None


def key_data(row: SigningKey) -> dict[str, Any]:
    return {"kid": row.kid, "alg": row.alg, "state": row.state,
            **{name: _date(getattr(row, name)) for name in DATES}}


def _line(data: dict[str, Any]) -> str:
    dates = "  ".join(f"{name.removesuffix('_at')} {data[name]}" for name in DATES
                      if data[name] is not None)
    return f"{data['kid']}  {data['alg']}  {data['state']:<7}  {dates}"


@click.group()
def keys() -> None:
    """Signing keys: next → active → retired → removed, or revoked."""


@keys.command("list")
@json_option
@guarded
def keys_list(as_json: bool) -> None:
    """Every signing key, oldest first, with the dates of its lifecycle."""
    with open_services() as svc:
        rows = [key_data(k) for k in svc.keys.list_keys()]
    emit(as_json, {"keys": rows}, "\n".join(map(_line, rows)) or "no signing keys")


@keys.command("rotate")
@click.option("--alg", "algs", multiple=True, type=click.Choice(SUPPORTED_ALGS),
              help="Only this algorithm (repeat for several; default: all).")
@click.option("--if-due", is_flag=True,
              help="Only what is due: apply due activations and removals, and publish the next "
                   "key of each algorithm whose rotation period ends within the overlap "
                   "(for cron, on every node).")
@_actor_option
@json_option
@guarded
def keys_rotate(algs: tuple[str, ...], if_due: bool, actor: str, as_json: bool) -> None:
    """Publish the next key of each algorithm; it signs once [keys] overlap has passed. A
    next key already published is kept."""
    if if_due and algs:
        raise CliError("--if-due looks at every algorithm: leave out --alg")
    who = staff_actor(actor)
    with open_services() as svc:
        if if_due:
            done = svc.keys.rotate_if_due(actor=who)
            lines = [*done["advanced"], *(f"{kid} published as next" for kid in done["rotated"]),
                     *(f"{alg}: {when}" for alg, when in done["schedule"].items())]
            emit(as_json, done, "\n".join(lines))
            return
        rows = [key_data(k) for k in svc.keys.rotate(actor=who, algs=algs or None)]
    emit(as_json, {"keys": rows},
         "\n".join(f"{r['kid']}  {r['alg']}  next, signs from {r['activates_at']}"
                   for r in rows))


@keys.command("retire")
@click.argument("kid")
@_actor_option
@json_option
@guarded
def keys_retire(kid: str, actor: str, as_json: bool) -> None:
    """Take KID out of signing now: the next key of its algorithm signs in its place (rotate
    first), and KID stays published until the tokens it signed have expired. A next key that
    never signed is removed."""
    who = staff_actor(actor)
    with open_services() as svc:
        data = key_data(svc.keys.retire(kid, actor=who))
    emit(as_json, data, _line(data))


@keys.command("revoke")
@click.argument("kid")
@click.option("--reason", default="", help="Why (audited).")
@_actor_option
@json_option
@guarded
def keys_revoke(kid: str, reason: str, actor: str, as_json: bool) -> None:
    """Emergency: KID leaves the JWKS at once, its private key is dropped, every token it
    signed is revoked; if it was signing, a replacement signs at once."""
    who = staff_actor(actor)
    with open_services() as svc:
        result = svc.keys.revoke(kid, actor=who, reason=reason)
    emit(as_json, {"kid": result.kid, "alg": result.alg,
                   "tokens_revoked": result.tokens_revoked, "replacement": result.replacement},
         f"{result.kid} revoked: {result.tokens_revoked} token(s) revoked"
         + (f"; {result.replacement} signs {result.alg} now" if result.replacement else ""))
