"""Which authentication factors (RFC 8176 ``amr`` values) a citizen can present now, for
step-up (:func:`idp.oidc.authorize.check_acr`), and which page asks for each assurance level.

One place per factor: a factor that becomes available (a passkey registered, face verification
configured) is added here, and the level it reaches is in :data:`idp.oidc.acr.STEP_UP`.
"""

from __future__ import annotations

from idp.container import Services

# assurance level → the endpoint of the page that steps a session up to it
STEP_UP_PAGES = {"L2": "auth.verify"}


def available_factors(svc: Services, account_id: str) -> set[str]:
    """The second factors this account can present in this deployment right now."""
    factors: set[str] = set()
    if svc.sms.enabled:  # every account has a phone number
        factors.add("sms")
    if svc.mfa.has_totp(account_id):
        factors.add("otp")
    return factors
