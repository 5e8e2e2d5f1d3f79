"""The application factory (Flask's ``create_app`` pattern).

Settings are loaded once and services built once per process; blueprints and extensions are
bound here. Start-up refuses to serve without signing and identity keys.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from idp.audit.context import request_ip
from idp.config import Settings, load_settings
from idp.container import Services, build_services
from idp.observability import web as observability
from idp.observability.metrics import Metrics
from idp.oidc.discovery import StaticDocument, metadata
from idp.oidc.server import create_authorization_server
from idp.web import errors, i18n, security
from idp.web.extensions import babel, csrf, login_manager
from idp.web.principal import load_user

HERE = Path(__file__).resolve().parent


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    settings = settings or load_settings()
    services = services or build_services(settings)
    services.keys.check_ready()

    app = Flask(__name__, template_folder=str(HERE / "templates"),
                static_folder=str(HERE / "static"))
    if settings.proxy_hops:
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME=settings.session.cookie_name,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production or settings.session.cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.session.absolute_ttl),
        REMEMBER_COOKIE_DURATION=timedelta(seconds=0),
        BABEL_DEFAULT_LOCALE=settings.ui.default_locale,
        BABEL_TRANSLATION_DIRECTORIES=str(HERE / "translations"),
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=False,
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_AS_ASCII=False,
    )
    app.extensions["idp.services"] = services
    app.extensions["idp.settings"] = settings
    app.extensions["idp.oauth"] = create_authorization_server(services)
    app.extensions["idp.discovery"] = StaticDocument.of(metadata(settings))
    # Request ids, timing, the access log; sign-ins and tokens counted (docs/observability.md).
    observability.install(app, services, Metrics(multiproc_dir=settings.metrics.dir or None))

    babel.init_app(app, locale_selector=i18n.select_locale)
    app.jinja_env.globals["lang_url"] = i18n.lang_url
    app.jinja_env.globals["html_lang"] = i18n.html_lang
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    from idp.web.views import account, auth, oidc, registration

    # Before auth: a JSON or bearer POST /register is RFC 7591, not the sign-up form.
    app.register_blueprint(registration.bp)
    csrf.exempt(registration.bp)
    app.register_blueprint(oidc.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    csrf.exempt(oidc.bp)
    from idp.web.views import device

    app.register_blueprint(device.bp)
    app.register_blueprint(device.api)
    csrf.exempt(device.api)
    from idp.web.views import qr

    app.register_blueprint(qr.bp)
    app.register_blueprint(qr.api)
    csrf.exempt(qr.api)
    from idp.web.views import logout

    app.register_blueprint(logout.bp)
    from idp.web.views import passkeys

    app.register_blueprint(passkeys.bp)
    app.register_blueprint(passkeys.api)  # JSON, CSRF token in the X-CSRFToken header
    from idp.web.views import face

    app.register_blueprint(face.bp)
    if settings.face.backend == "local":  # the development stand-in's capture page
        from idp.web.views import face_dev

        app.register_blueprint(face_dev.bp)
    @app.before_request
    def _audit_ip() -> None:  # audit entries of this request carry the caller's address
        request_ip.set(request.remote_addr)

    from idp.web.views import ops

    app.register_blueprint(ops.bp)
    from idp.web import admin_api

    admin_api.register(app)  # JSON, bearer staff API tokens (no cookies: no CSRF)
    from idp.web import console

    console.register(app)  # the staff console: its own cookie session, CSRF on every form
    security.install(app, production=settings.production)
    _serve_static_documents(app, services, settings)
    errors.install(app)
    return app


def _serve_static_documents(app: Flask, services: Services, settings: Settings) -> None:
    """Discovery and JWKS before Flask: the same bytes and headers, without the request cycle
    (idp.web.static_documents; measured in docs/performance.md)."""
    from idp.web.static_documents import Route, StaticDocuments

    discovery: StaticDocument = app.extensions["idp.discovery"]

    def _discovery() -> tuple[bytes, str]:
        return discovery.body, discovery.etag

    def _jwks() -> tuple[bytes, str]:
        ring = services.keys.ring()
        return ring.jwks_bytes, ring.etag

    about = Route(_discovery, 3600, "oidc.discovery")
    routes = {"/.well-known/openid-configuration": about,
              "/.well-known/oauth-authorization-server": about,
              "/jwks.json": Route(_jwks, settings.keys.jwks_max_age, "oidc.jwks")}
    headers = [("Content-Security-Policy", security.CSP),
               *security.fixed_headers(production=settings.production)]
    metrics: Metrics = app.extensions["idp.metrics"]
    app.wsgi_app = StaticDocuments(  # type: ignore[method-assign]
        app.wsgi_app, routes, headers, metrics.request_done)
