"""``python -m clients.app [--issuer URL] [--client-id ID] [--state FILE] [--json] COMMAND``.

Commands: ``login [--open] [--timeout S]``, ``refresh``, ``whoami``, ``status``, ``approve-qr
TICKET_OR_URL [--deny]``, ``approve-device USER_CODE [--deny]``, ``exchange --miniprogram URL``,
``logout-local``, ``listen [--host H] [--port P]`` (the back-channel logout listener). The
common options may also follow the command. Exit status 0 on success,
2 with one line on stderr on bad input or an error from the IdP — never a traceback.

Without ``--issuer`` / ``--client-id``, the commands after ``login`` use the ones the state file
was signed in with.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from clients.common.cli import OneLineParser, add_listen_command, run
from clients.common.errors import ClientError
from clients.common.http import Transport

from .commands import AppCommands
from .config import DEFAULT_CLIENT_ID, DEFAULT_ISSUER, DEFAULT_SCOPE, DEFAULT_STATE_FILE, AppConfig

PROG = "python -m clients.app"


def _common() -> OneLineParser:
    """Options accepted before and after the command (SUPPRESS: the later one wins, if any)."""
    common = OneLineParser(add_help=False)
    common.add_argument(
        "--issuer",
        default=argparse.SUPPRESS,
        help=f"the IdP's issuer (default {DEFAULT_ISSUER}, or the state file's)",
    )
    common.add_argument(
        "--client-id",
        default=argparse.SUPPRESS,
        help=f"the app's client_id (default {DEFAULT_CLIENT_ID})",
    )
    common.add_argument(
        "--state",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help=f"where tokens are kept (default {DEFAULT_STATE_FILE}, mode 600)",
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print the result as JSON"
    )
    common.add_argument(
        "--http-timeout",
        type=float,
        default=argparse.SUPPRESS,
        metavar="S",
        help="timeout of each HTTP request in seconds (default 10)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = OneLineParser(
        prog=PROG,
        parents=[common],
        description="一网通办 App (reference client): a public native OpenID Connect client.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    login = sub.add_parser(
        "login", parents=[common], help="sign in in the browser (PKCE, loopback redirect)"
    )
    login.add_argument("--open", action="store_true", help="open the system browser")
    login.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="how long to wait for the sign-in, seconds (default 300)",
    )
    login.add_argument("--scope", default=DEFAULT_SCOPE, help=f"default: {DEFAULT_SCOPE}")
    sub.add_parser("refresh", parents=[common], help="rotate the refresh token")
    sub.add_parser("whoami", parents=[common], help="show the citizen's UserInfo claims")
    qr = sub.add_parser("approve-qr", parents=[common], help="approve a website's QR sign-in")
    qr.add_argument("ticket", metavar="TICKET_OR_QR_URL")
    qr.add_argument("--deny", action="store_true", help="refuse instead of approving")
    device = sub.add_parser(
        "approve-device", parents=[common], help="approve a counter terminal's user code"
    )
    device.add_argument("user_code", metavar="USER_CODE")
    device.add_argument("--deny", action="store_true", help="refuse instead of approving")
    exchange = sub.add_parser(
        "exchange", parents=[common], help="start a mini-program session from the app's session"
    )
    exchange.add_argument(
        "--miniprogram", required=True, metavar="URL", help="base URL of the mini-program backend"
    )
    sub.add_parser(
        "logout-local", parents=[common], help="forget the tokens here (the IdP session continues)"
    )
    sub.add_parser(
        "status", parents=[common], help="signed in, or signed out (also by the IdP)? no network"
    )
    add_listen_command(sub, common, 5003)
    return parser


def _stored_identity(state_file: Path) -> dict[str, Any]:
    """issuer / client_id of an existing state file, read without checks (load() checks)."""
    try:
        data = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def make_config(args: argparse.Namespace) -> AppConfig:
    state_file = Path(getattr(args, "state", DEFAULT_STATE_FILE)).expanduser()
    stored = {} if args.command == "login" else _stored_identity(state_file)
    return AppConfig(
        issuer=getattr(args, "issuer", None) or stored.get("issuer") or DEFAULT_ISSUER,
        client_id=getattr(args, "client_id", None) or stored.get("client_id") or DEFAULT_CLIENT_ID,
        state_file=state_file,
        scope=getattr(args, "scope", DEFAULT_SCOPE),
        http_timeout=getattr(args, "http_timeout", 10.0),
    ).validated()


def check_same_registration(config: AppConfig, args: argparse.Namespace) -> None:
    """A state file signed in at one issuer is never used against another."""
    if args.command == "login":
        return
    stored = _stored_identity(config.state_file)
    for key in ("issuer", "client_id"):
        if stored.get(key) not in (None, getattr(config, key)):
            raise ClientError(
                "state_mismatch",
                f"{config.state_file} was signed in with {key} {stored[key]!r}, not "
                f"{getattr(config, key)!r}; use another --state file.",
                f"{config.state_file} 登录时的 {key} 为 {stored[key]!r}，而不是 "
                f"{getattr(config, key)!r}；请使用另一个 --state 文件。",
            )


def dispatch(
    args: argparse.Namespace, out: TextIO | None, err: TextIO | None, transport: Transport | None
) -> int:
    config = make_config(args)
    check_same_registration(config, args)
    app = AppCommands(
        config, as_json=getattr(args, "json", False), out=out, err=err, transport=transport
    )
    if args.command == "login":
        return app.login(open_browser=args.open, timeout=args.timeout)
    if args.command == "refresh":
        return app.refresh()
    if args.command == "whoami":
        return app.whoami()
    if args.command == "approve-qr":
        return app.approve_qr(args.ticket, allow=not args.deny)
    if args.command == "approve-device":
        return app.approve_device(args.user_code, allow=not args.deny)
    if args.command == "exchange":
        return app.exchange(args.miniprogram)
    if args.command == "status":
        return app.status()
    if args.command == "listen":
        return app.listen(args.host, args.port)
    return app.logout_local()


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    transport: Transport | None = None,
) -> int:
    args = build_parser().parse_args(argv)
    return run("app", lambda: dispatch(args, out, err, transport), err or sys.stderr)
