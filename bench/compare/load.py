"""One wrk run over a request pool, and what it measured (``BENCH_RESULT`` from pool.lua)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.compare.config import LUA, LoadSettings
from bench.compare.endpoints import Endpoint

MARK = "BENCH_RESULT "


@dataclass(frozen=True)
class Measured:
    """One load of one endpoint on one server. ``rps`` counts successful answers only, over
    the time from the first request sent to the last answer read."""

    items: int  # requests in the pool (per thread for cycled pools)
    ok: int
    failed: int  # answered with another status, or without the expected body
    statuses: dict[str, int]  # failed answers by status
    socket_errors: int  # wrk's connect/read/write errors
    timeouts: int
    unanswered: int  # sent but not read when wrk's duration ended (in flight then)
    exhausted: bool  # a single-use pool ran out before the duration did
    elapsed: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    wrk_stdout: str = field(default="", repr=False)

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def errors(self) -> int:
        """Everything that was not a success: wrong status or body, socket errors,
        timeouts (unanswered requests at the stop are not errors)."""
        return self.failed + self.socket_errors + self.timeouts

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("wrk_stdout")
        data.update(rps=round(self.rps, 1), errors=self.errors,
                    elapsed=round(self.elapsed, 3))
        for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
            data[key] = round(data[key], 2)
        return data


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed (bench/run.sh installs it with apt-get)")
    return found


def run(url: str, endpoint: Endpoint, pool: Path, seconds: float,
        load: LoadSettings) -> Measured:
    argv = [wrk_binary(), *load.wrk_args(), f"-d{max(1, math.ceil(seconds))}s",
            "-s", str(LUA / "pool.lua"), url, "--", str(pool), endpoint.mode, endpoint.ok,
            str(load.threads), endpoint.pattern]
    env = {**os.environ, "BENCH_POOL_ONCE": "1" if endpoint.single_use else "0"}
    result = subprocess.run(argv, capture_output=True, text=True, env=env,  # noqa: S603
                            timeout=seconds + load.timeout + 60, check=False)
    found = [ln for ln in result.stdout.splitlines() if ln.startswith(MARK)]
    if result.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr.strip()}\n"
                           f"{result.stdout[-2000:]}")
    data = json.loads(found[-1][len(MARK):])
    latency, wrk = data["latency_us"], data["wrk"]
    return Measured(
        items=int(data["items"]), ok=int(data["ok"]), failed=int(data["failed"]),
        statuses={str(k): int(v) for k, v in (data.get("statuses") or {}).items()},
        socket_errors=int(wrk["connect_errors"] + wrk["read_errors"] + wrk["write_errors"]),
        timeouts=int(wrk["timeouts"]), unanswered=max(0, int(data["unanswered"])),
        exhausted=endpoint.single_use and int(data["exhausted_threads"]) > 0,
        elapsed=float(data["elapsed_s"]),
        p50_ms=latency["p50"] / 1000, p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000, max_ms=latency["max"] / 1000,
        wrk_stdout="\n".join(ln for ln in result.stdout.splitlines()
                             if not ln.startswith(MARK)))


def write_pool(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)  # client secrets, tokens
    return path
