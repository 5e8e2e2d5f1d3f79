"""Error pages and response headers of the portal.

Every failure becomes the bilingual error page, never a traceback: :class:`PortalError` with
its own status, other HTTP errors (404, 405) with theirs, anything unexpected as a plain 500.
"""

from __future__ import annotations

from flask import current_app, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from .errors import PortalError

_HTTP_ZH = {404: "页面不存在。", 405: "不支持该请求方法。"}


def render_error(error: PortalError) -> tuple[str, int]:
    description = getattr(error, "description", "")
    return render_template("error.html", error=error, description=description), error.status


def render_http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    zh = _HTTP_ZH.get(status, "请求无效。")
    return render_error(PortalError(f"http_{status}", f"{error.name}.", zh, status=status))


def render_unexpected(error: Exception) -> tuple[str, int]:
    current_app.logger.exception("unexpected error in %s", request.path)
    return render_error(
        PortalError(
            "internal_error",
            "Something went wrong in the portal. Please try again.",
            "门户出现内部错误，请重试。",
            status=500,
        )
    )


def security_headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # pages carry personal data
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"  # the callback URL carries the code
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
    )
    return response
