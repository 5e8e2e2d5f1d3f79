"""Claims released per scope (OIDC Core §5.4) from a citizen's account.

``sub`` is never the ID number: the caller passes the client's view of the citizen, the account
id or a pairwise value (:mod:`idp.accounts.subjects`). The ID number itself is not
released by any scope here: ``id_card`` releases ``id_number`` under the extra conditions of
:mod:`idp.oidc.id_card` (staff permission, the citizen's consent, an audited release).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import scope_to_list

from idp.store.models import Account

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "gender", "birthdate", "locale", "updated_at"),
    "phone": ("phone_number", "phone_number_verified"),
    "email": ("email", "email_verified"),
    "address": ("address",),
}

CLAIMS_SUPPORTED = sorted(
    {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "azp",
     "at_hash", "act", "id_number", "verified_claims"}
    | {c for claims in SCOPE_CLAIMS.values() for c in claims}
)


def account_claims(account: Account) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "name": account.name,
        "gender": account.gender,
        "locale": "zh-CN",
        "updated_at": int(account.updated_at.timestamp()),
        "phone_number": f"+86{account.phone}",
        "phone_number_verified": bool(account.phone_verified),
    }
    if account.birthdate is not None:
        claims["birthdate"] = account.birthdate.isoformat()
    if account.email:
        claims["email"] = account.email
        claims["email_verified"] = bool(account.email_verified)
    if account.address:
        claims["address"] = dict(account.address)
    return claims


def claims_for_scope(account: Account, scope: str, *, sub: str) -> dict[str, Any]:
    """``sub`` plus the claims every granted scope releases (absent values are left out)."""
    return {"sub": sub, **scope_claims(account, scope)}


def scope_claims(account: Account, scope: str) -> dict[str, Any]:
    """The claims every granted scope releases, without ``sub``."""
    available = account_claims(account)
    out: dict[str, Any] = {}
    for name in scope_to_list(scope) or []:
        for claim in SCOPE_CLAIMS.get(name, ()):
            if claim in available:
                out[claim] = available[claim]
    return out
