"""The ephemeral store on Redis, used when ``IDP_REDIS_URL`` is set (DESIGN.md §4).

Every node of a cluster shares one Redis, so sessions, codes and rate-limit counters are seen by
all of them. Redis does the expiry itself; this class only maps the :class:`EphemeralStore`
operations onto single atomic commands:

* ``consume`` is ``GETDEL`` (Redis ≥ 6.2): of any number of concurrent redemptions of one
  authorization code, exactly one receives it.
* ``add`` is ``SET NX EX``; ``replace`` is ``SET XX KEEPTTL``.
* ``incr`` runs ``INCR`` and, when the result is 1, ``EXPIRE`` in one Lua script, so a counter
  can never be left without its window even if the client dies between the two.
* ``set_add`` runs ``SADD`` and ``EXPIRE`` in one ``MULTI``/``EXEC`` transaction.

Values are JSON text. All keys carry ``prefix`` so several deployments (or test runs) can share
one server. Nothing connects at construction; :meth:`RedisStore.ping` reports reachability.
"""

from __future__ import annotations

import json
from typing import cast
from urllib.parse import urlsplit

import redis

from idp.errors import ConfigError
from idp.store.ephemeral.base import Value

_SCHEMES = ("redis", "rediss", "unix")

# INCR, and give the key its window only on the first increment: a fixed-window counter.
_INCR_WITH_WINDOW = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return n
"""


def _encode(value: Value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _decode(raw: object) -> Value | None:
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return cast(Value, json.loads(cast(str, raw)))


class RedisStore:
    """:class:`~idp.store.ephemeral.base.EphemeralStore` on a Redis server."""

    def __init__(
        self,
        url: str,
        prefix: str = "idp:",
        *,
        socket_timeout: float = 5.0,
        max_connections: int | None = None,
    ) -> None:
        scheme = urlsplit(url).scheme
        if scheme not in _SCHEMES:
            # Never echo the URL itself: it may carry a password.
            raise ConfigError(
                f"invalid Redis URL: scheme {scheme!r} is not one of redis://, rediss://, "
                "unix:// (check IDP_REDIS_URL)"
            )
        try:
            self._pool = redis.ConnectionPool.from_url(
                url,
                decode_responses=True,
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_timeout,
                max_connections=max_connections,
                health_check_interval=30,  # PING a connection idle this long before reuse
            )
        except ValueError as exc:
            raise ConfigError(f"invalid Redis URL: {exc} (check IDP_REDIS_URL)") from exc
        self._client = redis.Redis(connection_pool=self._pool)
        self._incr = self._client.register_script(_INCR_WITH_WINDOW)
        self.prefix = prefix

    def _k(self, key: str) -> str:
        return self.prefix + key

    def put(self, key: str, value: Value, ttl: int) -> None:
        self._client.set(self._k(key), _encode(value), ex=ttl)

    def add(self, key: str, value: Value, ttl: int) -> bool:
        return bool(self._client.set(self._k(key), _encode(value), ex=ttl, nx=True))

    def replace(self, key: str, value: Value) -> bool:
        return bool(self._client.set(self._k(key), _encode(value), xx=True, keepttl=True))

    def get(self, key: str) -> Value | None:
        return _decode(self._client.get(self._k(key)))

    def consume(self, key: str) -> Value | None:
        return _decode(self._client.getdel(self._k(key)))

    def delete(self, key: str) -> bool:
        return bool(self._client.delete(self._k(key)))

    def ttl(self, key: str) -> int | None:
        seconds = self._client.ttl(self._k(key))
        # -2: absent; -1: no expiry (never set through this interface).
        return seconds if seconds >= 0 else None

    def expire(self, key: str, ttl: int) -> bool:
        return bool(self._client.expire(self._k(key), ttl))

    def incr(self, key: str, ttl: int) -> int:
        return int(cast(int, self._incr(keys=[self._k(key)], args=[ttl])))

    def count(self, key: str) -> int:
        raw = self._client.get(self._k(key))
        return 0 if raw is None else int(cast(str, raw))

    def set_add(self, key: str, member: str, ttl: int) -> None:
        with self._client.pipeline(transaction=True) as pipe:
            pipe.sadd(self._k(key), member)
            pipe.expire(self._k(key), ttl)
            pipe.execute()

    def set_remove(self, key: str, member: str) -> None:
        self._client.srem(self._k(key), member)

    def set_members(self, key: str) -> set[str]:
        return set(cast(set[str], self._client.smembers(self._k(key))))

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except (redis.RedisError, OSError):
            return False

    def close(self) -> None:
        self._client.close()
        self._pool.disconnect()
