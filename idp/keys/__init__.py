"""Signing keys: create, rotate, retire, revoke, publish (JWKS), sign. Key material is touched
only here."""

from idp.keys.keyring import KeyRing, SigningKeyHandle
from idp.keys.lifecycle import RevokeResult
from idp.keys.material import SUPPORTED_ALGS
from idp.keys.service import KeyService

__all__ = ["SUPPORTED_ALGS", "KeyRing", "KeyService", "RevokeResult", "SigningKeyHandle"]
