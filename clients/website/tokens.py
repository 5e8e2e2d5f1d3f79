"""ID token validation — OpenID Connect Core 1.0 §3.1.3.7 (and §3.1.3.8 for ``at_hash``).

The portal checks every ID token itself with python-jose, independently of Authlib, against the
IdP's JWKS (the app, counter and mini-program reference clients import this module too).
:func:`validate_id_token` runs these steps in order; each raises :class:`IdTokenError` with a
stable ``code`` and a message in English and Chinese:

1. ``read_header``      compact JWS; ``alg`` is RS256 or ES256 (never ``none`` nor ``HS*``);
                        no ``crit`` extensions (RFC 7515 §4.1.11)
   ``check_not_access_token`` ``typ`` is not ``at+jwt``: an access token is never accepted
                        as an ID token (RFC 9068 §4, RFC 8725 §3.11 explicit typing)
2. ``JwksCache.key_for`` the JWK for ``kid`` + ``alg`` from the cached JWKS; an unknown
                        ``kid`` makes the cache fetch the JWKS once more (key rotation)
3. ``verify_signature`` python-jose ``jws.verify`` with exactly that key and that one algorithm
4. ``check_issuer``     ``iss`` equals the configured issuer, exact string match (step 2)
5. ``check_audience``   ``aud`` contains our ``client_id`` and no audience we do not trust (step 3)
6. ``check_azp``        ``azp`` equals ``client_id`` when present; required for several audiences
7. ``check_times``      ``exp`` in the future, ``iat`` present and not in the future (steps 9, 10)
8. ``check_nonce``      ``nonce`` equals the value sent in the authorization request (step 11)
9. ``check_at_hash``    ``at_hash`` matches the access token, python-jose's hash (§3.1.3.8)

The steps are public so that :mod:`clients.common.access_tokens` can check JWT access tokens
(RFC 9068 §4) with them.

Nothing here touches the network: the JWKS comes from a fetcher function injected into
:class:`JwksCache`, so tests (and other transports) supply their own.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

from jose import jws
from jose.constants import ALGORITHMS
from jose.exceptions import JOSEError
from jose.utils import calculate_at_hash

from .errors import PortalError

# Signature algorithms we accept, with the JWK type (and curve) each needs. Symmetric (HS*)
# and "none" are absent on purpose: the IdP signs with its private keys only.
KEY_TYPES: Final[Mapping[str, tuple[str, str | None]]] = {
    "RS256": ("RSA", None),
    "ES256": ("EC", "P-256"),
}

# RFC 9068 §2.1 / §4: the ``typ`` header of a JWT access token.
ACCESS_TOKEN_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})

JwksFetcher = Callable[[], Mapping[str, Any]]
Clock = Callable[[], float]


class IdTokenError(PortalError):
    """The ID token (or the key material to check it) was rejected.

    ``code`` is stable and meant for logs and tests; ``en`` / ``zh`` are for the error page.
    The messages never contain the token itself.
    """


E = TypeVar("E", bound=PortalError)


def reworded(exc: PortalError, cls: type[E], en: str, zh: str) -> E:
    """``exc`` from a shared step, as ``cls`` naming another kind of token: the steps word
    their messages for ID tokens, and access and logout tokens reuse them."""
    return cls(
        exc.code, exc.en.replace("ID token", en), exc.zh.replace("ID 令牌", zh), status=exc.status
    )


class JwksUnavailableError(IdTokenError):
    """The IdP's JWKS could not be fetched or is not a JWK Set."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            "jwks_unavailable",
            f"The identity provider's signing keys (JWKS) could not be loaded: {detail}",
            f"无法获取统一身份认证平台的签名公钥（JWKS）：{detail}",
            status=502,
        )


# --- JWKS cache --------------------------------------------------------------------------


def _matches(jwk: Mapping[str, Any], kid: str | None, alg: str) -> bool:
    kty, crv = KEY_TYPES[alg]
    return (
        jwk.get("kty") == kty
        and (crv is None or jwk.get("crv") == crv)
        and jwk.get("use", "sig") == "sig"
        and jwk.get("alg", alg) == alg
        and "verify" in jwk.get("key_ops", ["verify"])
        and (kid is None or jwk.get("kid") == kid)
    )


def _find_key(keys: Iterable[Mapping[str, Any]], kid: str | None, alg: str) -> dict[str, Any]:
    """Return the one JWK fit for ``kid`` + ``alg``; raise ``unknown_key`` if there is none."""
    found = [dict(k) for k in keys if _matches(k, kid, alg)]
    if kid is None and len(found) > 1:
        raise IdTokenError(
            "ambiguous_key",
            f"The ID token names no key id (kid) and the JWKS holds {len(found)} {alg} keys.",
            f"ID 令牌未指明密钥标识（kid），而 JWKS 中有 {len(found)} 个 {alg} 密钥。",
        )
    if not found:
        raise IdTokenError(
            "unknown_key",
            f"No {alg} signing key with kid {kid!r} is published in the IdP's JWKS.",
            f"统一身份认证平台的 JWKS 中没有 kid 为 {kid!r} 的 {alg} 签名公钥。",
        )
    return found[0]


