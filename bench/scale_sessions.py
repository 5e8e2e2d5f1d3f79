"""The Redis memory of SSO sessions (issue 7, "Scale"; docs/scale.md), for ``bench.scale``.

Sessions are made by the real code — :class:`idp.sessions.SessionService` on
:class:`idp.store.ephemeral.RedisStore`, as ``build_services`` wires them — with the content of
a real password sign-in (``amr=["pwd"]``, ``acr="L1"``, a desktop Chrome User-Agent) joined by
two clients (a website and the app, as the authorization-code grant records them). Reported:
``INFO memory`` used_memory before and after, so bytes per session with every key it costs
(the session record and the account's set of sids); ``MEMORY USAGE`` of sampled keys; the
stored JSON, field by field.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Callable
from typing import Any

import redis

from idp.sessions import SessionService

USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36")
GIB = 1024**3


def _memory_usage(client: redis.Redis, keys: list[str]) -> float:
    sizes = [int(client.memory_usage(key, samples=0) or 0) for key in keys]
    return sum(sizes) / len(sizes)


def field_bytes(value: dict[str, Any]) -> dict[str, int]:
    """Bytes each field takes in the stored JSON (its ``"name":value,``)."""
    return {name: len(json.dumps({name: item}, ensure_ascii=False,
                                 separators=(",", ":")).encode()) - 1
            for name, item in value.items()}


def measure_sessions(sso: SessionService, redis_url: str, prefix: str,
                     account_ids: Callable[[int], str], count: int, *,
                     sample: int = 1000, log: Callable[[str], None] = print) -> dict[str, Any]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        client.memory_purge()
        before = int(client.info("memory")["used_memory"])
        website, app = f"website-{secrets.token_hex(8)}", f"app-{secrets.token_hex(8)}"
        sids = []
        for index in range(count):
            session = sso.start(account_ids(index), amr=["pwd"], acr="L1",
                                user_agent=USER_AGENT)
            session = sso.add_client(session, website, "website")
            sso.add_client(session, app, "app")
            sids.append(session.sid)
            if (index + 1) % 20_000 == 0:
                log(f"  {index + 1:,} sessions")
        after = int(client.info("memory")["used_memory"])
        chosen = random.Random(7).sample(range(count), min(sample, count))  # noqa: S311
        session_keys = [f"{prefix}sso:{sids[i]}" for i in chosen]
        account_keys = [f"{prefix}sso:account:{account_ids(i)}" for i in chosen]
        stored = client.get(session_keys[0])
        assert isinstance(stored, str)  # noqa: S101 — just written
        per_session = (after - before) / count
        return {
            "sessions": count,
            "used_memory_before": before,
            "used_memory_after": after,
            "bytes_per_session": round(per_session, 1),
            "projected_gib_per_million": round(per_session * 1_000_000 / GIB, 3),
            "memory_usage_session_key": round(_memory_usage(client, session_keys), 1),
            "memory_usage_account_set": round(_memory_usage(client, account_keys), 1),
            "account_set_encoding": client.object("encoding", account_keys[0]),
            "json_bytes": len(stored.encode()),
            "json_field_bytes": field_bytes(json.loads(stored)),
            "redis_version": client.info("server")["redis_version"],
        }
    finally:
        client.close()
