"""Admin API: one citizen — find (by ID number or phone, in the body), read (masked), sessions
(list, end one or all), lock/unlock, reset second factors after an in-person check."""

from __future__ import annotations

from flask import Response

from idp.errors import NotFound
from idp.staff import roles
from idp.store.models import Account
from idp.web.admin_api import actor, api, body, needs, optional_body, reply
from idp.web.principal import services


def _citizen(sub: str) -> Account:
    account = services().accounts.get(sub)
    if account is None:
        raise NotFound("no citizen with that account id", code="citizen.not_found")
    return account


@api.post("/citizens/search")
@needs(roles.CITIZENS_READ)
def citizens_search() -> Response:
    desk, who = services().desk, actor()
    account = desk.find(body("CitizenSearch")["query"], who)
    return reply(desk.view(account, who).as_dict())


@api.get("/citizens/<sub>")
@needs(roles.CITIZENS_READ)
def citizens_get(sub: str) -> Response:
    return reply(services().desk.view(_citizen(sub), actor()).as_dict())


@api.get("/citizens/<sub>/sessions")
@needs(roles.SESSIONS_READ)
def citizens_sessions(sub: str) -> Response:
    return reply({"items": services().desk.sessions(_citizen(sub), actor())})


@api.delete("/citizens/<sub>/sessions")
@needs(roles.SESSIONS_END)
def citizens_end_all(sub: str) -> Response:
    return reply({"ended": services().desk.end_sessions(_citizen(sub), actor())})


@api.delete("/citizens/<sub>/sessions/<ref>")
@needs(roles.SESSIONS_END)
def citizens_end_one(sub: str, ref: str) -> Response:
    return reply({"ended": services().desk.end_sessions(_citizen(sub), actor(), ref=ref)})


def _status(sub: str, status: str) -> Response:
    reason = optional_body("Reason").get("reason", "")
    desk, who = services().desk, actor()
    account = desk.set_status(_citizen(sub), status, who, reason=reason)
    return reply(desk.view(account, who).as_dict())


@api.post("/citizens/<sub>/lock")
@needs(roles.CITIZENS_LOCK)
def citizens_lock(sub: str) -> Response:
    return _status(sub, "locked")


@api.post("/citizens/<sub>/unlock")
@needs(roles.CITIZENS_UNLOCK)
def citizens_unlock(sub: str) -> Response:
    return _status(sub, "active")


@api.post("/citizens/<sub>/reset-factors")
@needs(roles.CITIZENS_RESET_FACTORS)
def citizens_reset_factors(sub: str) -> Response:
    verification = body("Verification")["verification"]
    removed = services().desk.reset_factors(_citizen(sub), actor(), verification=verification)
    return reply({"sub": sub, "removed": removed})
