"""The mini-program backend's HTTP API (Flask). Views parse, call :mod:`.exchange`, answer JSON.

- ``POST /session`` ``{"app_access_token": "…"}`` → ``200 {"session_id", "sub", "sid", "name",
  "claims", "expires_in"}``: a session of this backend for the citizen signed in to the app.
- ``GET /session`` with ``Authorization: Bearer <session_id>`` → ``200 {"sub", "sid", "name",
  "expires_in"}``, or ``401 invalid_session`` once it has ended or expired.
- ``POST /backchannel-logout`` — the ``backchannel_logout_uri`` (Back-Channel Logout 1.0): a
  valid logout token from the IdP ends this backend's sessions of that ``sid``
  (:mod:`clients.common.backchannel`); ``200``, or ``400 invalid_request``.
- ``GET /healthz`` → ``{"status": "ok", "sessions": <live sessions>}``.

Every error is JSON ``{"error", "error_description"}``: 4xx for what the caller sent, 502 when
the IdP failed or answered with something this backend refuses. Nothing here logs a token.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from clients.common.backchannel import BackchannelLogout, LogoutTokenValidator
from clients.common.http import Transport, requests_transport
from clients.common.provider import Provider
from clients.common.replay import MemoryReplayCache
from clients.website.errors import PortalError

from .config import MiniProgramConfig, load_config, validate
from .exchange import ExchangeError, SessionStarter
from .sessions import SessionStore

bp = Blueprint("miniprogram", __name__)


def _starter() -> SessionStarter:
    starter: SessionStarter = current_app.extensions["miniprogram"]
    return starter


def error_response(error: str, description: str, status: int) -> Response:
    resp = jsonify(error=error, error_description=description)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/session")
def start_session() -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ExchangeError(
            "invalid_request",
            'Send a JSON object {"app_access_token": "…"} (Content-Type: application/json).',
            '请发送 JSON 对象 {"app_access_token": "…"}（Content-Type: application/json）。',
        )
    starter = _starter()
    session = starter.start(body.get("app_access_token"))
    resp = jsonify(
        session_id=session.session_id,
        sub=session.sub,
        sid=session.sid,
        name=session.claims.get("name"),
        claims=session.claims,
        expires_in=starter.config.session_ttl,
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/session")
def show_session() -> Any:
    auth = request.headers.get("Authorization", "")
    session_id = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    session = _starter().store.get(session_id) if session_id else None
    if session is None:
        raise ExchangeError(
            "invalid_session",
            "No such session: it was signed out at the IdP, expired, or never existed.",
            "会话不存在：已在统一身份认证平台退出、已过期，或从未建立。",
            status=401,
        )
    resp = jsonify(
        sub=session.sub,
        sid=session.sid,
        name=session.claims.get("name"),
        expires_in=max(0, int(session.expires_at - time.time())),
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/backchannel-logout")
def backchannel_logout() -> Response:
    endpoint: BackchannelLogout = current_app.extensions["miniprogram_logout"]
    return endpoint.respond(request)


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok", sessions=_starter().store.count())


def _portal_error(exc: PortalError) -> Response:
    status = exc.status if 400 <= exc.status < 600 else 400
    return error_response(exc.code, exc.en, status)


HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 400
    return error_response(HTTP_ERRORS.get(status, "invalid_request"), exc.name, status)


def _unexpected(exc: Exception) -> Response:
    current_app.logger.error("unexpected %s in %s", type(exc).__name__, request.path)
    return error_response("server_error", "The mini-program backend failed.", 500)


def create_app(
    config: MiniProgramConfig | None = None, *, transport: Transport | None = None
) -> Flask:
    """Build the backend. ``transport`` replaces the real HTTP client (tests)."""
    config = validate(config) if config is not None else load_config()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024
    provider = Provider(
        config.issuer,
        transport or requests_transport(config.http_timeout),
        jwks_max_age=config.jwks_max_age,
    )
    store = SessionStore(config.session_ttl)
    app.extensions["miniprogram"] = SessionStarter(config, provider, store)
    validator = LogoutTokenValidator(
        provider.jwks,
        issuer=config.issuer,
        client_id=config.client_id,
        replay=MemoryReplayCache(),  # in memory, like the sessions it protects
        leeway=config.leeway,
    )
    app.extensions["miniprogram_logout"] = BackchannelLogout(validator, store.end)
    app.register_blueprint(bp)
    app.register_error_handler(PortalError, _portal_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app
