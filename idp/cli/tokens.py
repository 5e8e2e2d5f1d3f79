"""``idp tokens purge``: delete the records of issuances whose tokens have all expired (run it
from cron on any node — see docs/deployment.md)."""

from __future__ import annotations

import click

from idp.cli.output import emit, guarded, json_option, open_services
from idp.tokens.purge import TokenPurge


@click.group()
def tokens() -> None:
    """Token issuance records."""


@tokens.command("purge")
@click.option("--grace", type=click.IntRange(0, 366 * 86400), default=86400, show_default=True,
              help="Keep rows this many seconds after their last token expired.")
@click.option("--batch", type=click.IntRange(1, 100_000), default=10_000, show_default=True,
              help="Rows deleted per transaction.")
@json_option
@guarded
def purge(grace: int, batch: int, as_json: bool) -> None:
    """Delete issuance records whose access and refresh tokens have all expired."""
    with open_services() as svc:
        result = TokenPurge(svc.engine, svc.audit).run(
            grace=grace, batch=batch, actor="cli")
    emit(as_json, {"deleted": result.deleted, "batches": result.batches,
                   "cutoff": result.cutoff},
         f"deleted {result.deleted} expired token records in {result.batches} batch(es)")
