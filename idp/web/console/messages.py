"""The console's words: roles, permissions, states, and what each domain error means, in the
page's language.

Domain errors carry a stable ``code`` and an English ``message``: a known code gets its
translated sentence; any other error shows the service's message after a translated lead-in,
so staff always learn what went wrong (the message never holds a secret or a full ID number).
"""

from __future__ import annotations

from flask_babel import gettext

from idp.errors import Conflict, IdpError, NotFound, RateLimited
from idp.web.messages import error_message


def N_(text: str) -> str:  # noqa: N802 — marks a string for extraction, translated later
    return text


def _(text: str, **kwargs: object) -> str:
    return str(gettext(text, **kwargs))


ROLES = {
    "security_admin": N_("Security administrator"),
    "auditor": N_("Auditor"),
    "helpdesk": N_("Help desk"),
}

PERMISSIONS = {
    "keys:read": N_("see the signing keys"),
    "keys:manage": N_("rotate, retire and revoke signing keys"),
    "clients:read": N_("see the registered clients"),
    "clients:manage": N_("approve, change and delete clients"),
    "citizens:read": N_("look up a citizen"),
    "citizens:lock": N_("lock a citizen's account"),
    "citizens:unlock": N_("unlock a citizen's account"),
    "citizens:reset-factors": N_("reset a citizen's second factors"),
    "sessions:read": N_("see a citizen's sessions"),
    "sessions:end": N_("end a citizen's sessions"),
    "audit:read": N_("read and verify the audit trail"),
    "audit:anchor": N_("anchor the audit trail"),
    "staff:manage": N_("manage staff accounts"),
}

NAV = {
    "home": N_("Overview"),
    "keys": N_("Signing keys"),
    "clients": N_("Clients"),
    "initial_tokens": N_("Registration tokens"),
    "citizens": N_("Citizens"),
    "audit": N_("Audit trail"),
    "staff": N_("Staff"),
    "tokens": N_("My API tokens"),
}

STATES = {
    "next": N_("next (published, not signing yet)"),
    "active": N_("active"),
    "retired": N_("retired (still published)"),
    "removed": N_("removed"),
    "revoked": N_("revoked"),
    "pending": N_("waiting for approval"),
    "suspended": N_("suspended"),
    "locked": N_("locked"),
    "disabled": N_("disabled"),
}


def role_label(role: str) -> str:
    text = ROLES.get(role)
    return _(text) if text else role


def permission_label(permission: str | None) -> str | None:
    if permission is None:
        return None
    text = PERMISSIONS.get(permission)
    return _(text) if text else permission


def nav_label(key: str) -> str:
    return _(NAV[key])


def state_label(state: str) -> str:
    text = STATES.get(state)
    return _(text) if text else state


def _known(code: str) -> str | None:
    messages = {
        "staff.login_failed": N_("The username, password or code is not correct."),
        "forbidden": N_("Your role may not do this. Nothing was changed."),
        "citizen.not_found": N_("No citizen has that ID number, phone number or account ID."),
        "account.not_found": N_("No citizen has that account ID."),
        "session.not_found": N_("That session is not one of this citizen's, or it has already "
                                "ended. Nothing was ended."),
        "citizen.verification": N_("Say how the citizen's identity was checked at the counter "
                                   "(4 to 200 characters, for example the ticket number). "
                                   "Nothing was reset."),
        "client.not_found": N_("There is no client with that client ID."),
        "client.not_pending": N_("This client is not waiting for approval: it is already "
                                 "active or suspended. Nothing was changed."),
        "client.pending": N_("This registration waits for approval: approve it (or delete it) "
                             "first. Nothing was changed."),
        "client.public": N_("This is a public client: it has no secret to rotate."),
        "client.name": N_("The client name must be 1 to 200 characters."),
        "client.exists": N_("A client with that client ID exists already."),
        "staff.username": N_("The username must be 3 to 64 characters: lower-case letters, "
                             "digits, '.', '_' or '-', starting with a letter."),
        "staff.username_taken": N_("A staff member with that username exists already."),
        "staff.display_name": N_("The display name must be 1 to 200 characters."),
        "staff.role": N_("Choose one of the roles."),
        "staff.not_found": N_("There is no such staff member."),
        "staff.token_name": N_("The token name must be 1 to 100 characters."),
        "staff.token_not_found": N_("That API token is not yours, or it was already revoked."),
        "password.too_short": N_("The password is too short (at least 12 characters for "
                                 "staff)."),
        "password.too_long": N_("The password must be at most 128 characters."),
        "password.common": N_("This password is too easy to guess. Choose another."),
        "password.personal": N_("The password must not contain the username."),
        "initial_token.label": N_("The label must be 1 to 200 characters."),
        "initial_token.ttl": N_("A registration token is valid for 1 to 90 days."),
        "initial_token.uses": N_("A registration token serves 1 to 100 registrations."),
        "initial_token.not_found": N_("There is no such registration token."),
        "console.confirm": N_("To confirm, type the identifier exactly as shown. Nothing was "
                              "changed."),
        "console.reason": N_("Give a reason (1 to 200 characters). Nothing was changed."),
        "console.number": N_("Enter a whole number in the range shown. Nothing was changed."),
        "console.time": N_("Enter times as 2026-11-26 08:00 (China Standard Time)."),
        "console.self": N_("You cannot change your own staff account here: ask another "
                           "security administrator. Nothing was changed."),
        "console.search": N_("Enter an ID number, a mobile phone number or an account ID."),
        "console.characters": N_("The input contains control characters, which cannot be "
                                 "used. Nothing was changed."),
    }
    text = messages.get(code)
    return _(text) if text else None


def describe(exc: IdpError) -> str:
    """What the error means for the staff member, in the page's language."""
    if exc.code.startswith("id_number."):
        return error_message(exc)
    if isinstance(exc, RateLimited):
        minutes = max(1, (exc.retry_after + 59) // 60)
        return _("Too many failed sign-ins for this staff account. Try again in %(m)d "
                 "minutes.", m=minutes)
    known = _known(exc.code)
    if known:
        return known
    if isinstance(exc, NotFound):
        return _("Not found: %(detail)s", detail=exc.message)
    if isinstance(exc, Conflict):
        return _("Not possible now: %(detail)s. Nothing was changed.", detail=exc.message)
    return _("The action was not completed: %(detail)s", detail=exc.message)
