"""Releasing the citizen ID number: the ``id_card`` scope and the ``id_number`` claim
(DESIGN.md §4, issue 5 §5–6).

The clear, 18-character number is released only when all of these hold, checked again at each
release (so a withdrawal or a staff revocation stops the next one):

1. the token was granted the ``id_card`` scope;
2. staff allowed the client: ``clients.extra["id_card_allowed"] = true``
   (``idp clients allow-id-card CLIENT_ID [--revoke]``); a client without it gets
   ``invalid_scope`` at the authorization endpoint (:func:`idp.oidc.authorize.check_id_card`);
3. the citizen's stored consent for this client includes ``id_card`` — asked on the consent
   page even for first-party clients registered with ``--skip-consent``.

Where: userinfo returns ``id_number`` with the other scope claims; an ID token carries it only
when the client asks for it in the ``claims`` parameter's ``id_token`` member (ID tokens travel
further — e.g. as ``id_token_hint`` in a browser URL to ``/end_session``). Inside
``verified_claims`` (:mod:`idp.oidc.verified_claims`) under the same conditions.

Every response that carries the number is audited ``identity:release:success`` with the client,
the subject, the endpoint and the channel — and the masked number, never the clear one.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import scope_to_list

from idp.clients import ClientRecord
from idp.container import Services
from idp.oidc import verified_claims
from idp.oidc.claims import scope_claims
from idp.store.models import Account

ID_CARD_SCOPE = "id_card"
ID_NUMBER_CLAIM = "id_number"
PERMISSION = "id_card_allowed"  # key in clients.extra
SENSITIVE_SCOPES = frozenset({ID_CARD_SCOPE})  # never skipped on the consent page


def id_card_allowed(record: ClientRecord) -> bool:
    return record.extra.get(PERMISSION) is True


def may_release(services: Services, client_id: str, account_id: str, scope: str) -> bool:
    """Scope + staff permission + the citizen's current consent (see the module docstring)."""
    if ID_CARD_SCOPE not in (scope_to_list(scope) or []):
        return False
    record = services.clients.get(client_id)
    if record is None or record.status != "active" or not id_card_allowed(record):
        return False
    return ID_CARD_SCOPE in (services.consents.granted(account_id, client_id) or set())


def release_claims(services: Services, account: Account, *, client_id: str, scope: str,
                   acr: str | None, requested: dict[str, Any], endpoint: str,
                   channel: str) -> dict[str, Any]:
    """The ID-number related claims for one response: ``id_number`` (always at userinfo,
    on request in an ID token) and ``verified_claims`` when requested. Audits a release."""
    out: dict[str, Any] = {}
    wants_verified = "verified_claims" in requested
    wants_number = endpoint == "userinfo" or ID_NUMBER_CLAIM in requested
    wants_number_verified = wants_verified and ID_NUMBER_CLAIM in \
        verified_claims.requested_claim_names(requested["verified_claims"])
    number: str | None = None
    if (wants_number or wants_number_verified) and \
            may_release(services, client_id, account.id, scope):
        number = services.accounts.reveal_id_number(account)
        if wants_number:
            out[ID_NUMBER_CLAIM] = number
    if wants_verified:
        available: dict[str, Any] = {}
        if "profile" in (scope_to_list(scope) or []):
            profile = scope_claims(account, "profile")
            available.update({k: profile[k] for k in ("name", "birthdate") if k in profile})
        if number is not None:
            available[ID_NUMBER_CLAIM] = number
        built = verified_claims.build(requested["verified_claims"], available, acr=acr)
        if built is not None:
            out["verified_claims"] = built
    if number is not None and (ID_NUMBER_CLAIM in out or ID_NUMBER_CLAIM in
                               out.get("verified_claims", {}).get("claims", {})):
        services.audit.record(client_id, "identity:release:success", subject=account.id,
                              client_id=client_id,
                              extra={"endpoint": endpoint, "channel": channel,
                                     "id_number": account.id_number_masked})
    return out
