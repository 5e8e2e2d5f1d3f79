"""Signing this browser out: what both the account page's "Sign out" button and the OpenID
Connect ``end_session_endpoint`` do.

The session itself is ended by ``services().session_ending`` (idp.sessions.ending: ends it in
the ephemeral store, revokes the tokens issued under its ``sid``, audits
``session:end:success``); this adds the browser's part, clearing the Flask-Login cookie.
"""

from __future__ import annotations

from flask import request
from flask_login import current_user, logout_user

from idp.sessions.service import SsoSession
from idp.web.principal import services


def end_browser_session(*, by: str, client_id: str | None = None) -> SsoSession | None:
    """End this browser's SSO session, if any. ``by``: who asked (``citizen``, ``rp``);
    ``client_id``: the relying party that asked, when one did. Returns the ended session."""
    if not current_user.is_authenticated:
        return None
    sid = current_user.principal.session.sid
    ended = services().session_ending.end(sid, by=by, client_id=client_id,
                                          ip=request.remote_addr)
    logout_user()
    return ended
