"""Builds the :class:`~idp.keys.keyring.KeyRing` snapshot from the ``signing_keys`` table.

Published: ``next``, ``active`` and ``retired`` keys (newest first); signing: the ``active``
key of each algorithm, its private part opened from ``private_enc`` with the wrapping key — or,
for a key made before migration 0007 that ``idp init`` has not sealed yet, read from its PEM
file. Opened private keys are kept per kid while the key is active (a kid's key never changes),
so a reload costs one query, not a decryption and an RSA import.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.keys import files
from idp.keys.keyring import Fingerprint, KeyRing, SigningKeyHandle
from idp.keys.material import PrivateKey, from_private_bytes
from idp.keys.transitions import PUBLISHED_STATES, Timing
from idp.keys.wrapping import KeyWrapper
from idp.store.models import SigningKey


class RingLoader:
    def __init__(self, sessions: sessionmaker[Session], keys_dir: Path, *,
                 wrapper: Callable[[], KeyWrapper], timing: Timing) -> None:
        self._sessions = sessions
        self._keys_dir = keys_dir
        self._wrapper = wrapper
        self._timing = timing
        self._private: dict[str, PrivateKey] = {}

    def fingerprint(self) -> Fingerprint:
        """(kid, state) of every key: one small query, to tell whether anything changed."""
        with self._sessions() as session:
            pairs = session.execute(select(SigningKey.kid, SigningKey.state)).all()
        return tuple(sorted((str(kid), str(state)) for kid, state in pairs))

    def load(self, now: float) -> KeyRing:
        with self._sessions() as session:
            rows = list(session.scalars(
                select(SigningKey).order_by(SigningKey.created_at.desc(), SigningKey.kid)))
        published = [row for row in rows if row.state in PUBLISHED_STATES]
        active: dict[str, SigningKeyHandle] = {}
        for row in published:
            if row.state == "active" and row.alg not in active:
                active[row.alg] = SigningKeyHandle(kid=row.kid, alg=row.alg,
                                                   key=self._open(row))
        signing = {handle.kid for handle in active.values()}
        for kid in set(self._private) - signing:
            del self._private[kid]
        dues = [when.timestamp() for when in map(self._timing.due, published)
                if when is not None]
        return KeyRing(
            active=active,
            published=tuple(dict(row.public_jwk) for row in published),
            loaded_at=now,
            next_change=min(dues, default=math.inf),
            fingerprint=tuple(sorted((row.kid, row.state) for row in rows)),
        )

    def forget(self, kid: str) -> None:
        self._private.pop(kid, None)

    def _open(self, row: SigningKey) -> PrivateKey:
        key = self._private.get(row.kid)
        if key is None:
            if row.private_enc is not None:
                plain = self._wrapper().open(row.kid, row.private_enc)
                key = from_private_bytes(row.alg, plain, row.kid)
            else:
                key = files.read_private(self._keys_dir, row.kid, row.alg)
            self._private[row.kid] = key
        return key
