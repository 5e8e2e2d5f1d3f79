"""``verified_claims`` per OpenID Connect for Identity Assurance 1.0 (§5 representation, §6
requesting) with the evidence of the OpenID Identity Assurance schema (evidence ``document``,
``document_details``).

A client asks for it in the ``claims`` parameter (``userinfo`` and/or ``id_token`` member)::

    {"userinfo": {"verified_claims": {"verification": {"trust_framework": null},
                                      "claims": {"name": null, "id_number": null}}}}

and receives ``{"verification": {...}, "claims": {...}}`` where ``verification`` says how the
claims were verified — the trust framework (``cn_gov_ctid``: the citizen's name and ID number
checked against the public-security population registry), the session's assurance level
(``acr``), and the evidence (a Chinese resident ID card) — and ``claims`` holds the requested
verified claims this client may receive: ``name`` and ``birthdate`` with the ``profile`` scope,
``id_number`` only when :mod:`idp.oidc.id_card` allows it. ``given_name`` / ``family_name`` are
not offered: splitting a Chinese name (compound surnames) is guesswork. When none of the
requested claims can be released, ``verified_claims`` is left out (§6.5: the OP may omit it).
"""

from __future__ import annotations

from typing import Any

TRUST_FRAMEWORK = "cn_gov_ctid"
EVIDENCE_TYPES = ("document",)
DOCUMENT_TYPES = ("idcard",)
CLAIMS_IN_VERIFIED_CLAIMS = ("name", "birthdate", "id_number")

EVIDENCE: list[dict[str, Any]] = [{
    "type": "document",
    "document_details": {"type": "idcard", "issuer": {"country_code": "CHN"}},
}]


def requested_claim_names(spec: Any) -> list[str]:
    """The claim names inside a ``verified_claims`` request (an object, or a list of them)."""
    specs = spec if isinstance(spec, list) else [spec]
    names: list[str] = []
    for item in specs:
        claims = item.get("claims") if isinstance(item, dict) else None
        if isinstance(claims, dict):
            names.extend(n for n in claims if n not in names)
    return names


def build(spec: Any, available: dict[str, Any], *, acr: str | None) -> dict[str, Any] | None:
    """The ``verified_claims`` answer for a request ``spec`` given the releasable verified
    claims ``available``; None when there is nothing to release."""
    claims = {n: available[n] for n in requested_claim_names(spec)
              if n in CLAIMS_IN_VERIFIED_CLAIMS and n in available}
    if not claims:
        return None
    verification: dict[str, Any] = {"trust_framework": TRUST_FRAMEWORK}
    if acr:
        verification["assurance_level"] = acr
    verification["evidence"] = [dict(e) for e in EVIDENCE]
    return {"verification": verification, "claims": claims}
