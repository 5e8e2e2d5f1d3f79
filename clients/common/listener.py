"""A back-channel logout listener for the command-line clients (the app, the counter terminal).

They are not web servers, yet the IdP must reach them when a session ends (Back-Channel Logout
1.0 §2.5), so ``listen`` runs this small HTTP server beside them: ``POST /backchannel-logout``
(:class:`~.backchannel.BackchannelLogout`) and ``GET /healthz``, on werkzeug's threaded server.

Their sign-in lives in a private state file (:mod:`.privatefile`), shared with the commands the
citizen or clerk runs. :class:`StateFileLogout` ends it: when the logout token names the stored
sign-in, the file is replaced — atomically — by one that keeps only which sign-in it was and
``signed_out_by_idp_at``; the tokens are gone. A command that was refreshing at that very moment
could still write back tokens it fetched before the logout; the IdP has revoked them all.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .backchannel import BackchannelLogout, LogoutClaims, LogoutTokenValidator
from .privatefile import read_state, write_state
from .provider import Provider
from .replay import FileReplayCache, replay_file_for

LOGOUT_PATH = "/backchannel-logout"
SIGNED_OUT = "signed_out_by_idp_at"


class QuietHandler(WSGIRequestHandler):
    """Access log lines with the path only: no query string (an authorization code may be in
    it), never a body (a logout token is)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = getattr(code, "value", code)
        self.log("info", '"%s %s" %s %s', self.command, self.path.split("?", 1)[0], status, size)


def _json(status: int, body: dict[str, Any]) -> Response:
    headers = {"Cache-Control": "no-store"}
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def logout_app(endpoint: BackchannelLogout) -> Callable[..., Any]:
    """The WSGI application of the listener."""

    @Request.application
    def application(request: Request) -> Response:
        if request.path == LOGOUT_PATH:
            if request.method != "POST":
                return _json(405, {"error": "method_not_allowed", "error_description": "POST"})
            return endpoint.respond(request)
        if request.path == "/healthz" and request.method == "GET":
            return _json(200, {"status": "ok"})
        return _json(404, {"error": "not_found", "error_description": request.path[:100]})

    return application


def make_listener(endpoint: BackchannelLogout, host: str, port: int) -> BaseWSGIServer:
    """The bound server (``port`` 0: any free port); run it with ``serve_forever``."""
    return make_server(
        host, port, logout_app(endpoint), threaded=True, request_handler=QuietHandler
    )


def listen(server: BaseWSGIServer, say: Callable[[str], None]) -> int:
    """Serve until interrupted (Ctrl-C); exit status 0."""
    url = f"http://{server.host}:{server.server_port}{LOGOUT_PATH}"
    say(f"后台通道退出监听中 / Back-channel logout listener on {url} (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        say("已停止 / Stopped.")
    finally:
        server.server_close()
    return 0


class StateFileLogout:
    """``end_sessions`` of a client whose one sign-in is kept in a state file."""

    def __init__(
        self,
        path: Path,
        *,
        issuer: str,
        client_id: str,
        version: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.issuer = issuer
        self.client_id = client_id
        self.version = version
        self.clock = clock
        self._lock = threading.Lock()

    def __call__(self, logout: LogoutClaims) -> int:
        with self._lock:
            record = read_state(self.path, self.version)
            if record is None or SIGNED_OUT in record:
                return 0
            if (record.get("issuer"), record.get("client_id")) != (self.issuer, self.client_id):
                return 0  # signed in at another IdP or as another client: not ours to end
            claims = record.get("claims")
            claims = claims if isinstance(claims, dict) else {}
            sub, sid = claims.get("sub"), claims.get("sid")
            if not logout.names(sub, sid):
                return 0
            signed_out = {
                "issuer": self.issuer,
                "client_id": self.client_id,
                "claims": {"sub": sub, "sid": sid},
                SIGNED_OUT: int(self.clock()),
            }
            write_state(self.path, signed_out, self.version)
            return 1


def state_file_listener(
    provider: Provider,
    *,
    client_id: str,
    state_file: Path,
    host: str,
    port: int,
    leeway: float = 60.0,
    version: int = 1,
) -> BaseWSGIServer:
    """The listener of a command-line client: tokens checked against ``provider``'s JWKS,
    ``jti`` values kept beside the state file, the sign-in in ``state_file`` ended."""
    validator = LogoutTokenValidator(
        provider.jwks,
        issuer=provider.issuer,
        client_id=client_id,
        replay=FileReplayCache(replay_file_for(state_file)),
        leeway=leeway,
    )
    end = StateFileLogout(state_file, issuer=provider.issuer, client_id=client_id, version=version)
    return make_listener(BackchannelLogout(validator, end), host, port)
