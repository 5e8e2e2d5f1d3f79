"""Key lifecycle service: ``idp init`` creates an RS256 and an ES256 key when there are none.

States: next → active → retired → removed, and revoked (DESIGN.md, issue 6). Metadata (kid,
alg, state, dates, public JWK) is in the ``signing_keys`` table; private keys in PEM files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.clock import Clock, system_clock, to_datetime
from idp.errors import KeyMaterialError
from idp.keys import files
from idp.keys.keyring import KeyRing, SigningKeyHandle
from idp.store.models import SigningKey

SUPPORTED_ALGS = ("RS256", "ES256")
PUBLISHED_STATES = ("next", "active", "retired")

AuditHook = Callable[[str, dict[str, Any]], None]


class KeyService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        keys_dir: Path,
        *,
        clock: Clock = system_clock,
        max_age: float = 30.0,
        audit: AuditHook | None = None,
    ) -> None:
        self._sessions = sessions
        self._keys_dir = keys_dir
        self._clock = clock
        self._max_age = max_age
        self._audit = audit
        self._lock = threading.Lock()
        self._ring: KeyRing | None = None

    def create_key(self, alg: str, *, state: str = "active") -> SigningKey:
        key = files.generate(alg)
        kid = key.thumbprint()[:16]
        files.write_private(self._keys_dir, kid, key)
        public = dict(key.as_dict(private=False))
        public.update({"kid": kid, "alg": alg, "use": "sig"})
        now = to_datetime(self._clock())
        row = SigningKey(
            kid=kid,
            alg=alg,
            state=state,
            public_jwk=public,
            created_at=now,
            activated_at=now if state == "active" else None,
        )
        with self._sessions.begin() as session:
            session.add(row)
        if self._audit:
            self._audit("key:create:success", {"kid": kid, "alg": alg, "state": state})
        self.invalidate()
        return row

    def ensure_keys(self) -> list[str]:
        """Create an active key for each supported algorithm that has none. Returns new kids."""
        created = []
        with self._sessions() as session:
            have = set(
                session.scalars(select(SigningKey.alg).where(SigningKey.state == "active"))
            )
        for alg in SUPPORTED_ALGS:
            if alg not in have:
                created.append(self.create_key(alg).kid)
        return created

    def list_keys(self) -> list[SigningKey]:
        with self._sessions() as session:
            return list(session.scalars(select(SigningKey).order_by(SigningKey.created_at)))

    def check_ready(self) -> None:
        """Raise KeyMaterialError unless every algorithm has an active key with its file."""
        ring = self.ring(force=True)
        missing = [alg for alg in SUPPORTED_ALGS if ring.signer(alg) is None]
        if missing:
            raise KeyMaterialError(
                f"no active signing key for {', '.join(missing)}: run `idp init`"
            )

    def invalidate(self) -> None:
        with self._lock:
            self._ring = None

    def ring(self, *, force: bool = False) -> KeyRing:
        now = self._clock()
        ring = self._ring
        if not force and ring is not None and now - ring.loaded_at < self._max_age:
            return ring
        with self._lock:
            self._ring = self._load(now)
            return self._ring

    def _load(self, now: float) -> KeyRing:
        with self._sessions() as session:
            rows = list(
                session.scalars(
                    select(SigningKey)
                    .where(SigningKey.state.in_(PUBLISHED_STATES))
                    .order_by(SigningKey.created_at.desc())
                )
            )
        active: dict[str, SigningKeyHandle] = {}
        for row in rows:
            if row.state == "active" and row.alg not in active:
                key = files.read_private(self._keys_dir, row.kid, row.alg)
                active[row.alg] = SigningKeyHandle(kid=row.kid, alg=row.alg, key=key)
        published = tuple(dict(row.public_jwk) for row in rows)
        return KeyRing(active=active, published=published, loaded_at=now)
