"""``python -m clients.counter [--config FILE.json] [--issuer URL] [--client-id ID]
[--client-secret S] [--state FILE] [--json] COMMAND``.

``signin [--login-hint ID_OR_PHONE] [--id-card-number NUMBER --clerk-id ID] [--scope …]``
starts a device authorization, shows the QR code and the user code on stderr, polls until the
citizen decides in the app, checks the ID token (python-jose, JWKS) and reads UserInfo, keeps
the citizen in the state file (:mod:`.session`), then prints the citizen's name, ``sid``,
``acr`` and ``amr`` (``--json``: the claims) on stdout. ``--id-card-number`` with ``--clerk-id``
(both or neither) attests the clerk's in-person check of the physical ID card: assurance level
L4 (docs/channels/counter.md §6); the number is only ever shown masked.
``status`` says who is signed in at the terminal, or that the IdP ended their session;
``listen [--host H] [--port P]`` receives the IdP's back-channel logout and forgets the citizen.
Exit status 0 on success; 1 when the citizen declined or the code expired; 2 with one line on
stderr on a bad setting or an error from the IdP — never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from clients.common.cli import EXIT_OK, OneLineParser, add_listen_command, emit_json, run
from clients.common.errors import ClientError
from clients.common.http import Transport, requests_transport
from clients.common.listener import listen, state_file_listener
from clients.common.provider import Provider
from clients.common.settings import ConfigError
from clients.website.tokens import validate_id_token

from .config import CounterConfig, load_config
from .device import InPersonCheck, poll, request_authorization, valid_card_number
from .display import in_person_line, instructions, progress, signed_in_line
from .session import VERSION, remember, state_path, status


def build_parser() -> argparse.ArgumentParser:
    common = OneLineParser(add_help=False)
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        metavar="FILE.json",
        help="JSON settings (issuer, client_id, client_secret, scope, …)",
    )
    common.add_argument("--issuer", default=argparse.SUPPRESS, help="the IdP's issuer")
    common.add_argument("--client-id", default=argparse.SUPPRESS, help="the terminal's client_id")
    common.add_argument(
        "--client-secret",
        default=argparse.SUPPRESS,
        help="the terminal's secret (prefer --config or COUNTER_CLIENT_SECRET)",
    )
    common.add_argument(
        "--state",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="who is signed in at the terminal (default ~/.ywtb-counter.json, mode 600)",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the result as JSON",
    )
    parser = OneLineParser(
        prog="python -m clients.counter",
        parents=[common],
        description="政务服务中心自助终端 / Counter terminal: sign a citizen in via the app "
        "(RFC 8628 device grant)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    signin = sub.add_parser(
        "signin",
        parents=[common],
        help="show a QR code + user code, wait for the citizen's approval",
    )
    signin.add_argument(
        "--login-hint",
        metavar="ID_OR_PHONE",
        help="the citizen at the window: only they may approve",
    )
    signin.add_argument(
        "--id-card-number",
        metavar="NUMBER",
        help="in-person check (L4): the number read from the ID card the clerk just checked "
        "(with --clerk-id; only clients allowed with `idp clients allow-in-person`)",
    )
    signin.add_argument(
        "--clerk-id",
        metavar="ID",
        help="in-person check (L4): the clerk who checked the ID card (with --id-card-number)",
    )
    signin.add_argument("--scope", help="scopes to ask for (default: the config's, openid profile)")
    sub.add_parser("status", parents=[common], help="who is signed in at the terminal (no network)")
    add_listen_command(sub, common, 5004)
    return parser


class Terminal:
    def __init__(
        self,
        config: CounterConfig,
        *,
        as_json: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
        transport: Transport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        self.as_json = as_json
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.provider = Provider(
            config.issuer, transport or requests_transport(config.http_timeout)
        )
        self.timing: dict[str, Any] = {
            k: v for k, v in (("sleep", sleep), ("clock", clock)) if v is not None
        }

    def show_progress(self, what: str, interval: int) -> None:
        text = progress(what, interval)
        end = "" if what == "pending" else "\n"
        print(
            ("\n" if what in ("approved", "denied", "expired") else "") + text,
            end=end,
            file=self.err,
            flush=True,
        )

    def signin(
        self, *, scope: str, login_hint: str | None, in_person: InPersonCheck | None = None
    ) -> int:
        authorization = request_authorization(
            self.provider, self.config, scope=scope, login_hint=login_hint, in_person=in_person
        )
        if in_person is not None:
            print(in_person_line(in_person), file=self.err)
        print(instructions(authorization), file=self.err, flush=True)
        token = poll(
            self.provider, self.config, authorization, on_event=self.show_progress, **self.timing
        )
        if not isinstance(token.get("id_token"), str):
            raise ClientError(
                "no_id_token",
                "The token response has no ID token.",
                "令牌响应中没有 ID 令牌。",
                status=502,
            )
        claims = validate_id_token(
            token["id_token"],
            self.provider.jwks,
            issuer=self.config.issuer,
            client_id=self.config.client_id,
            nonce=None,
            nonce_required=False,
            access_token=token["access_token"],
            leeway=self.config.leeway,
        )
        userinfo = self.provider.userinfo(token["access_token"], claims["sub"])
        remember(self.config, token, claims, userinfo)
        name, sid = userinfo.get("name"), claims.get("sid")
        if self.as_json:
            emit_json(
                {
                    "sub": claims["sub"],
                    "sid": sid,
                    "name": name,
                    "acr": claims.get("acr"),
                    "amr": claims.get("amr"),
                    "id_token": claims,
                    "userinfo": userinfo,
                },
                self.out,
            )
        else:
            print(signed_in_line(name or claims["sub"], claims), file=self.out)
        return EXIT_OK

    def status(self) -> int:
        data, lines = status(self.config)
        if self.as_json:
            emit_json(data, self.out)
        else:
            print("\n".join(lines), file=self.out)
        return EXIT_OK

    def listen(self, host: str, port: int) -> int:
        server = state_file_listener(
            self.provider,
            client_id=self.config.client_id,
            state_file=state_path(self.config),
            host=host,
            port=port,
            leeway=self.config.leeway,
            version=VERSION,
        )
        return listen(server, lambda text: print(text, file=self.err, flush=True))


def dispatch(
    args: argparse.Namespace,
    out: TextIO | None,
    err: TextIO | None,
    transport: Transport | None,
    **timing: Any,
) -> int:
    in_person = in_person_check(args) if args.command == "signin" else None
    overrides = {
        "issuer": getattr(args, "issuer", None),
        "client_id": getattr(args, "client_id", None),
        "client_secret": getattr(args, "client_secret", None),
        "state_file": getattr(args, "state", None),
    }
    config = load_config(config_file=getattr(args, "config", None), overrides=overrides)
    terminal = Terminal(
        config,
        as_json=getattr(args, "json", False),
        out=out,
        err=err,
        transport=transport,
        **timing,
    )
    if args.command == "status":
        return terminal.status()
    if args.command == "listen":
        return terminal.listen(args.host, args.port)
    return terminal.signin(
        scope=args.scope or config.scope, login_hint=args.login_hint, in_person=in_person
    )


def in_person_check(args: argparse.Namespace) -> InPersonCheck | None:
    """The clerk's ID-card check from ``--id-card-number`` and ``--clerk-id``: both or neither
    (checked before anything is sent)."""
    number = (args.id_card_number or "").strip().upper()
    clerk = (args.clerk_id or "").strip()
    if not number and not clerk:
        return None
    if not number or not clerk:
        raise ConfigError(
            "--id-card-number and --clerk-id go together: give both (the clerk checked the "
            "citizen's ID card) or neither"
        )
    if not valid_card_number(number):  # the number itself is never echoed
        raise ConfigError(
            "--id-card-number is not a valid resident ID card number (18 characters, check "
            "digit): read the card again"
        )
    return InPersonCheck(id_card_number=number, clerk_id=clerk)


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    transport: Transport | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> int:
    args = build_parser().parse_args(argv)
    return run(
        "counter",
        lambda: dispatch(args, out, err, transport, sleep=sleep, clock=clock),
        err or sys.stderr,
    )
