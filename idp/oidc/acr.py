"""The assurance level an authorization request needs (docs/assurance.md).

Three sources, combined by :func:`needed`:

* the client's channel policy, ``[channels.*] min_acr`` — required;
* ``acr_values`` (OIDC Core §3.1.2.1): space-separated, in order of preference, *voluntary*:
  we aim for the lowest listed level that a sign-in here can reach, and issue what was achieved
  when the citizen cannot reach it;
* the ``claims`` parameter (OIDC Core §5.5), member ``id_token.acr``: with ``"essential": true``
  it is required (§5.5.1.1: an OP that cannot satisfy it answers
  ``unmet_authentication_requirements``); without, it counts as voluntary like ``acr_values``.
  Only ``acr`` is acted on here; other requested claims are left to the claims release
  (``idp.oidc.claims``). The parameter is parsed by :mod:`idp.oidc.claims_request`; a
  malformed value (also a malformed ``acr`` member) is an ``invalid_request`` (§5.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idp.config.settings import ACR_LEVELS
from idp.oidc.claims_request import MalformedClaimsRequest, parse_claims_request

REACHABLE = ("L1", "L2")  # levels a sign-in here can reach today (L3, L4: issue 5, later)
# level → the second factors (RFC 8176 amr) that reach it from the level below: a TOTP or
# recovery code ("otp"), or a code sent to the account's phone ("sms"; every account has one,
# so L2 is in reach of every citizen unless [sms] backend = "none").
STEP_UP = {"L2": ("otp", "sms")}


class MalformedClaims(ValueError):
    """The ``claims`` parameter is not a JSON object of the shape OIDC Core §5.5 defines."""


@dataclass(frozen=True)
class AcrNeed:
    required: str  # must be met: the channel's min_acr or an essential acr claim
    wanted: str  # what to aim for (≥ required): adds the voluntary requests
    unreachable: str | None = None  # why a required level can never be met here, if so


def rank(level: str | None) -> int:
    return ACR_LEVELS.index(level) if level in ACR_LEVELS else -1


def _lowest_reachable(values: list[str]) -> str | None:
    reachable = [v for v in values if v in REACHABLE]
    return min(reachable, key=rank) if reachable else None


def _acr_claim(raw: str | None) -> dict[str, Any] | None:
    """``claims.id_token.acr`` (None when absent or null); :class:`MalformedClaims`."""
    try:
        acr = parse_claims_request(raw).id_token.get("acr")
    except MalformedClaimsRequest as error:
        raise MalformedClaims(str(error)) from None
    if acr is None:
        return None
    if not isinstance(acr, dict):
        raise MalformedClaims("claims.id_token.acr must be null or a JSON object")
    if "essential" in acr and not isinstance(acr["essential"], bool):
        raise MalformedClaims("claims.id_token.acr.essential must be true or false")
    if "value" in acr and not isinstance(acr["value"], str):
        raise MalformedClaims("claims.id_token.acr.value must be a string")
    values = acr.get("values", [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise MalformedClaims("claims.id_token.acr.values must be an array of strings")
    return acr


def needed(params: dict[str, str], channel_min: str) -> AcrNeed:
    """The level the request needs; :class:`MalformedClaims` for a bad ``claims`` value."""
    required = channel_min
    voluntary: list[str] = (params.get("acr_values") or "").split()
    unreachable = None
    acr = _acr_claim(params.get("claims"))
    if acr is not None:
        values = [acr["value"]] if "value" in acr else list(acr.get("values", []))
        if acr.get("essential") and values:
            level = _lowest_reachable(values)
            if level is None:
                unreachable = f"none of the essential acr values {values} can be reached here"
            elif rank(level) > rank(required):
                required = level
        else:
            voluntary += values
    if unreachable is None and required not in REACHABLE:
        unreachable = f"assurance level {required} cannot be reached here yet"
    wanted = required
    preferred = _lowest_reachable(voluntary)
    if preferred is not None and rank(preferred) > rank(wanted):
        wanted = preferred
    return AcrNeed(required=required, wanted=wanted, unreachable=unreachable)
