"""``idp serve``: the production WSGI server (gunicorn, sync workers — DESIGN.md §5 measured
gthread/gevent collapsing on the signing path). Each worker builds its own app and services, and
runs a back-channel logout delivery thread (the workers share the durable queue through leases,
:mod:`idp.sessions.logout_queue`)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click
from gunicorn.app.base import BaseApplication

from idp.cli.output import guarded
from idp.config import load_settings

# No query strings, cookies or bodies in the access log: they can carry codes and tokens.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from idp.web import create_app

        app_logging()
        app = create_app()
        app.extensions["idp.services"].backchannel.start()
        return app


def app_logging() -> None:
    """The IdP's own log records (``idp.*``: the development SMS gateway's messages, unhandled
    errors, delivery failures) at INFO to stderr, beside gunicorn's. They never carry secrets
    or clear ID numbers (tests/e2e/test_privacy.py scans this output)."""
    logger = logging.getLogger("idp")
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--access-log/--no-access-log", default=True)
@guarded
def serve(host: str, port: int, workers: int, access_log: bool) -> None:
    """Run the IdP with gunicorn (sync workers)."""
    settings = load_settings()  # fail fast, in one line, on bad settings
    from idp.container import build_services

    services = build_services(settings)
    try:
        services.keys.check_ready()
    finally:
        services.close()
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "sync",
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 2,
        "accesslog": "-" if access_log else None,
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "idp",
        "control_socket_disable": True,  # several nodes/tests may share one HOME
        "forwarded_allow_ips": "127.0.0.1",
    }
    _Gunicorn(options).run()
