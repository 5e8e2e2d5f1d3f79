"""Signing-key material: generate a key of an algorithm, name it, and (de)serialise it.

The algorithm is a property of the key (DESIGN.md §7): every algorithm we can sign with is
listed once, in :data:`ALGORITHMS`, with the function that makes a key of it. A kid is the
first 16 characters of the key's RFC 7638 thumbprint (never starting with ``-``, which a
command line would take for an option: such a key is generated again). The private JWK
(RFC 7517) is the form sealed into the database (:mod:`idp.keys.wrapping`); it never leaves
this package.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey, RSAKey

from idp.errors import KeyMaterialError, ValidationError

PrivateKey = RSAKey | ECKey


def _rsa() -> PrivateKey:
    return RSAKey.generate_key(2048, private=True)


def _p256() -> PrivateKey:
    return ECKey.generate_key("P-256", private=True)


# alg → (key class, generator). A new algorithm (SM2 …) is one more line here.
ALGORITHMS: dict[str, tuple[type[RSAKey] | type[ECKey], Callable[[], PrivateKey]]] = {
    "RS256": (RSAKey, _rsa),
    "ES256": (ECKey, _p256),
}
SUPPORTED_ALGS: tuple[str, ...] = tuple(ALGORITHMS)


def check_algs(algs: Any) -> tuple[str, ...]:
    """The algorithms asked for, each supported, without repeats; all of them for None."""
    if algs is None:
        return SUPPORTED_ALGS
    chosen = tuple(dict.fromkeys(algs))
    unknown = [a for a in chosen if a not in ALGORITHMS]
    if unknown or not chosen:
        raise ValidationError(
            f"unsupported signing algorithm {', '.join(map(str, unknown)) or '(none)'}: "
            f"use {' or '.join(SUPPORTED_ALGS)}", code="keys.alg")
    return chosen


@dataclass(frozen=True)
class NewKey:
    """A freshly generated key: its kid, its public JWK (as published) and the private key."""

    kid: str
    alg: str
    public_jwk: dict[str, Any]
    private: PrivateKey

    def __repr__(self) -> str:  # never the private part
        return f"NewKey(kid={self.kid!r}, alg={self.alg!r})"


def generate(alg: str) -> NewKey:
    if alg not in ALGORITHMS:
        raise KeyMaterialError(f"unsupported signing algorithm {alg!r}: use "
                               f"{' or '.join(SUPPORTED_ALGS)}")
    key = ALGORITHMS[alg][1]()
    while key.thumbprint().startswith("-"):  # 1 in 64: a kid must not read as a CLI option
        key = ALGORITHMS[alg][1]()
    kid = key.thumbprint()[:16]
    public = dict(key.as_dict(private=False))
    public.update({"kid": kid, "alg": alg, "use": "sig"})
    return NewKey(kid=kid, alg=alg, public_jwk=public, private=key)


def private_bytes(key: PrivateKey) -> bytes:
    """The private JWK as compact JSON: what gets sealed."""
    return json.dumps(dict(key.as_dict(private=True)), separators=(",", ":"),
                      sort_keys=True).encode()


def from_private_bytes(alg: str, data: bytes, kid: str) -> PrivateKey:
    """The private key back from :func:`private_bytes`; the error names the kid only."""
    if alg not in ALGORITHMS:
        raise KeyMaterialError(f"kid {kid}: unsupported signing algorithm {alg!r}")
    try:
        key = ALGORITHMS[alg][0].import_key(json.loads(data))
    except (ValueError, TypeError, KeyError):
        raise KeyMaterialError(f"kid {kid}: the sealed private key is malformed") from None
    if not key.is_private:
        raise KeyMaterialError(f"kid {kid}: the sealed key has no private part")
    return key


def key_class(alg: str) -> type[RSAKey] | type[ECKey]:
    if alg not in ALGORITHMS:
        raise KeyMaterialError(f"unsupported signing algorithm {alg!r}")
    return ALGORITHMS[alg][0]
