"""Which authentication factors (RFC 8176 ``amr`` values) a citizen can present now, for
step-up (:func:`idp.oidc.authorize.check_acr`), and which page asks for each assurance level.

One place per factor: a factor that becomes available (a passkey registered, face verification
configured) is added here, and the level it reaches is in :data:`idp.oidc.acr.STEP_UP`.
"""

from __future__ import annotations

from idp.container import Services
from idp.oidc.acr import STEP_UP, rank

# assurance level → the endpoint of the page that steps a session up to it
STEP_UP_PAGES = {"L2": "auth.verify", "L3": "face.verify"}


def available_factors(svc: Services, account_id: str) -> set[str]:
    """The second factors this account can present in this deployment right now."""
    factors: set[str] = set()
    if svc.sms.enabled:  # every account has a phone number
        factors.add("sms")
    if svc.mfa.has_totp(account_id):
        factors.add("otp")
    if svc.face.enabled:  # [face] backend: the service checks the face against the ID number
        factors.add("face")
    if svc.passkeys.has_any(account_id):
        factors.add("hwk")
    return factors


def enrolment_needs_step_up(svc: Services, account_id: str, acr: str | None) -> bool:
    """Adding a second factor (an authenticator app, a passkey) needs a session at L2 whenever
    the account can already reach L2 another way — an SMS code to its phone, a factor set up
    before. Otherwise a stolen password alone would be enough to add the thief's own factor
    and sign in at L2. Only an account with no way to L2 at all enrols its first factor with
    the password (docs/assurance.md, "Adding a factor")."""
    if rank(acr) >= rank("L2"):
        return False
    return bool(available_factors(svc, account_id) & set(STEP_UP["L2"]))
