"""Subject identifiers (OpenID Connect Core 1.0 §8): the ``sub`` a client sees for a citizen.

- ``public`` (§8): the stable random account id, the same for every client. First-party
  channels use it (one sign-in, one ``sub`` across the website, app, mini-program and counter).
- ``pairwise`` (§8.1): a different value per **sector** — the host of the client's
  ``sector_identifier_uri``, or of its redirect URIs — so two departments cannot join their
  data by ``sub``, while clients of one sector (registered with the same sector identifier)
  see the same value. Computed, never stored::

      sub = base64url(HMAC-SHA256(pairwise_key, sector + "|" + account_id))[:32]

  (the first 24 bytes of the MAC: 192 bits; the key is ``keys/identity/pairwise.key``,
  :func:`idp.identity.keyring.load_pairwise_key`). Without the key nobody can link two
  sectors' values, nor recompute one from an account id.

Only the ``sub`` that leaves the IdP changes: tokens, sessions, consents and the audit trail keep
the account id, so nothing here needs a reverse lookup. The client's settings are in
``ClientRecord.extra`` (``subject_type``, ``sector``), written at registration by
:mod:`idp.clients.sectors`. Nothing here imports Flask.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Protocol

from idp.errors import ConfigError, KeyMaterialError

PUBLIC = "public"
PAIRWISE = "pairwise"
SUBJECT_TYPES = (PUBLIC, PAIRWISE)
PAIRWISE_SUB_BYTES = 24  # 192 bits of the HMAC-SHA256 (OIDC Core §8.1 asks only for uniqueness)


class _Client(Protocol):
    """What is read from a client record (``idp.clients.ClientRecord``)."""

    @property
    def client_id(self) -> str: ...

    @property
    def extra(self) -> Mapping[str, Any]: ...


def subject_type(client: _Client) -> str:
    return PAIRWISE if client.extra.get("subject_type") == PAIRWISE else PUBLIC


class SubjectService:
    def __init__(self, pairwise_key: bytes) -> None:
        if len(pairwise_key) < 32:
            raise KeyMaterialError("the pairwise subject key must be at least 32 bytes")
        self._key = pairwise_key

    def sub_for(self, account_id: str, client: _Client) -> str:
        """The ``sub`` of ``account_id`` as ``client`` sees it."""
        if subject_type(client) == PUBLIC:
            return account_id
        sector = client.extra.get("sector")
        if not isinstance(sector, str) or not sector:
            # Registration always stores the sector; never fall back to the account id.
            raise ConfigError(f"pairwise client {client.client_id} has no sector",
                              code="client.sector")
        return self.pairwise(sector, account_id)

    def pairwise(self, sector: str, account_id: str) -> str:
        mac = hmac.new(self._key, f"{sector}|{account_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:PAIRWISE_SUB_BYTES]).decode("ascii").rstrip("=")
