"""Citizen ID numbers: validation (GB 11643-1999, ISO 7064 MOD 11-2, GB/T 2260) and protection.

The rest of the system parses numbers with :func:`parse_id_number` and stores them only through
:class:`IdNumberProtector` (AES-256-GCM ciphertext + HMAC-SHA256 blind index + masked form),
built from key files by :func:`load_identity_keys`. Nothing here imports Flask.
"""

from __future__ import annotations

from idp.identity.blind_index import BlindIndex
from idp.identity.id_number import (
    FOREIGN_PERMANENT_RESIDENT,
    HMT_RESIDENCE_PERMIT,
    RESIDENT,
    IdNumber,
    check_character,
    is_valid_id_number,
    mask_id_number,
    parse_id_number,
)
from idp.identity.keyring import add_data_key, identity_keys_present, load_identity_keys
from idp.identity.protector import IdNumberProtector, ProtectedIdNumber
from idp.identity.regions import is_abolished, is_known_region, region_name
from idp.identity.vault import IdNumberVault

__all__ = [
    "FOREIGN_PERMANENT_RESIDENT",
    "HMT_RESIDENCE_PERMIT",
    "RESIDENT",
    "BlindIndex",
    "IdNumber",
    "IdNumberProtector",
    "IdNumberVault",
    "ProtectedIdNumber",
    "add_data_key",
    "check_character",
    "identity_keys_present",
    "is_abolished",
    "is_known_region",
    "is_valid_id_number",
    "load_identity_keys",
    "mask_id_number",
    "parse_id_number",
    "region_name",
]
