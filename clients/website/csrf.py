"""CSRF protection for the portal's POST forms: one random token per browser session
(the synchroniser-token pattern, OWASP CSRF Prevention Cheat Sheet), sent as ``csrf_token``.

Together with ``SameSite=Lax`` cookies this is enough for a demo; no extra dependency needed.

``/backchannel-logout`` is exempt: the IdP calls it server to server, without a browser, a
cookie or a form token; the signed logout token it carries is its proof of origin.
"""

from __future__ import annotations

import hmac
import secrets

from flask import request, session

from .errors import PortalError

SESSION_KEY = "csrf_token"
FORM_FIELD = "csrf_token"
EXEMPT_ENDPOINTS = frozenset({"portal.backchannel_logout"})


def csrf_token() -> str:
    """The token of this session, created on first use (templates call it)."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def check_csrf() -> None:
    """``before_request`` hook: every POST must echo the session's token."""
    if request.method != "POST" or request.endpoint in EXEMPT_ENDPOINTS:
        return
    expected = session.get(SESSION_KEY)
    sent = request.form.get(FORM_FIELD, "")
    if not (isinstance(expected, str) and hmac.compare_digest(sent.encode(), expected.encode())):
        raise PortalError(
            "csrf",
            "This form has expired or did not come from this portal. Go back and try again.",
            "表单已失效或并非来自本门户，请返回后重试。",
        )
