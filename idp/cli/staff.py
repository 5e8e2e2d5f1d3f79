"""``idp staff``: security staff accounts and their admin API tokens (issue 6 §1).

``idp staff create`` bootstraps the first security admin: it prints the TOTP secret, its
``otpauth://`` URI and a QR code once — the only time they are shown — and the first code the
new staff member enters at the console confirms it.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import click
import qrcode

from idp.cli.citizens import staff_actor
from idp.cli.output import CliError, emit, guarded, json_option, open_services, read_stdin_secret
from idp.container import Services
from idp.staff import StaffEnrolment, StaffRecord
from idp.staff.roles import ROLE_NAMES


def _find(svc: Services, username: str) -> StaffRecord:
    member = svc.staff.find(username)
    if member is None:
        raise CliError(f"no staff member {username!r} (see `idp staff list`)")
    return member


def _when(ts: float | datetime | None) -> str | None:
    if ts is None:
        return None
    value = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)
    return value.isoformat(timespec="seconds")


def _enrolment_text(enrolment: StaffEnrolment) -> str:
    qr = qrcode.QRCode(border=1)
    qr.add_data(enrolment.uri)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return (f"{out.getvalue()}\nScan the QR code with an authenticator app, or enter the secret "
            f"{enrolment.secret}\n(shown once; the first code entered at /console/login "
            f"confirms it)")


@click.group()
def staff() -> None:
    """Security staff accounts (security_admin, auditor, helpdesk)."""


@staff.command("create")
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True, help="Display name.")
@click.option("--role", required=True, type=click.Choice(ROLE_NAMES))
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (never from the command line).")
@click.option("--actor", default="cli", show_default=True, help="Who creates it (audited).")
@json_option
@guarded
def staff_create(username: str, display_name: str, role: str, password_stdin: bool,
                 actor: str, as_json: bool) -> None:
    """Create a staff member with a TOTP second factor; prints its enrolment once."""
    password = read_stdin_secret()
    with open_services() as svc:
        enrolment = svc.staff.create(username, display_name, role, password,
                                     actor=staff_actor(actor))
    member = enrolment.staff
    emit(as_json, {"id": member.id, "username": member.username, "role": member.role,
                   "totp_secret": enrolment.secret, "totp_uri": enrolment.uri},
         f"created {member.role} {member.username} ({member.id})\n"
         + _enrolment_text(enrolment))


@staff.command("list")
@json_option
@guarded
def staff_list(as_json: bool) -> None:
    """Every staff member: role, status, second factor confirmed, last sign-in."""
    with open_services() as svc:
        rows: list[dict[str, Any]] = [{
            "id": s.id, "username": s.username, "name": s.display_name, "role": s.role,
            "status": s.status, "totp_confirmed": s.totp_confirmed,
            "last_login": _when(s.last_login_at)} for s in svc.staff.list()]
    emit(as_json, {"staff": rows}, "\n".join(
        f"{r['username']}  {r['role']}  {r['status']}  last sign-in {r['last_login'] or '-'}"
        for r in rows) or "no staff members")


def _status(username: str, status: str, actor: str, as_json: bool) -> None:
    with open_services() as svc:
        member = svc.staff.set_status(_find(svc, username).id, status,
                                      actor=staff_actor(actor))
    emit(as_json, {"username": member.username, "status": member.status},
         f"{member.username}: {member.status}")


@staff.command("disable")
@click.argument("username")
@click.option("--actor", default="cli", show_default=True, help="Who (audited).")
@json_option
@guarded
def staff_disable(username: str, actor: str, as_json: bool) -> None:
    """Disable USERNAME: console sessions ended, API tokens stop working."""
    _status(username, "disabled", actor, as_json)


@staff.command("enable")
@click.argument("username")
@click.option("--actor", default="cli", show_default=True, help="Who (audited).")
@json_option
@guarded
def staff_enable(username: str, actor: str, as_json: bool) -> None:
    """Enable USERNAME again."""
    _status(username, "active", actor, as_json)


@staff.command("reset-totp")
@click.argument("username")
@click.option("--actor", default="cli", show_default=True, help="Who (audited).")
@json_option
@guarded
def staff_reset_totp(username: str, actor: str, as_json: bool) -> None:
    """A new TOTP secret for USERNAME (lost phone); the old one stops working."""
    with open_services() as svc:
        member = _find(svc, username)
        enrolment = svc.staff.reset_totp(member.id, actor=staff_actor(actor))
    emit(as_json, {"username": member.username, "totp_secret": enrolment.secret,
                   "totp_uri": enrolment.uri},
         f"new second factor for {member.username}\n" + _enrolment_text(enrolment))


@staff.command("token")
@click.argument("username")
@click.option("--name", "token_name", required=True, help="What the token is for.")
@click.option("--ttl", type=click.IntRange(1, 366 * 86400), default=None,
              help="Lifetime in seconds (default [staff] api_token_ttl).")
@click.option("--actor", default="cli", show_default=True, help="Who (audited).")
@json_option
@guarded
def staff_token(username: str, token_name: str, ttl: int | None, actor: str,
                as_json: bool) -> None:
    """An admin API bearer token acting as USERNAME (with its role); printed once."""
    with open_services() as svc:
        member = _find(svc, username)
        if member.status != "active":
            raise CliError(f"{member.username} is disabled")
        token, info = svc.staff_tokens.issue(member, token_name, ttl=ttl,
                                             actor=staff_actor(actor))
    emit(as_json, {"token": token, "id": info.id, "expires_at": _when(info.expires_at)},
         f"{token}\n(API token {info.id} for {member.username}, expires "
         f"{_when(info.expires_at)}; shown once)")


@staff.command("revoke-token")
@click.argument("token_id", type=int)
@click.option("--actor", default="cli", show_default=True, help="Who (audited).")
@json_option
@guarded
def staff_revoke_token(token_id: int, actor: str, as_json: bool) -> None:
    """Revoke API token TOKEN_ID."""
    with open_services() as svc:
        svc.staff_tokens.revoke(token_id, staff_id=None, actor=staff_actor(actor))
    emit(as_json, {"revoked": token_id}, f"revoked API token {token_id}")
