"""Blind index of ID numbers: HMAC-SHA256 (RFC 2104, FIPS 198-1) under a dedicated key.

The vault's ciphertexts are randomised, so they cannot be searched or made unique. The blind
index is the deterministic, keyed digest stored beside them: equal numbers give equal indexes
(a UNIQUE constraint and lookups work), while without the key the index reveals nothing and
cannot be brute-forced over the small space of valid ID numbers.

The digest is taken over the *normalised* 18-character form (GB 11643-1999): ``x`` and ``X``,
full-width digits, surrounding spaces and the 15-digit legacy spelling of a number all index
the same. An invalid number raises :class:`~idp.errors.InvalidIdNumber`.
"""

from __future__ import annotations

import hashlib
import hmac

from idp.errors import KeyMaterialError
from idp.identity.id_number import IdNumber, parse_id_number

KEY_BYTES = 32


class BlindIndex:
    """Deterministic HMAC-SHA256 of a normalised ID number, as lower-case hex."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise KeyMaterialError(f"blind-index key must be {KEY_BYTES} bytes")
        self._key = key

    def __repr__(self) -> str:
        return "BlindIndex(<key hidden>)"

    def compute(self, id_number: IdNumber | str) -> str:
        """The index of ``id_number``; a string is parsed (and so normalised) first."""
        parsed = id_number if isinstance(id_number, IdNumber) else parse_id_number(id_number)
        return hmac.new(self._key, parsed.value.encode("ascii"), hashlib.sha256).hexdigest()