class JwksCache:
    """The IdP's JSON Web Key Set, fetched lazily and kept for ``max_age`` seconds.

    When a token names a ``kid`` that the cached set lacks, the set is fetched once more
    before the token is refused: that is how a key rotation at the IdP reaches us.
    Thread-safe; concurrent misses wait for one fetch instead of each starting their own.
    """

    def __init__(
        self, fetch: JwksFetcher, *, max_age: float = 600.0, clock: Clock = time.monotonic
    ) -> None:
        self._fetch = fetch
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: list[Mapping[str, Any]] | None = None
        self._fetched_at = 0.0

    def key_for(self, kid: str | None, alg: str) -> dict[str, Any]:
        with self._lock:
            keys = self._keys
            fetched_now = keys is None or self._clock() - self._fetched_at >= self._max_age
            if keys is None or fetched_now:  # first use, or older than max_age
                keys = self._reload()
            try:
                return _find_key(keys, kid, alg)
            except IdTokenError as exc:
                if fetched_now or exc.code != "unknown_key":
                    raise
            return _find_key(self._reload(), kid, alg)

    def _reload(self) -> list[Mapping[str, Any]]:
        document = self._fetch()
        keys = document.get("keys") if isinstance(document, Mapping) else None
        if not isinstance(keys, list) or not all(isinstance(k, Mapping) for k in keys):
            raise JwksUnavailableError("the response is not a JWK Set")
        self._keys = keys
        self._fetched_at = self._clock()
        return keys


# --- the validation steps ----------------------------------------------------------------


def read_header(token: str) -> dict[str, Any]:
    if not isinstance(token, str) or token.count(".") != 2:
        raise IdTokenError(
            "malformed",
            "The ID token is not a signed JWT (compact JWS).",
            "ID 令牌不是有效的已签名 JWT（JWS 紧凑格式）。",
        )
    try:
        header: dict[str, Any] = jws.get_unverified_header(token)
    except JOSEError:
        raise IdTokenError(
            "malformed",
            "The ID token header cannot be decoded.",
            "无法解析 ID 令牌头部。",
        ) from None
    alg = header.get("alg")
    if alg not in KEY_TYPES:
        raise IdTokenError(
            "bad_alg",
            f"The ID token is signed with {alg!r}; only {', '.join(KEY_TYPES)} are accepted.",
            f"ID 令牌的签名算法为 {alg!r}，仅接受 {'、'.join(KEY_TYPES)}。",
        )
    if "crit" in header:
        raise IdTokenError(
            "bad_header",
            "The ID token header has critical extensions (crit) this client does not support.",
            "ID 令牌头部含有本客户端不支持的关键扩展（crit）。",
        )
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise IdTokenError("bad_header", "The kid header is not a string.", "kid 头部不是字符串。")
    return header


def is_access_token_type(header: Mapping[str, Any]) -> bool:
    """RFC 9068 §4: ``typ`` is ``at+jwt`` or ``application/at+jwt`` (media types ignore case)."""
    typ = header.get("typ")
    return isinstance(typ, str) and typ.lower() in ACCESS_TOKEN_TYPES


def check_not_access_token(header: Mapping[str, Any]) -> None:
    if is_access_token_type(header):
        raise IdTokenError(
            "bad_typ",
            "An access token (typ at+jwt) was presented where an ID token is expected.",
            "在应使用 ID 令牌的位置收到的是访问令牌（typ 为 at+jwt）。",
        )


def verify_signature(token: str, key: Mapping[str, Any], alg: str) -> dict[str, Any]:
    """The claims of a token signed by ``key``, which must name its subject (``sub``)."""
    claims = verify_jws(token, key, alg)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise IdTokenError(
            "missing_sub", "The ID token has no sub.", "ID 令牌缺少 sub（用户标识）。"
        )
    return claims


def verify_jws(token: str, key: Mapping[str, Any], alg: str) -> dict[str, Any]:
    """The JSON object payload of a JWS signed by ``key`` with ``alg``; no claim is checked
    (a logout token may name a session without a ``sub``)."""
    try:
        payload = jws.verify(token, dict(key), algorithms=[alg])
    except JOSEError:
        raise IdTokenError(
            "bad_signature",
            "The ID token signature does not verify with the IdP's published key.",
            "ID 令牌签名无法用统一身份认证平台公布的公钥验证。",
        ) from None
    try:
        claims = json.loads(payload)
    except ValueError:
        claims = None
    if not isinstance(claims, dict):
        raise IdTokenError(
            "malformed", "The ID token payload is not a JSON object.", "ID 令牌载荷不是 JSON 对象。"
        )
    return claims


def check_issuer(claims: Mapping[str, Any], issuer: str) -> None:
    if claims.get("iss") != issuer:
        raise IdTokenError(
            "bad_iss",
            f"The ID token was issued by {claims.get('iss')!r}, not by {issuer!r}.",
            f"ID 令牌的签发者为 {claims.get('iss')!r}，而不是 {issuer!r}。",
        )


