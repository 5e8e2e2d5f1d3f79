"""Operations endpoints for load balancers, orchestrators and monitoring: ``/healthz`` (the
process answers), ``/readyz`` (it can serve: database, ephemeral store and signing keys,
:mod:`idp.health`) and ``/metrics`` (Prometheus text format, every worker added up,
:mod:`idp.observability.metrics`; only for the scrapers ``[metrics]`` admits,
:mod:`idp.observability.access`)."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, request

from idp.health import readiness
from idp.observability.access import FORWARDING_HEADERS, MetricsAccess
from idp.observability.metrics import Metrics
from idp.web.principal import services

bp = Blueprint("ops", __name__)


def _json(body: dict[str, object], status: int) -> Response:
    response = Response(json.dumps(body), status=status, content_type="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    return _json({"status": "ok"}, 200)


@bp.get("/readyz")
def readyz() -> Response:
    checks = readiness(services())
    ready = all(checks.values())
    return _json({"status": "ready" if ready else "not ready", "checks": checks},
                 200 if ready else 503)


@bp.get("/metrics")
def metrics() -> Response:
    settings = services().settings
    if not settings.metrics.enabled:
        return _json({"error": "not_found", "error_description": "metrics are turned off"}, 404)
    forwarded = any(name in request.headers for name in FORWARDING_HEADERS)
    access = MetricsAccess.of(settings.metrics)
    if not access.admits(request.remote_addr, request.headers.get("Authorization"),
                         via_untrusted_proxy=forwarded and settings.proxy_hops == 0):
        return _json({"error": "forbidden", "error_description":
                      "metrics are for the monitoring system only ([metrics] allow / token)"},
                     403)
    collected: Metrics = current_app.extensions["idp.metrics"]
    response = Response(collected.exposition(), content_type=collected.content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
