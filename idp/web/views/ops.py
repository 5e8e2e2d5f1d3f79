"""Operations endpoints for load balancers and orchestrators: ``/healthz`` (the process answers)
and ``/readyz`` (it can serve: database, ephemeral store and signing keys, :mod:`idp.health`)."""

from __future__ import annotations

import json

from flask import Blueprint, Response

from idp.health import readiness
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
