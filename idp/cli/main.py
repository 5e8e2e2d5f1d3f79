"""Entry point of the ``idp`` command: every sub-command, one-line errors, exit 2 on bad input."""

from __future__ import annotations

import sys

import click

from idp.cli import admin, citizens  # noqa: F401 — citizens adds accounts show|lock|unlock
from idp.cli.delegations import delegations
from idp.cli.demo import seed_demo
from idp.cli.identity import identity
from idp.cli.keys import keys
from idp.cli.logout import logout
from idp.cli.output import CliError
from idp.cli.seed_bench import seed_bench
from idp.cli.serve import serve
from idp.cli.sessions import sessions
from idp.cli.staff import staff
from idp.cli.tokens import tokens


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """一网通办 Unified Identity — OpenID Connect provider."""


cli.add_command(admin.init)
cli.add_command(serve)
cli.add_command(seed_demo)
cli.add_command(seed_bench)
cli.add_command(admin.registry)
cli.add_command(admin.accounts)
cli.add_command(admin.clients)
cli.add_command(keys)
cli.add_command(admin.audit)
cli.add_command(delegations)
cli.add_command(logout)
cli.add_command(identity)
cli.add_command(sessions)
cli.add_command(staff)
cli.add_command(tokens)


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="idp", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 2
    except CliError as exc:
        exc.show()
        return 2
    except click.ClickException as exc:
        # One line, always: click lists a choice option's values on lines of their own.
        click.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
