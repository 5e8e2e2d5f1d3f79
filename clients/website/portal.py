"""示例部门门户 / Demo department portal — a confidential OpenID Connect relying party.

Sign-in is the authorization code flow (OIDC Core §3.1) with PKCE S256 (RFC 7636), ``state`` and
``nonce``, through Authlib's Flask client; the code is redeemed with ``client_secret_basic``
(RFC 6749 §2.3.1). Authlib checks the ID token its own way; the portal then checks it again,
independently, with python-jose against the IdP's JWKS (:mod:`.tokens`), and reads UserInfo.
The protocol steps are in :mod:`.signin`; the views here only parse, call, and render.

Routes: ``/`` home, ``/login`` (GET or POST; ``kind`` = empty, ``L2``, ``L3`` or ``id_card``: see
:data:`.signin.SIGN_INS`), ``/callback``, ``/refresh`` (POST), ``/logout``
(POST, this portal only), ``/logout-everywhere`` (POST, RP-Initiated Logout 1.0: the IdP session
and with it every channel), ``/backchannel-logout`` (POST, from the IdP: Back-Channel Logout 1.0,
:mod:`clients.common.backchannel`), ``/healthz``. Every failure renders the bilingual error
page, except at ``/backchannel-logout``, which answers the IdP in JSON.
"""

from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from clients.common.backchannel import BackchannelLogout, LogoutTokenValidator
from clients.common.replay import MemoryReplayCache

from .config import PortalConfig, load_config, validate
from .csrf import check_csrf, csrf_token
from .display import claim_rows, format_time, sign_in_summary, token_prefix
from .errors import PortalError
from .logout import PortalSessions
from .pages import render_error, render_http_error, render_unexpected, security_headers
from .provider import jwks_fetcher
from .signin import SESSION_TTL, RelyingParty, load_metadata
from .store import MemoryStore
from .tokens import JwksCache

SESSION_COOKIE = "portal_session"  # not "session": an IdP on another port shares the host

bp = Blueprint("portal", __name__)


def _rp() -> RelyingParty:
    rp: RelyingParty = current_app.extensions["portal"]
    return rp


@bp.get("/")
def home() -> str:
    record = _rp().current()
    if record is None:
        return render_template("index.html", record=None)
    return render_template(
        "index.html",
        record=record,
        summary=sign_in_summary(record["claims"], record["userinfo"]),
        id_token_rows=claim_rows(record["claims"]),
        userinfo_rows=claim_rows(record["userinfo"]),
        access_token=token_prefix(record["access_token"]),
        refresh_token=token_prefix(record["refresh_token"]),
        id_token=token_prefix(record["id_token"]),
        expires_at=format_time(record["expires_at"]) if record["expires_at"] else "—",
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    return _rp().start(request.values.get("kind", ""))


@bp.get("/callback")
def callback() -> Response:
    _rp().finish(request.args)
    return redirect(url_for(".home"))


@bp.post("/refresh")
def refresh() -> Response:
    rp = _rp()
    record = rp.current()
    if record is None:
        return redirect(url_for(".home"))
    rp.refresh(record)
    expiry = format_time(record["expires_at"]) if record["expires_at"] else "—"
    flash(f"令牌已刷新，新的访问令牌过期时间：{expiry} / Tokens refreshed; new expiry: {expiry}")
    return redirect(url_for(".home"))


@bp.post("/logout")
def logout() -> Response:
    _rp().sign_out()
    flash(
        "已退出本门户；您在一网通办的统一身份认证登录状态仍然保留。"
        " / Signed out of this portal only; your Unified Identity session continues."
    )
    return redirect(url_for(".home"))


@bp.post("/logout-everywhere")
def logout_everywhere() -> Response:
    rp = _rp()
    record = rp.current()
    if record is None:
        return redirect(url_for(".home"))
    url = rp.end_session_url(record)
    rp.sign_out()
    return redirect(url)


@bp.post("/backchannel-logout")
def backchannel_logout() -> Response:
    """Server to server, from the IdP: no cookie, no CSRF token (see :mod:`.csrf`)."""
    endpoint: BackchannelLogout = current_app.extensions["portal_logout"]
    return endpoint.respond(request)


@bp.get("/healthz")
def healthz() -> str:
    return "ok"


def create_app(config: PortalConfig | None = None) -> Flask:
    """Build the portal. Without ``config`` the settings come from the ``PORTAL_*`` variables."""
    config = validate(config) if config is not None else load_config()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.secure_cookies,
    )
    store = MemoryStore()
    oauth = OAuth(app, cache=store)  # Authlib keeps PKCE verifier and nonce server-side too
    client = oauth.register(
        "idp",
        client_id=config.client_id,
        client_secret=config.client_secret,
        server_metadata_url=config.discovery_url,
        client_kwargs={
            "scope": config.scope,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
            "default_timeout": config.http_timeout,
        },
    )
    jwks = JwksCache(
        jwks_fetcher(
            lambda: str(load_metadata(client, config.issuer)["jwks_uri"]), config.http_timeout
        ),
        max_age=config.jwks_max_age,
    )
    sessions = PortalSessions(store, SESSION_TTL)
    app.extensions["portal"] = RelyingParty(
        config=config, client=client, store=store, jwks=jwks, sessions=sessions
    )
    validator = LogoutTokenValidator(
        jwks,
        issuer=config.issuer,
        client_id=config.client_id,
        replay=MemoryReplayCache(),  # in memory, like the sessions it protects
        leeway=config.leeway,
    )
    app.extensions["portal_logout"] = BackchannelLogout(validator, sessions.end)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.before_request(check_csrf)
    app.after_request(security_headers)
    app.register_blueprint(bp)
    app.register_error_handler(PortalError, render_error)
    app.register_error_handler(HTTPException, render_http_error)
    app.register_error_handler(Exception, render_unexpected)
    return app
