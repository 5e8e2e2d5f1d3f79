"""The Flask-Login user: a citizen's account plus the SSO session it signed in with.

Flask-Login stores only ``get_id()`` — the SSO session id and the session's browser nonce,
``<sid>.<browser>`` — in the signed cookie; every request loads the session from the ephemeral
store, so ending it server-side signs the browser out, and so does the browser idling out or
reaching its absolute limit (``[session]``, :meth:`SessionService.browser_session`, which also
records the activity). Only the browser that signed in to the session last is signed in: one that
joined it by scanning with the app takes it over.
"""

from __future__ import annotations

from flask import current_app
from flask_login import UserMixin

from idp.container import Services
from idp.oidc.models import Principal


class CitizenUser(UserMixin):  # type: ignore[misc]
    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def get_id(self) -> str:
        session = self.principal.session
        return f"{session.sid}.{session.browser}" if session.browser else session.sid

    @property
    def account(self):  # type: ignore[no-untyped-def]
        return self.principal.account


def services() -> Services:
    found: Services = current_app.extensions["idp.services"]
    return found


def load_user(user_id: str) -> CitizenUser | None:
    svc = services()
    sid, _, browser = user_id.partition(".")
    session = svc.sso.browser_session(sid, browser)
    if session is None:
        return None
    account = svc.accounts.get(session.account_id)
    if account is None or account.status != "active":
        return None
    return CitizenUser(Principal(account=account, session=session))
