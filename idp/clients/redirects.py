"""Redirect URI rules at registration (RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §4.1).

At the authorization endpoint redirect URIs are compared as exact strings; here we refuse URIs
that could never be safe: fragments, wildcards, ``javascript:``/``data:`` schemes, plain http
to anything but loopback, and for native apps only loopback, claimed https or a private-use
scheme in reverse-domain form.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from idp.errors import ValidationError

LOOPBACK = {"127.0.0.1", "[::1]", "localhost", "::1"}
_FORBIDDEN_SCHEMES = {"javascript", "data", "vbscript", "file", "about", "blob"}
_PRIVATE_SCHEME = re.compile(r"^[a-z][a-z0-9+\-]*(\.[a-z0-9+\-]+)+$")


def _bad(uri: str, why: str) -> ValidationError:
    return ValidationError(f"redirect URI {uri!r} is not allowed: {why}",
                           code="client.redirect_uri")


def check_redirect_uri(uri: str, *, native: bool, allow_http_loopback: bool = True) -> str:
    uri = uri.strip()
    if not uri or len(uri) > 500:
        raise _bad(uri, "it must be 1–500 characters")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if not scheme:
        raise _bad(uri, "it must be an absolute URI")
    if parts.fragment or "#" in uri:
        raise _bad(uri, "it must not contain a fragment")
    if "*" in uri:
        raise _bad(uri, "wildcards are not allowed; register each URI exactly")
    if scheme in _FORBIDDEN_SCHEMES:
        raise _bad(uri, f"the {scheme}: scheme is never allowed")
    if scheme == "https":
        if not parts.hostname:
            raise _bad(uri, "it must name a host")
        return uri
    if scheme == "http":
        if parts.hostname in LOOPBACK and (native or allow_http_loopback):
            return uri
        raise _bad(uri, "use https (plain http is allowed only for loopback addresses)")
    if native and _PRIVATE_SCHEME.match(scheme):
        return uri
    if native:
        raise _bad(uri, "native apps use a loopback URI, a claimed https URI or a private-use "
                        "scheme in reverse-domain form such as cn.gov.example.app:/callback")
    raise _bad(uri, "use https")
