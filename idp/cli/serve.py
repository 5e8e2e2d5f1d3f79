"""``idp serve``: the production HTTP server — granian (HTTP/1.1 with keep-alive in Rust),
N worker processes, each running the WSGI app in one blocking thread. Measured here against
gunicorn's sync workers (docs/performance.md): about 2.5× the requests per second on discovery
and JWKS and lower latency on the token endpoint, because the sync workers closed the
connection after every request and parsed HTTP in Python. One thread per worker keeps the
signing path off the GIL contention that collapsed gthread/gevent (DESIGN.md §5).

Each worker builds its own app and services (:func:`worker_app`) and runs a back-channel logout
delivery thread (the workers share the durable queue through leases,
:mod:`idp.sessions.logout_queue`).

Logs (docs/observability.md): one format for the server's and the app's lines (``[logging]
format`` or ``--log-format``), handed to granian, which applies it in every worker. The access
log is the app's (:mod:`idp.observability.web`: request id, endpoint, no query strings, cookies
or bodies — they can carry codes and tokens); granian's own stays off.

Metrics: the workers share their values through a private directory made for this run
(:mod:`idp.observability.metrics_dir`), so ``/metrics`` at any worker adds up all of them.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import click

from idp.cli.output import guarded
from idp.config import load_settings
from idp.observability import logs
from idp.observability.metrics_dir import MetricsDir


def worker_app() -> Any:
    """The factory each worker process calls: its app, services and delivery thread."""
    from idp.web import create_app

    settings = load_settings()
    if not logs.configured():  # run by another server than `idp serve`
        logs.configure(settings.log_format)
    app = create_app(settings)
    app.extensions["idp.services"].backchannel.start()
    return app


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--access-log/--no-access-log", default=True)
@click.option("--log-format", type=click.Choice(logs.FORMATS), default=None,
              help="json or text  [default: [logging] format: json in production]")
@guarded
def serve(host: str, port: int, workers: int, access_log: bool, log_format: str | None) -> None:
    """Run the IdP (granian, one process per worker)."""
    settings = load_settings()  # fail fast, in one line, on bad settings
    log_config = logs.logging_config(log_format or settings.log_format, access_log=access_log)
    from idp.container import build_services

    services = build_services(settings)
    try:
        services.keys.check_ready()
    finally:
        services.close()
    metrics_dir = MetricsDir.prepare(settings.metrics.dir)
    # prometheus_client chooses its multiprocess mode from this variable when it is first
    # imported, and offers no other switch: set it here, before any worker imports it (the
    # workers inherit it). The workers' settings get the same directory as [metrics] dir,
    # through the loader like every IDP_* variable.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.path)
    os.environ["IDP_METRICS_DIR"] = str(metrics_dir.path)
    from granian import Granian
    from granian.constants import Interfaces

    server = Granian(
        "idp.cli.serve:worker_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=1,
        backlog=2048,
        log_dictconfig=log_config,
        log_access=False,  # the app writes the access log (idp.observability.web)
        respawn_failed_workers=True,
        workers_kill_timeout=10,
    )
    server.on_shutdown(metrics_dir.close)
    logging.getLogger("idp.serve").info("workers share their metrics in %s", metrics_dir.path)
    try:
        server.serve()
    finally:
        metrics_dir.close()
