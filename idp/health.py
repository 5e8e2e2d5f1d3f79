"""Readiness: can this node serve requests now? (``/readyz``, issue 7 §5)

Liveness (``/healthz``) only says the process answers; readiness checks what every request
needs: the durable database answers, the ephemeral store answers, and a signing key of every
algorithm is loaded. A load balancer takes a node that is not ready out of rotation. The checks
are cheap (one ``SELECT 1``, one ping, the cached key ring) and never reveal more than
the names of the parts that failed.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from idp.container import Services
from idp.errors import KeyMaterialError
from idp.keys.service import SUPPORTED_ALGS


def _database(svc: Services) -> bool:
    try:
        with svc.engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1
    except SQLAlchemyError:
        return False


def _keys(svc: Services) -> bool:
    try:
        ring = svc.keys.ring()
    except (KeyMaterialError, SQLAlchemyError):
        return False
    return all(ring.signer(alg) is not None for alg in SUPPORTED_ALGS)


def readiness(svc: Services) -> dict[str, bool]:
    """Each part's state; the node is ready when all are True."""
    return {"database": _database(svc), "store": svc.ephemeral.ping(), "keys": _keys(svc)}
