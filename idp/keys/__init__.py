"""Signing keys: create, publish (JWKS), sign. Key material is touched only here."""

from idp.keys.keyring import KeyRing, SigningKeyHandle
from idp.keys.service import KeyService

__all__ = ["KeyRing", "KeyService", "SigningKeyHandle"]
