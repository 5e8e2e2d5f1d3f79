"""The browser's secret that binds scan-to-login tickets to it (``idp.sessions.qr``).

A random value kept in the Flask session (a signed cookie). It is made when the sign-in page is
rendered, not when the page's script starts a ticket: the cookie session is rewritten whole by
any response that touches it, and a request the browser sends in parallel with ``/qr/start``
(the favicon, another tab) could otherwise answer last with a cookie that lacks the secret.
"""

from __future__ import annotations

import secrets

from flask import session

KEY = "qr_browser"


def browser_secret() -> str:
    """This browser's binding secret, made on first use."""
    value = session.get(KEY)
    if not isinstance(value, str) or len(value) < 32:
        value = session[KEY] = secrets.token_urlsafe(32)
    return value


def current_secret() -> str | None:
    """The secret if this browser has one (never makes one: for checking, not starting)."""
    value = session.get(KEY)
    return value if isinstance(value, str) else None
