"""What the comparison runs with: the load parameters (``BENCH_*`` variables) and the fixed
identities both servers are given — the same client ids, secrets, redirect URI and citizen."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from idp.identity import check_character

REPO = Path(__file__).resolve().parents[2]
LUA = Path(__file__).resolve().parent / "lua"
PEER_DIR = REPO / "bench" / "peer"
RESULTS = REPO / "var" / "bench" / "results.json"

PORTAL_ID = "bench-portal"  # a website-channel client: code flow, refresh tokens
SERVICE_ID = "bench-service"  # a service-channel client: client credentials, introspection
REDIRECT_URI = "http://127.0.0.1/bench/callback"  # never contacted: redirects are not followed
SCOPE = "openid profile offline_access"
API_RESOURCE = "urn:bench:api"  # the peer's resource server (RFC 8707): JWT access tokens
API_SCOPE = "api:read"

_ID_BODY = "11010519800101123"  # region 110105, born 1980-01-01, sequence 123


@dataclass(frozen=True)
class Citizen:
    id_number: str = _ID_BODY + check_character(_ID_BODY)
    name: str = "赵敏"
    phone: str = "13900139000"
    password: str = field(default="Bench-2026-citizen", repr=False)

    @property
    def username(self) -> str:
        """What the sign-in form is given (ours accepts the ID number or the phone)."""
        return self.phone


@dataclass(frozen=True)
class LoadSettings:
    """wrk's parameters and the server size: ``BENCH_WORKERS`` (2), ``BENCH_CONNECTIONS``
    (32), ``BENCH_THREADS`` (2), ``BENCH_DURATION`` (10 s), ``BENCH_WARMUP`` (2 s),
    ``BENCH_ROUNDS`` (1) and ``BENCH_ENDPOINTS``: a comma-separated subset of the endpoint
    names (default all)."""

    workers: int = 2
    connections: int = 32
    threads: int = 2
    duration: float = 10.0
    warmup: float = 2.0
    endpoints: tuple[str, ...] = ()
    rounds: int = 1  # loads of each endpoint per server, alternating; the median is reported
    timeout: float = 30.0  # wrk --timeout: a slower answer is an error, not a latency

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> LoadSettings:
        environ = dict(os.environ if env is None else env)

        def number(name: str, default: float, minimum: float) -> float:
            raw = environ.get(name, "").strip().removesuffix("s")
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SystemExit(f"{name} must be a number, got {raw!r}") from None
            if value < minimum:
                raise SystemExit(f"{name} must be at least {minimum:g}, got {raw!r}")
            return value

        threads = int(number("BENCH_THREADS", 2, 1))
        connections = max(threads, int(number("BENCH_CONNECTIONS", 32, 1)))
        endpoints = tuple(e.strip() for e in environ.get("BENCH_ENDPOINTS", "").split(",")
                          if e.strip())
        return cls(workers=int(number("BENCH_WORKERS", 2, 1)), connections=connections,
                   threads=threads, duration=number("BENCH_DURATION", 10, 1),
                   warmup=number("BENCH_WARMUP", 2, 0), endpoints=endpoints,
                   rounds=int(number("BENCH_ROUNDS", 1, 1)))

    def wrk_args(self) -> list[str]:
        return [f"-t{self.threads}", f"-c{self.connections}", "--latency",
                "--timeout", f"{self.timeout:g}s"]
