"""Typed errors raised by the domain services.

Domain services never import Flask: they raise these, and the web, OIDC and CLI layers turn
them into pages, OAuth error responses or a one-line CLI message. Every error carries a stable
machine ``code`` and a human ``message`` (English; pages translate by ``code``).
"""

from __future__ import annotations


class IdpError(Exception):
    """Base class: a clear, expected failure caused by input or state, never a bug."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class ConfigError(IdpError):
    """Settings are missing, malformed or unsafe for the chosen mode."""

    code = "config"


class ValidationError(IdpError):
    """Input failed a rule; ``code`` names the rule (e.g. ``id_number.check_digit``)."""

    code = "invalid"


class InvalidIdNumber(ValidationError):
    """A citizen ID number failed one rule: length, characters, region, birth_date, check_digit."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message, code=f"id_number.{rule}")
        self.rule = rule


class RegistryMismatch(ValidationError):
    """The real name does not match the population registry for this ID number."""

    code = "registry.mismatch"


class Conflict(IdpError):
    """The thing already exists (duplicate ID number, phone, client name...)."""

    code = "conflict"


class NotFound(IdpError):
    code = "not_found"


class ClientGone(IdpError):
    """The client was deleted while a node still had it cached: nothing may be issued to it."""

    code = "client.gone"


class Forbidden(IdpError):
    """The staff member's role does not allow this action (issue 6 RBAC)."""

    code = "forbidden"


class AuthenticationFailed(IdpError):
    """Wrong credentials. The message never says which part was wrong."""

    code = "auth.failed"


class RateLimited(IdpError):
    """Too many attempts; ``retry_after`` seconds until the window resets."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class AccountLocked(IdpError):
    code = "account.locked"


class KeyMaterialError(IdpError):
    """Key material missing or unusable."""

    code = "keys"
