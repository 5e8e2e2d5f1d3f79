"""The ``claims`` authorization request parameter (OpenID Connect Core 1.0 §5.5).

A JSON object with optional ``userinfo`` and ``id_token`` members, each an object naming the
requested claims (value ``null`` or an object with ``essential`` / ``value`` / ``values``). We
parse it once at the authorization endpoint (a malformed value is ``invalid_request``), keep
the raw text with the authorization code, and read it again when the tokens are issued.

Only what this provider acts on is looked at by callers: ``verified_claims`` (OpenID Connect
for Identity Assurance 1.0, :mod:`idp.oidc.verified_claims`) and ``id_number``
(:mod:`idp.oidc.id_card`). Other requested claims are ignored, as §5.5 allows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_LENGTH = 4096  # characters: the request travels in a URL and in the access token

MEMBERS = ("userinfo", "id_token")


class MalformedClaimsRequest(ValueError):
    """The ``claims`` parameter is not a JSON object of the §5.5 shape."""


@dataclass(frozen=True)
class ClaimsRequest:
    userinfo: dict[str, Any] = field(default_factory=dict)
    id_token: dict[str, Any] = field(default_factory=dict)

    def member(self, name: str) -> dict[str, Any]:
        return self.userinfo if name == "userinfo" else self.id_token


EMPTY = ClaimsRequest()


def parse_claims_request(raw: str | None) -> ClaimsRequest:
    """Parse the parameter; raise :class:`MalformedClaimsRequest` with a short reason."""
    if raw is None or raw == "":
        return EMPTY
    if len(raw) > MAX_LENGTH:
        raise MalformedClaimsRequest(f"claims must be at most {MAX_LENGTH} characters")
    try:
        value = json.loads(raw)
    except ValueError:
        raise MalformedClaimsRequest("claims must be a JSON object") from None
    if not isinstance(value, dict):
        raise MalformedClaimsRequest("claims must be a JSON object")
    members: dict[str, dict[str, Any]] = {}
    for name in MEMBERS:
        member = value.get(name)
        if member is None:
            continue
        if not isinstance(member, dict):
            raise MalformedClaimsRequest(f"claims.{name} must be a JSON object")
        for claim, spec in member.items():
            if spec is not None and not isinstance(spec, dict):
                raise MalformedClaimsRequest(
                    f"claims.{name} members must be null or JSON objects")
            if claim == "verified_claims" and spec is not None:
                _check_verified_claims_request(name, spec)
        members[name] = member
    return ClaimsRequest(**members)


def _check_verified_claims_request(member: str, spec: dict[str, Any]) -> None:
    """Identity Assurance 1.0 §5: ``verification`` and ``claims`` are objects, when present."""
    for key in ("verification", "claims"):
        if key in spec and spec[key] is not None and not isinstance(spec[key], dict):
            raise MalformedClaimsRequest(
                f"claims.{member}.verified_claims.{key} must be a JSON object")


def from_code(stored: dict[str, Any] | None) -> ClaimsRequest:
    """The request kept with an authorization code (``{"raw": text}``); already validated at
    the authorization endpoint, so a stored value that no longer parses counts as none."""
    raw = (stored or {}).get("raw")
    try:
        return parse_claims_request(raw if isinstance(raw, str) else None)
    except MalformedClaimsRequest:
        return EMPTY