def check_audience(
    claims: Mapping[str, Any], client_id: str, trusted: frozenset[str] = frozenset()
) -> None:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        audiences = []
    if client_id not in audiences:
        raise IdTokenError(
            "bad_aud",
            f"The ID token is not meant for this client (aud does not contain {client_id!r}).",
            f"ID 令牌的受众（aud）不包含本客户端的 client_id {client_id!r}。",
        )
    untrusted = set(audiences) - {client_id} - trusted
    if untrusted:
        raise IdTokenError(
            "bad_aud",
            f"The ID token also names audiences this client does not trust: {sorted(untrusted)}.",
            f"ID 令牌的受众中含有本客户端不信任的客户端：{sorted(untrusted)}。",
        )


def check_azp(claims: Mapping[str, Any], client_id: str) -> None:
    aud = claims.get("aud")
    several = isinstance(aud, list) and len(aud) > 1
    if ("azp" in claims and claims["azp"] != client_id) or (several and "azp" not in claims):
        raise IdTokenError(
            "bad_azp",
            f"The ID token's authorized party (azp) is not {client_id!r}.",
            f"ID 令牌的授权方（azp）不是 {client_id!r}。",
        )


def _numeric(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IdTokenError(
            f"missing_{name}",
            f"The ID token has no numeric {name} claim.",
            f"ID 令牌缺少数值型的 {name} 声明。",
        )
    return float(value)


def check_times(claims: Mapping[str, Any], now: float, leeway: float) -> None:
    if _numeric(claims, "exp") <= now - leeway:
        raise IdTokenError("expired", "The ID token has expired.", "ID 令牌已过期。")
    if _numeric(claims, "iat") > now + leeway:
        raise IdTokenError(
            "bad_iat",
            "The ID token was issued in the future (iat); check the clocks.",
            "ID 令牌的签发时间（iat）晚于当前时间，请检查时钟。",
        )
    if "nbf" in claims and _numeric(claims, "nbf") > now + leeway:
        raise IdTokenError("not_yet_valid", "The ID token is not valid yet.", "ID 令牌尚未生效。")


def _equal(got: object, expected: str | None) -> bool:
    """Constant-time equality of a claim with a non-empty expected string."""
    if not (isinstance(got, str) and expected):
        return False
    return hmac.compare_digest(got.encode(), expected.encode())


def check_nonce(claims: Mapping[str, Any], nonce: str | None, required: bool) -> None:
    got = claims.get("nonce")
    if got is None and not required:
        return
    if not _equal(got, nonce):
        raise IdTokenError(
            "bad_nonce",
            "The ID token's nonce does not match this sign-in (possible replay).",
            "ID 令牌的 nonce 与本次登录不符（可能是重放攻击）。",
        )


def check_at_hash(claims: Mapping[str, Any], access_token: str | None, alg: str) -> None:
    if "at_hash" not in claims:
        return
    expected = calculate_at_hash(access_token, ALGORITHMS.HASHES[alg]) if access_token else ""
    if not _equal(claims["at_hash"], expected):
        raise IdTokenError(
            "bad_at_hash",
            "The ID token's at_hash does not match the access token it came with.",
            "ID 令牌的 at_hash 与同时签发的访问令牌不符。",
        )


def validate_id_token(
    token: str,
    jwks: JwksCache,
    *,
    issuer: str,
    client_id: str,
    nonce: str | None,
    access_token: str | None = None,
    nonce_required: bool = True,
    trusted_audiences: frozenset[str] = frozenset(),
    leeway: float = 60.0,
    now: float | None = None,
) -> dict[str, Any]:
    """Return the verified claims of ``token``, or raise :class:`IdTokenError`.

    ``nonce`` is the value this browser sent in the authorization request. After a refresh
    (OIDC Core §12.2) pass the original nonce with ``nonce_required=False``: the new token may
    omit it, but must not carry another one.
    """
    header = read_header(token)
    check_not_access_token(header)
    alg = header["alg"]
    key = jwks.key_for(header.get("kid"), alg)
    claims = verify_signature(token, key, alg)
    check_issuer(claims, issuer)
    check_audience(claims, client_id, trusted_audiences)
    check_azp(claims, client_id)
    check_times(claims, time.time() if now is None else now, leeway)
    check_nonce(claims, nonce, nonce_required)
    check_at_hash(claims, access_token, alg)
    return claims


def check_refreshed(original: Mapping[str, Any], refreshed: Mapping[str, Any]) -> None:
    """OIDC Core §12.2: an ID token from a refresh names the same issuer, subject, audience,
    authorized party and original authentication time as the first one."""
    for name in ("iss", "sub", "aud", "azp", "auth_time"):
        if refreshed.get(name, original.get(name)) != original.get(name):
            raise IdTokenError(
                "refresh_mismatch",
                f"The refreshed ID token changed {name}; it belongs to another sign-in.",
                f"刷新后的 ID 令牌的 {name} 发生变化，不属于本次登录。",
            )
