"""How the command-line clients end: output, one-line errors, exit codes, never a traceback.

Exit status 0 on success, 1 when the citizen said no or time ran out (``outcome`` errors), 2 on
bad input, a bad setting, or an error from the IdP. Errors go to stderr as one line in English
and Chinese; ``--json`` output goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TextIO

from clients.website.config import ConfigError
from clients.website.display import format_value
from clients.website.errors import PortalError

from .errors import one_line

EXIT_OK, EXIT_OUTCOME, EXIT_ERROR = 0, 1, 2


class OneLineParser(argparse.ArgumentParser):
    """``argparse`` whose usage errors are one line (and exit 2), like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def port_number(text: str) -> int:
    """``argparse`` type of a TCP port to listen on (0: any free port)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r} (0-65535)")
    return port


def add_listen_command(sub: Any, common: argparse.ArgumentParser, port: int) -> None:
    """The ``listen [--host H] [--port P]`` command of a command-line client: its back-channel
    logout listener (:mod:`.listener`)."""
    listen = sub.add_parser(
        "listen",
        parents=[common],
        help="receive back-channel logout from the IdP (register http://HOST:PORT"
        "/backchannel-logout)",
    )
    listen.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    listen.add_argument("--port", type=port_number, default=port, help=f"default {port}")


class Outcome(PortalError):
    """Not a failure of the program: the citizen declined, or the code expired (exit 1)."""


def emit_json(data: Any, out: TextIO | None = None) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str), file=out or sys.stdout)


def claim_lines(claims: Mapping[str, Any], indent: str = "  ") -> list[str]:
    width = max((len(name) for name in claims), default=0)
    return [f"{indent}{name:<{width}}  {format_value(name, claims[name])}" for name in claims]


def run(prog: str, command: Callable[[], int], err: TextIO | None = None) -> int:
    """Run ``command``; turn every expected failure into one line on stderr and its status."""
    err = err or sys.stderr
    try:
        return command()
    except Outcome as exc:
        print(f"{prog}: {exc.en} / {exc.zh}", file=err)
        return EXIT_OUTCOME
    except PortalError as exc:  # ClientError, IdTokenError, AccessTokenError
        print(f"{prog}: error: {exc.en} / {exc.zh}", file=err)
        return EXIT_ERROR
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=err)
        return EXIT_ERROR
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"{prog}: error: {one_line(exc.strerror or exc)}{where}", file=err)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted / 已中断", file=err)
        return 130
