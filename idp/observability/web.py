"""The Flask side of observability: request ids, timing, the access log and the metrics wiring.

For every request, first of all hooks: the caller's ``X-Request-Id`` is kept when it is safe
(:func:`idp.observability.logs.request_id_from`), else a fresh one is made; it is put in
:data:`~idp.observability.logs.REQUEST_ID` for every log record written while the request is
served, and echoed as the response's ``X-Request-Id``. Last of all hooks, the request is counted
(:class:`~idp.observability.metrics.Metrics`) and one access line is written (logger
``idp.access``): method, path, endpoint, status, duration_ms, bytes, remote_addr and the client
tokens were issued to, if any.

The access line never holds the query string (codes, tokens, state), cookies, headers or bodies;
path segments that are bearer secrets of their own (a QR ticket id, a face-check id) are
replaced by ``[redacted]``, and control characters are escaped (no forged log lines).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from time import perf_counter

from flask import Flask, Response, g, request

from idp.container import Services
from idp.observability.logs import REQUEST_ID, request_id_from
from idp.observability.metrics import UNMATCHED, Metrics
from idp.tokens import IssueContext

access_log = logging.getLogger("idp.access")

# The client tokens were issued to while serving this request (set by the token service's
# listener below), for the access line.
REQUEST_CLIENT: ContextVar[str | None] = ContextVar("idp_request_client", default=None)
REDACTED_VIEW_ARGS = frozenset({"ticket_id", "check_id"})
PATH_MAX = 512


@dataclass(frozen=True)
class _Started:
    request_id: str
    at: float


def install(app: Flask, services: Services, metrics: Metrics) -> None:
    """Bind request ids, timing and the access log to ``app``; count sign-ins and tokens of
    ``services`` in ``metrics``. Call it before any other request hook is registered."""
    app.extensions["idp.metrics"] = metrics
    services.audit.subscribe(metrics.audited)
    services.tokens.subscribe(metrics.token_issued)
    services.tokens.subscribe(_note_client)

    def begin() -> None:
        request_id = request_id_from(request.headers.get("X-Request-Id"))
        REQUEST_ID.set(request_id)
        REQUEST_CLIENT.set(None)
        g.idp_started = _Started(request_id, perf_counter())

    def end(response: Response) -> Response:
        started: _Started | None = g.get("idp_started")
        if started is None:  # begin() did not run: nothing to measure
            return response
        seconds = perf_counter() - started.at
        response.headers["X-Request-Id"] = started.request_id
        endpoint = request.url_rule.endpoint if request.url_rule is not None else UNMATCHED
        metrics.request_done(endpoint, request.method, response.status_code, seconds)
        _access_line(response, endpoint, seconds)
        return response

    def teardown(_exc: BaseException | None) -> None:
        REQUEST_ID.set(None)
        REQUEST_CLIENT.set(None)

    # First before every other hook (a CSRF refusal is still counted and logged with its id);
    # app-wide after_request hooks run last-registered first, so inserted first it runs last
    # and sees the final status and headers.
    app.before_request_funcs.setdefault(None, []).insert(0, begin)
    app.after_request_funcs.setdefault(None, []).insert(0, end)
    app.teardown_request(teardown)


def _note_client(ctx: IssueContext) -> None:
    REQUEST_CLIENT.set(ctx.client.client_id)


def _printable(text: str) -> str:
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def loggable_path() -> str:
    """The request's path: no query string, secret segments redacted, control characters
    escaped, at most :data:`PATH_MAX` characters."""
    path = request.path
    view_args = request.view_args or {}
    for name in REDACTED_VIEW_ARGS.intersection(view_args):
        value = str(view_args[name])
        if value:
            path = path.replace(value, "[redacted]")
    return _printable(path[:PATH_MAX])


def _access_line(response: Response, endpoint: str, seconds: float) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    method = _printable(request.method[:16])
    path = loggable_path()
    duration_ms = round(seconds * 1000, 2)
    access_log.info('%s "%s %s" %d %.1fms', request.remote_addr, method, path,
                    response.status_code, duration_ms, extra={
                        "method": method, "path": path, "endpoint": endpoint,
                        "status": response.status_code, "duration_ms": duration_ms,
                        "bytes": response.content_length, "remote_addr": request.remote_addr,
                        "client_id": REQUEST_CLIENT.get()})
