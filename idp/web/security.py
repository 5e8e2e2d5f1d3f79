"""Security headers on every response (RFC 9700 §4.16 clickjacking, OWASP headers).

Pages may not be framed (CSP ``frame-ancestors 'none'`` + X-Frame-Options), scripts and styles
come only from ourselves, nothing is cached that could hold personal data, and HSTS is sent in
production. ``form-action`` is left out on purpose: browsers apply it to the redirect that follows
a form post, which would block the redirect back to the relying party after consent.
"""

from __future__ import annotations

from flask import Flask, Response, request

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def install(app: Flask, *, production: bool) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint not in ("oidc.discovery", "oidc.jwks", "static"):
            headers.setdefault("Cache-Control", "no-store")
            headers.setdefault("Pragma", "no-cache")
        return response
