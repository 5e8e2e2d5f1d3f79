"""The Flask-Login user: a citizen's account plus the SSO session it signed in with.

Flask-Login stores only ``get_id()`` — the SSO session id — in the signed cookie; every request
loads the session from the ephemeral store, so ending it server-side signs the browser out.
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
        return self.principal.session.sid

    @property
    def account(self):  # type: ignore[no-untyped-def]
        return self.principal.account


def services() -> Services:
    found: Services = current_app.extensions["idp.services"]
    return found


def load_user(sid: str) -> CitizenUser | None:
    svc = services()
    session = svc.sso.get(sid)
    if session is None:
        return None
    account = svc.accounts.get(session.account_id)
    if account is None or account.status != "active":
        return None
    return CitizenUser(Principal(account=account, session=session))
