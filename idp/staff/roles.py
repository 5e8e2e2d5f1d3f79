"""Staff roles and what each may do (issue 6 §1): the one place RBAC is decided.

The console, the JSON admin API and the tests all ask :func:`require` (or :func:`allowed`);
nothing else compares role names. Permissions are ``area:verb`` strings; a role is a fixed set of
them. ``security_admin`` runs keys, clients, sessions and accounts (and reads the audit trail);
``auditor`` only reads and verifies the audit trail; ``helpdesk`` looks a citizen up by ID number
or phone, unlocks the account and resets its second factors after a check at the counter.
"""

from __future__ import annotations

from idp.errors import Forbidden, ValidationError

KEYS_READ = "keys:read"
KEYS_MANAGE = "keys:manage"
CLIENTS_READ = "clients:read"
CLIENTS_MANAGE = "clients:manage"
CITIZENS_READ = "citizens:read"
CITIZENS_LOCK = "citizens:lock"
CITIZENS_UNLOCK = "citizens:unlock"
CITIZENS_RESET_FACTORS = "citizens:reset-factors"
SESSIONS_READ = "sessions:read"
SESSIONS_END = "sessions:end"
AUDIT_READ = "audit:read"
AUDIT_ANCHOR = "audit:anchor"
STAFF_MANAGE = "staff:manage"

SECURITY_ADMIN = "security_admin"
AUDITOR = "auditor"
HELPDESK = "helpdesk"

ROLES: dict[str, frozenset[str]] = {
    SECURITY_ADMIN: frozenset({
        KEYS_READ, KEYS_MANAGE, CLIENTS_READ, CLIENTS_MANAGE, CITIZENS_READ, CITIZENS_LOCK,
        CITIZENS_UNLOCK, CITIZENS_RESET_FACTORS, SESSIONS_READ, SESSIONS_END, AUDIT_READ,
        AUDIT_ANCHOR, STAFF_MANAGE}),
    AUDITOR: frozenset({AUDIT_READ}),
    HELPDESK: frozenset({CITIZENS_READ, CITIZENS_UNLOCK, CITIZENS_RESET_FACTORS}),
}

ROLE_NAMES = tuple(ROLES)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLE_NAMES)}", code="staff.role")
    return role


def allowed(role: str, permission: str) -> bool:
    return permission in ROLES.get(role, frozenset())


def require(role: str, permission: str) -> None:
    """Raise :class:`Forbidden` unless ``role`` has ``permission``."""
    if not allowed(role, permission):
        raise Forbidden(f"the {role} role may not do this ({permission})",
                        code="forbidden")
