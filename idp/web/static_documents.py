"""The discovery document and the JWKS, answered before Flask (a WSGI middleware).

Both are the same bytes for everyone between key changes, and relying parties fetch them on
every start and cache refresh. Flask's request cycle (request and session objects, hooks,
response object) was most of their cost: this answers ``GET``/``HEAD`` of exactly these paths
from prebuilt bytes with the same headers the app sends (ETag and ``If-None-Match`` with weak
comparison, ``Cache-Control``, CORS, the security headers of :mod:`idp.web.security`), and
counts them in the metrics under the app's endpoint names; they are not written to the access
log (no request id either: nothing about the caller is kept). Anything else — another method,
a query string — goes to the app as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

Document = Callable[[], tuple[bytes, str]]  # → (body, strong ETag with its quotes)
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Observer = Callable[[str, str, int, float], None]  # (endpoint, method, status, seconds)


@dataclass(frozen=True)
class Route:
    document: Document
    max_age: int
    endpoint: str  # the app's endpoint name for the same document, for the metrics


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison; ``*`` matches any current representation."""
    bare = etag.strip('"')
    for candidate in if_none_match.split(","):
        value = candidate.strip()
        if value == "*" or value.removeprefix("W/").strip('"') == bare:
            return True
    return False


class StaticDocuments:
    def __init__(self, app: WsgiApp, routes: dict[str, Route],
                 security_headers: list[tuple[str, str]], observe: Observer) -> None:
        self._app = app
        self._routes = routes
        self._security = list(security_headers)
        self._observe = observe  # counted in the metrics like the app's requests

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        route = self._routes.get(environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD")
        if route is None or method not in ("GET", "HEAD") or environ.get("QUERY_STRING"):
            return self._app(environ, start_response)
        started = perf_counter()
        body, etag = route.document()
        headers = [("ETag", etag), ("Cache-Control", f"public, max-age={route.max_age}"),
                   ("Access-Control-Allow-Origin", "*"), *self._security]
        if _matches(environ.get("HTTP_IF_NONE_MATCH", ""), etag):
            start_response("304 Not Modified", headers)
            self._observe(route.endpoint, method, 304, perf_counter() - started)
            return [b""]
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        self._observe(route.endpoint, method, 200, perf_counter() - started)
        return [b"" if method == "HEAD" else body]
