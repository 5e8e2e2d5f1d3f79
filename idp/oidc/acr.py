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
from functools import lru_cache
from typing import Any

from idp.config.settings import ACR_LEVELS, AssuranceSettings
from idp.oidc.claims_request import MalformedClaimsRequest, parse_claims_request

REACHABLE = ("L1", "L2")  # levels a browser sign-in here can reach (see reachable())
# level → the factors (RFC 8176 amr) that reach it from the level below, in the same session:
# L2 — a TOTP or recovery code ("otp"), a code sent to the account's phone ("sms"; every
# account has one, so L2 is in reach of every citizen unless [sms] backend = "none"), a passkey
# ("hwk"); L3 — face verification ("face") on top of L2. L4 is never a step-up: only a clerk at
# a counter confirms the physical ID card (idp.oidc.device_flow, in-person check).
STEP_UP = {"L2": ("otp", "sms", "hwk"), "L3": ("face",)}


@dataclass(frozen=True)
class AcrNames:
    """The configured ``acr`` names of the levels (``[assurance]``): relying parties see and
    send these; inside, levels are always L1–L4. Translated at the edges only — tokens and
    discovery going out (:meth:`external`), ``acr_values`` and ``claims`` coming in
    (:meth:`internal`)."""

    names: tuple[str, str, str, str] = ("L1", "L2", "L3", "L4")

    @staticmethod
    @lru_cache(maxsize=8)
    def of(assurance: AssuranceSettings) -> AcrNames:
        """The names of a deployment's settings (built once: asked for on every request)."""
        return AcrNames((assurance.l1, assurance.l2, assurance.l3, assurance.l4))

    def external(self, level: str | None) -> str | None:
        return self.names[rank(level)] if level in ACR_LEVELS else level

    def internal(self, value: str) -> str:
        """The level a relying party's value names; an unknown value stays as it is (and so
        names no level that can be reached)."""
        return ACR_LEVELS[self.names.index(value)] if value in self.names else f"?{value}"


DEFAULT_NAMES = AcrNames()


WHY_UNREACHABLE = {
    "L3": "assurance level {level} needs face verification, which this identity service does not "
          "offer",
    "L4": "assurance level {level} is reached only in person, at a counter (the device "
          "authorization grant with the clerk's check of the physical ID card)",
}


def reachable(*, face: bool) -> tuple[str, ...]:
    """The levels a browser (authorization-endpoint) sign-in can reach in this deployment:
    L3 only while a face-verification service is configured."""
    return (*REACHABLE, "L3") if face else REACHABLE


def supported(*, face: bool, names: AcrNames = DEFAULT_NAMES) -> list[str]:
    """``acr_values_supported``: the browser levels and L4 (counter, device grant)."""
    return [str(names.external(level)) for level in (*reachable(face=face), "L4")]


def steps(achieved: str | None, wanted: str) -> list[str]:
    """The levels above ``achieved`` up to ``wanted``, each one step-up (L1 → L3: L2, L3)."""
    return [lvl for lvl in ACR_LEVELS if rank(achieved) < rank(lvl) <= rank(wanted)]


def missing_steps(path: list[str], factors: set[str]) -> list[str]:
    """The levels of ``path`` that none of the citizen's ``factors`` can step up to (L4 always:
    it is never a step-up)."""
    return [lvl for lvl in path if not set(STEP_UP.get(lvl, ())) & factors]




class MalformedClaims(ValueError):
    """The ``claims`` parameter is not a JSON object of the shape OIDC Core §5.5 defines."""


@dataclass(frozen=True)
class AcrNeed:
    required: str  # must be met: the channel's min_acr or an essential acr claim
    wanted: str  # what to aim for (≥ required): adds the voluntary requests
    unreachable: str | None = None  # why a required level can never be met here, if so


def rank(level: str | None) -> int:
    return ACR_LEVELS.index(level) if level in ACR_LEVELS else -1


def _lowest_reachable(values: list[str], levels: tuple[str, ...]) -> str | None:
    candidates = [v for v in values if v in levels]
    return min(candidates, key=rank) if candidates else None


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


def needed(params: dict[str, str], channel_min: str,
           levels: tuple[str, ...] = REACHABLE, names: AcrNames = DEFAULT_NAMES) -> AcrNeed:
    """The level the request needs, given the ``levels`` this kind of sign-in can reach and
    the configured ``names`` the request's values are in; :class:`MalformedClaims` for a bad
    ``claims`` value."""
    required = channel_min
    voluntary = [names.internal(v) for v in (params.get("acr_values") or "").split()]
    unreachable = None
    acr = _acr_claim(params.get("claims"))
    if acr is not None:
        asked = [acr["value"]] if "value" in acr else list(acr.get("values", []))
        values = [names.internal(v) for v in asked]
        if acr.get("essential") and values:
            level = _lowest_reachable(values, levels)
            if level is None:
                unreachable = f"none of the essential acr values {asked} can be reached here"
            elif rank(level) > rank(required):
                required = level
        else:
            voluntary += values
    if unreachable is None and required not in levels:
        why = WHY_UNREACHABLE.get(required, "assurance level {level} cannot be reached here")
        unreachable = why.format(level=names.external(required))
    wanted = required
    preferred = _lowest_reachable(voluntary, levels)
    if preferred is not None and rank(preferred) > rank(wanted):
        wanted = preferred
    return AcrNeed(required=required, wanted=wanted, unreachable=unreachable)
