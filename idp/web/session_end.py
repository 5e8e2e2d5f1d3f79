"""Signing this browser out: what both the account page's "Sign out" button and the OpenID
Connect ``end_session_endpoint`` do.

The session itself is ended by ``services().session_ending`` (idp.sessions.ending: ends it in
the ephemeral store, revokes the tokens issued under its ``sid``, audits
``session:end:success``); this adds the browser's part, clearing the Flask-Login cookie, and
then telling the portals in this browser (Front-Channel Logout 1.0 §4, the rules in
``idp.oidc.frontchannel_logout``): :func:`frontchannel_page` is the page that loads each
portal's ``frontchannel_logout_uri`` in a hidden iframe, then goes on where the sign-out was
going.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_login import current_user, logout_user

from idp.oidc.frontchannel_logout import logout_frames
from idp.sessions.service import SsoSession
from idp.web.principal import services
from idp.web.security import allow_frames


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


def frontchannel_page(ended: SsoSession | None, continue_to: str) -> str | None:
    """The "signing you out of N portals" page, which then goes on to ``continue_to`` (an
    address already validated); None when no portal of the ended session registered a
    ``frontchannel_logout_uri`` (the caller goes on at once, as before)."""
    svc = services()
    frames = logout_frames(ended, svc.clients, issuer=svc.settings.issuer)
    if not frames:
        return None
    allow_frames(frame.origin for frame in frames)
    return render_template("logout_frontchannel.html", frames=frames, continue_to=continue_to)


def back_to_sign_in(ended: SsoSession | None) -> Any:
    """After this browser signed out on the IdP's own pages (the Sign out button, ending this
    session in the account centre): the front-channel page if portals must be told, which then
    goes on to the sign-in page; else straight to the sign-in page."""
    page = frontchannel_page(ended, url_for("auth.login"))
    return page if page is not None else redirect(url_for("auth.login"))
