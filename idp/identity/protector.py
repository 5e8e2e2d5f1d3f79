"""The one facade for storing citizen ID numbers (GB 11643-1999) safely.

Everything outside ``idp.identity`` stores and finds ID numbers through
:class:`IdNumberProtector`: it parses and normalises the number, encrypts it with the vault
(AES-256-GCM), computes the blind index (HMAC-SHA256) used for lookups and uniqueness, and
keeps the masked form for display. Only :meth:`IdNumberProtector.reveal` gives a full number
back, for the few flows that must release it.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.identity.blind_index import BlindIndex
from idp.identity.id_number import IdNumber, parse_id_number
from idp.identity.vault import IdNumberVault


@dataclass(frozen=True)
class ProtectedIdNumber:
    """What is stored for a person: never the plain number."""

    ciphertext: bytes  # vault blob: version, key id, nonce, AES-256-GCM ciphertext + tag
    blind_index: str  # lower-case hex HMAC-SHA256 of the normalised number
    masked: str  # "1101**********002X", safe to show and log
    key_id: str  # data key the ciphertext was sealed with (for re-keying)


class IdNumberProtector:
    """Protect, index and reveal ID numbers; strings are parsed (validated) first."""

    def __init__(self, vault: IdNumberVault, blind_index: BlindIndex) -> None:
        self.vault = vault
        self._blind_index = blind_index

    def __repr__(self) -> str:
        return f"IdNumberProtector({self.vault!r})"

    def protect(self, id_number: IdNumber | str) -> ProtectedIdNumber:
        """Encrypt, index and mask; raises :class:`~idp.errors.InvalidIdNumber` on bad input."""
        parsed = _parsed(id_number)
        ciphertext = self.vault.encrypt(parsed.value)
        return ProtectedIdNumber(
            ciphertext=ciphertext,
            blind_index=self._blind_index.compute(parsed),
            masked=parsed.masked(),
            key_id=self.vault.key_id_of(ciphertext),
        )

    def index(self, id_number: IdNumber | str) -> str:
        """The blind index to look a person up by ID number."""
        return self._blind_index.compute(_parsed(id_number))

    def reveal(self, ciphertext: bytes) -> str:
        """The full normalised number; :class:`~idp.errors.KeyMaterialError` if tampered."""
        return self.vault.decrypt(ciphertext)


def _parsed(id_number: IdNumber | str) -> IdNumber:
    return id_number if isinstance(id_number, IdNumber) else parse_id_number(id_number)
