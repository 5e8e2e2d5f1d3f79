"""``idp identity status|rekey``: the data keys protecting citizen ID numbers, and re-keying.

``rekey`` draws a progress bar on standard error and prints a summary (JSON with ``--json``);
nothing it prints contains an ID number, masked or not — only key ids and counts. See
docs/runbooks/key-rotation.md, "Re-keying citizen ID numbers".
"""

from __future__ import annotations

import sys
from typing import Any

import click

from idp.cli.output import emit, guarded, json_option, open_services
from idp.container import Services
from idp.identity.rekey import DEFAULT_BATCH, IdentityRekey, RekeyReport


@click.group()
def identity() -> None:
    """Data keys of citizen ID numbers (AES-256-GCM)."""


def _rekeyer(svc: Services) -> IdentityRekey:
    return IdentityRekey(svc.sessions, svc.protector, keys_dir=svc.settings.keys_dir,
                         audit=svc.audit)


@identity.command("status")
@json_option
@guarded
def status(as_json: bool) -> None:
    """Show the current data key and how many accounts and TOTP secrets each key seals."""
    with open_services() as svc:
        result = _rekeyer(svc).status()
    data = {"current_key": result.current_key, "loaded_keys": list(result.loaded_keys),
            "rows_per_key": result.rows_per_key, "secrets_per_key": result.secrets_per_key,
            "pending": result.pending}
    keys = sorted(set(result.rows_per_key) | set(result.secrets_per_key))
    lines = [f"current data key: {result.current_key}",
             *(f"  {key}: {result.rows_per_key.get(key, 0)} account(s), "
               f"{result.secrets_per_key.get(key, 0)} TOTP secret(s)"
               f"{' (current)' if key == result.current_key else ''}" for key in keys),
             f"pending re-key: {result.pending}"]
    emit(as_json, data, "\n".join(lines))


@identity.command("rekey")
@click.option("--new-key", is_flag=True,
              help="First create a new data key and make it current (unless a re-key is "
                   "still pending: then continue that one).")
@click.option("--batch", "batch_size", type=click.IntRange(1, 10_000), default=DEFAULT_BATCH,
              show_default=True, help="Rows per transaction.")
@click.option("--max-batches", type=click.IntRange(0), default=None,
              help="Stop after N batches (the rest waits for the next run).")
@json_option
@guarded
def rekey(new_key: bool, batch_size: int, max_batches: int | None, as_json: bool) -> None:
    """Re-encrypt stored ID numbers and TOTP secrets under the current data key; resumable,
    online."""
    bar: Any = None

    def start(pending: int) -> None:
        nonlocal bar
        if pending:
            bar = click.progressbar(length=pending, label="re-keying ID numbers and TOTP secrets",
                                    file=sys.stderr, show_pos=True)
            bar.__enter__()

    def advance(rows: int) -> None:
        if bar is not None:
            bar.update(rows)

    with open_services() as svc:
        try:
            report = _rekeyer(svc).rekey(new_key=new_key, batch_size=batch_size,
                                         max_batches=max_batches, actor="cli",
                                         on_start=start, on_batch=advance)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    emit(as_json, _describe(report), _summary(report))


def _describe(report: RekeyReport) -> dict[str, Any]:
    return {"target_key": report.target_key, "created_key": report.created_key,
            "pending_at_start": report.pending_at_start, "rewrapped": report.rewrapped,
            "skipped": report.skipped, "secrets_rewrapped": report.secrets_rewrapped,
            "secrets_skipped": report.secrets_skipped, "batches": report.batches,
            "remaining": report.remaining, "complete": report.complete}


def _summary(report: RekeyReport) -> str:
    created = " (new)" if report.created_key else ""
    text = (f"data key {report.target_key}{created}: re-encrypted {report.rewrapped} ID "
            f"number(s) and {report.secrets_rewrapped} TOTP secret(s) of "
            f"{report.pending_at_start} pending in {report.batches} batch(es)")
    if report.skipped or report.secrets_skipped:
        text += f"; {report.skipped + report.secrets_skipped} changed meanwhile and left alone"
    if report.complete:
        return text + "; every account is under the current key (ID numbers and TOTP secrets)"
    return text + f"; {report.remaining} remaining — run `idp identity rekey` again"
