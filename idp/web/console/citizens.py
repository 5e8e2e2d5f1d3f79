"""One citizen at the desk (issue 6 §5), through :class:`idp.staff.CitizenDesk`: find by ID
number or mobile phone number, see the account (ID number and phone masked), the sessions on
every channel (end one or all), recent sign-in failures, lock or unlock with a reason, and reset
the second factors after the identity was checked in person.

The search is a POST, so an ID number never appears in a URL, a browser history or an access
log; the citizen's page is addressed by the account id (``sub``). The number typed is never
shown back. The desk checks the role again for every call.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from idp.accounts.services import looks_like_phone
from idp.errors import InvalidIdNumber, NotFound, ValidationError
from idp.identity import parse_id_number
from idp.staff import roles as rbac
from idp.store.models import Account
from idp.web.account_labels import amr_labels, channel_label
from idp.web.console import bp
from idp.web.console.access import actor, may, needs
from idp.web.console.messages import _, describe
from idp.web.console.outcome import act, text
from idp.web.principal import services

_NUMBER_LIKE = re.compile(r"[0-9]{6,18}|[0-9]{17}[Xx]")


def _search_page(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    return render_template("console/citizens.html", error=error), status


@bp.get("/citizens")
@needs(rbac.CITIZENS_READ)
def citizens() -> ResponseReturnValue:
    return _search_page()


@bp.post("/citizens/search")
@needs(rbac.CITIZENS_READ)
def citizens_search() -> ResponseReturnValue:
    try:
        query = text("query", limit=64, required=True, code="console.search")
        if _NUMBER_LIKE.fullmatch(query) and not looks_like_phone(query):
            parse_id_number(query)  # a mistyped number: say which rule it breaks
        account = services().desk.find(query, actor())
    except InvalidIdNumber as exc:
        return _search_page(describe(exc), 400)
    except NotFound as exc:
        return _search_page(describe(exc), 404)
    except ValidationError as exc:
        return _search_page(describe(exc), 400)
    return redirect(url_for("console.citizen", sub=account.id))


def _account(sub: str) -> Account:
    account = services().accounts.get(sub) if 0 < len(sub) <= 64 else None
    if account is None:
        raise NotFound("no citizen with that account id", code="account.not_found")
    return account


def _sessions(account: Account) -> list[dict[str, Any]]:
    clients = services().clients
    rows = []
    for session in services().desk.sessions(account, actor()):
        portals = []
        for client_id, channel in session["clients"].items():
            record = clients.get(client_id)
            portals.append({"name": record.name if record else client_id,
                            "channel": channel_label(channel)})
        rows.append({**session, "methods": amr_labels(session["amr"]), "portals": portals})
    return rows


@bp.get("/citizens/<sub>")
@needs(rbac.CITIZENS_READ)
def citizen(sub: str) -> ResponseReturnValue:
    account = _account(sub)
    view = services().desk.view(account, actor())
    sessions = _sessions(account) if may(rbac.SESSIONS_READ) else None
    return render_template("console/citizen.html", citizen=view.as_dict(), sessions=sessions)


def _change(sub: str, run: Callable[[Account], str]) -> ResponseReturnValue:
    return act(lambda: run(_account(sub)), url_for("console.citizen", sub=sub))


@bp.post("/citizens/<sub>/sessions/end-all")
@needs(rbac.SESSIONS_END)
def citizen_end_all(sub: str) -> ResponseReturnValue:
    def run(account: Account) -> str:
        ended = services().desk.end_sessions(account, actor())
        return _("%(num)d sessions were ended: their tokens are revoked on every channel and "
                 "the portals are told.", num=len(ended))
    return _change(sub, run)


@bp.post("/citizens/<sub>/sessions/<ref>/end")
@needs(rbac.SESSIONS_END)
def citizen_end_one(sub: str, ref: str) -> ResponseReturnValue:
    def run(account: Account) -> str:
        services().desk.end_sessions(account, actor(), ref=ref[:64])
        return _("The session was ended: its tokens are revoked on every channel and the "
                 "portals are told.")
    return _change(sub, run)


@bp.post("/citizens/<sub>/lock")
@needs(rbac.CITIZENS_LOCK)
def citizen_lock(sub: str) -> ResponseReturnValue:
    def run(account: Account) -> str:
        reason = text("reason", required=True)
        services().desk.set_status(account, "locked", actor(), reason=reason)
        return _("The account is locked and every session of it was ended.")
    return _change(sub, run)


@bp.post("/citizens/<sub>/unlock")
@needs(rbac.CITIZENS_UNLOCK)
def citizen_unlock(sub: str) -> ResponseReturnValue:
    def run(account: Account) -> str:
        reason = text("reason", required=True)
        services().desk.set_status(account, "active", actor(), reason=reason)
        return _("The account is unlocked: the citizen can sign in again.")
    return _change(sub, run)


@bp.post("/citizens/<sub>/reset-factors")
@needs(rbac.CITIZENS_RESET_FACTORS)
def citizen_reset_factors(sub: str) -> ResponseReturnValue:
    def run(account: Account) -> str:
        removed = services().desk.reset_factors(account, actor(),
                                                verification=text("verification", limit=400))
        return _("The second factors were reset (authenticator app: %(totp)d, passkeys: "
                 "%(passkeys)d). The citizen signs in with the password and can set them up "
                 "again.", totp=removed["totp"], passkeys=removed["passkeys"])
    return _change(sub, run)

