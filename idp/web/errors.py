"""Error pages: every failure a person can cause gets a page in Chinese and English that says
what to do next — never a traceback. JSON endpoints answer in JSON instead."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("idp.web")

JSON_ENDPOINTS = ("/token", "/revoke", "/introspect", "/userinfo", "/jwks.json", "/.well-known/",
                  "/device_authorization", "/api/device", "/api/qr/", "/qr/start", "/qr/status",
                  "/qr/complete", "/admin/api/", "/healthz", "/readyz", "/metrics",
                  "/register/")


def _wants_json() -> bool:
    return request.path.startswith(JSON_ENDPOINTS)


def error_page(status: int, title: str, message: str, *, code: str | None = None
               ) -> tuple[str, int]:
    return render_template("error.html", title=title, message=message, code=code), status


def install(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> tuple[str, int]:
        return error_page(400, _("The form has expired"),
                          _("For your security the form expired or was sent from another page. "
                            "Go back, reload the page and try again."), code="csrf")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[str, int] | Response:
        status = exc.code or 500
        if _wants_json():
            body = {"error": "invalid_request", "error_description": exc.description or exc.name}
            return Response(json.dumps(body), status=status, content_type="application/json")
        if status == 404:
            return error_page(404, _("Page not found"),
                              _("The address is not a page of this service. Check the link or "
                                "start again from the portal."), code="not_found")
        if status == 405:
            return error_page(405, _("Not allowed"), _("This page cannot be used that way."))
        if status == 413:
            return error_page(413, _("Request too large"), _("The request was too large."))
        return error_page(status, _("Request not understood"),
                          _("The request could not be processed. Go back and try again."))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[str, int] | Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return Response('{"error":"server_error","error_description":'
                            '"an unexpected error occurred; try again later"}',
                            status=500, content_type="application/json")
        return error_page(500, _("Something went wrong"),
                          _("An unexpected error occurred. Please try again later; if it keeps "
                            "happening, contact the service hotline."), code="server_error")
