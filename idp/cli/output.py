"""CLI output and errors: JSON with ``--json``, one line and exit 2 on bad input."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import click
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from idp.config import Settings, load_settings
from idp.container import Services, build_services
from idp.errors import IdpError

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def emit(as_json: bool, data: dict[str, Any] | list[Any], text: str) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(text)


def guarded(func: F) -> F:
    """Turn domain errors into one line on stderr and exit status 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except IdpError as exc:
            raise CliError(exc.message) from None
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
            raise CliError(f"database error: {reason}") from None
        except RedisError as exc:
            raise CliError(f"ephemeral store (Redis) error: {exc}") from None
        except OSError as exc:
            raise CliError(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None

    return wrapper  # type: ignore[return-value]


def settings() -> Settings:
    return load_settings()


@contextmanager
def open_services(*, create_keys: bool = False) -> Iterator[Services]:
    """The services for one command, closed (connections released) when it ends."""
    svc = build_services(load_settings(), create_keys=create_keys)
    try:
        yield svc
    finally:
        svc.close()


def read_stdin_secret() -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise CliError("no password on standard input")
    return value
