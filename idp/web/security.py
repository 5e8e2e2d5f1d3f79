"""Security headers on every response (RFC 9700 §4.16 clickjacking, OWASP headers).

Pages may not be framed (CSP ``frame-ancestors 'none'`` + X-Frame-Options), scripts and styles
come only from ourselves, nothing is cached that could hold personal data, and HSTS is sent in
production. ``form-action`` is left out on purpose: browsers apply it to the redirect that follows
a form post, which would block the redirect back to the relying party after consent.

Frames: the default policy lets a page frame only ourselves (``default-src 'self'``). A view
that must frame other origins — the front-channel logout page, which loads each portal's
``frontchannel_logout_uri`` — calls :func:`allow_frames` for its own response only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import Flask, Response, g, request

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")  # scheme://host[:port], nothing more


def allow_frames(origins: Iterable[str]) -> None:
    """Let this response's page frame exactly these origins (CSP ``frame-src``)."""
    listed = tuple(dict.fromkeys(origins))
    bad = [o for o in listed if not _ORIGIN.match(o)]
    if bad:
        raise ValueError(f"not an origin: {bad[0]!r}")
    g.csp_frame_src = listed


def _policy() -> str:
    frames: tuple[str, ...] = g.get("csp_frame_src", ())
    return f"{CSP}; frame-src {' '.join(frames)}" if frames else CSP


def fixed_headers(*, production: bool) -> list[tuple[str, str]]:
    """The headers every response carries whatever it is (CSP aside, which a view may widen)."""
    headers = [
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ]
    if production:
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return headers


def install(app: Flask, *, production: bool) -> None:
    fixed = fixed_headers(production=production)

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", _policy())
        for name, value in fixed:
            headers.setdefault(name, value)
        if request.endpoint not in ("oidc.discovery", "oidc.jwks", "static"):
            headers.setdefault("Cache-Control", "no-store")
            headers.setdefault("Pragma", "no-cache")
        return response
