"""JWT access tokens checked the way a resource server does — RFC 9068 §4.

The mini-program backend checks the access token it gets from a token exchange (and reads the
app's token it was handed) with the same python-jose steps as ID tokens
(:mod:`clients.website.tokens`). :func:`validate_access_token` runs, in order:

1. ``read_header``              compact JWS, ``alg`` RS256/ES256, no ``crit``
2. ``check_access_token_type``  ``typ`` is ``at+jwt`` or ``application/at+jwt`` (§4 step 1)
3. ``JwksCache.key_for`` + ``verify_signature``  the IdP's published key, that one algorithm
4. ``check_issuer``             ``iss`` is the issuer (§4 step 3)
5. ``check_access_audience``    ``aud`` contains our identifier (§4 step 4) and ``client_id``
                                names who the token was issued to (§2.2), when asked
6. ``check_times``              ``exp`` in the future, ``iat`` not (§4 step 6)

Each raises :class:`AccessTokenError` (an :class:`~clients.website.tokens.IdTokenError` with the
same ``code`` values, worded for access tokens).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from typing import Any

from clients.website.tokens import (
    IdTokenError,
    JwksCache,
    check_issuer,
    check_times,
    is_access_token_type,
    read_header,
    reworded,
    verify_signature,
)


class AccessTokenError(IdTokenError):
    """A JWT access token was rejected; the same ``code`` values as :class:`IdTokenError`."""

    @classmethod
    def from_id_token_error(cls, exc: IdTokenError) -> AccessTokenError:
        """The shared steps word their messages for ID tokens; name the access token instead."""
        return reworded(exc, cls, "access token", "访问令牌")


def check_access_token_type(header: Mapping[str, Any]) -> None:
    if not is_access_token_type(header):
        raise AccessTokenError(
            "bad_typ",
            f"The access token's typ is {header.get('typ')!r}, not 'at+jwt' (RFC 9068).",
            f"访问令牌的 typ 为 {header.get('typ')!r}，而不是 'at+jwt'（RFC 9068）。",
        )


def check_access_audience(claims: Mapping[str, Any], audience: str, client_id: str | None) -> None:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if audience not in audiences:
        raise AccessTokenError(
            "bad_aud",
            f"The access token is not meant for {audience!r} (aud).",
            f"访问令牌的受众（aud）不包含 {audience!r}。",
        )
    got = claims.get("client_id")
    if client_id is not None and not (
        isinstance(got, str) and hmac.compare_digest(got.encode(), client_id.encode())
    ):
        raise AccessTokenError(
            "bad_client_id",
            f"The access token was not issued to {client_id!r} (client_id).",
            f"访问令牌并非签发给 {client_id!r}（client_id）。",
        )


def validate_access_token(
    token: str,
    jwks: JwksCache,
    *,
    issuer: str,
    audience: str | None,
    client_id: str | None = None,
    leeway: float = 60.0,
    now: float | None = None,
) -> dict[str, Any]:
    """Return the verified claims of a JWT access token, or raise :class:`AccessTokenError`.

    ``audience`` is this resource server's identifier. ``None`` skips the audience check: only
    for a caller that is *not* the audience and merely reads whose token it is (e.g. the subject
    token of a token exchange, which the IdP itself checks again).
    """
    try:
        header = read_header(token)
        check_access_token_type(header)
        alg = header["alg"]
        claims = verify_signature(token, jwks.key_for(header.get("kid"), alg), alg)
        check_issuer(claims, issuer)
        if audience is not None:
            check_access_audience(claims, audience, client_id)
        check_times(claims, time.time() if now is None else now, leeway)
    except AccessTokenError:
        raise
    except IdTokenError as exc:
        raise AccessTokenError.from_id_token_error(exc) from None
    return claims
