"""The comparison table (printed), its JSON (``var/bench/results.json``) and the argon2id
budget that bounds any sign-in endpoint: verifications per second of one core, times workers."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from bench.compare.endpoints import ENDPOINTS
from bench.compare.load import Measured


@dataclass(frozen=True)
class Argon2Budget:
    time_cost: int
    memory_cost: int
    parallelism: int
    per_core: float  # verifications per second, one thread
    workers: int

    def best(self, other: Argon2Budget | None) -> Argon2Budget:
        return self if other is None or self.per_core >= other.per_core else other

    @property
    def budget(self) -> float:
        return self.per_core * self.workers

    def as_dict(self) -> dict[str, Any]:
        return {"time_cost": self.time_cost, "memory_cost_kib": self.memory_cost,
                "parallelism": self.parallelism, "per_core_per_s": round(self.per_core, 1),
                "workers": self.workers, "budget_per_s": round(self.budget, 1)}


def measure_argon2(time_cost: int, memory_cost: int, parallelism: int, workers: int,
                   samples: int = 6, seconds: float = 0.5) -> Argon2Budget:
    """argon2-cffi (what ours verifies with) on this thread, with our ``[passwords]``: the best
    of a few short samples, so that a neighbour's burst on this shared machine lowers it less
    (the budget is what the cores can do, not what they did while busy)."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost,
                            parallelism=parallelism)
    digest = hasher.hash("Bench-2026-citizen")
    hasher.verify(digest, "Bench-2026-citizen")  # warm: the first allocation is slower
    best = 0.0
    for _ in range(samples):
        count, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            hasher.verify(digest, "Bench-2026-citizen")
            count += 1
        best = max(best, count / (time.perf_counter() - began))
    return Argon2Budget(time_cost, memory_cost, parallelism, best, workers)


@dataclass
class Results:
    settings: dict[str, Any]
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: dict[str, Any] = field(default_factory=dict)
    single_use: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, dict[str, Measured]] = field(default_factory=dict)  # endpoint → side
    rounds: dict[str, dict[str, list[Measured]]] = field(default_factory=dict)
    serial: dict[str, Measured] = field(default_factory=dict)  # side → sign-ins, -c1
    argon2: Argon2Budget | None = None
    notes: list[str] = field(default_factory=list)

    def add(self, endpoint: str, side: str, rounds: list[Measured]) -> None:
        """The loads of one endpoint on one server: the one with the median rate stands for
        them (all of their errors count); every round's rate goes to the JSON."""
        ranked = sorted(rounds, key=lambda m: m.rps)
        self.measured.setdefault(endpoint, {})[side] = ranked[(len(ranked) - 1) // 2]
        self.rounds.setdefault(endpoint, {})[side] = rounds

    def errors(self) -> int:
        loads = [m for sides in self.rounds.values() for ms in sides.values() for m in ms]
        return sum(m.errors for m in [*loads, *self.serial.values()])

    def as_dict(self) -> dict[str, Any]:
        rows = []
        for endpoint in ENDPOINTS:
            sides = self.measured.get(endpoint.name)
            if not sides:
                continue
            row: dict[str, Any] = {"endpoint": endpoint.name, "title": endpoint.title}
            for side, measured in sides.items():
                row[side] = measured.as_dict()
                row[side]["rounds_rps"] = [round(m.rps, 1) for m in
                                           self.rounds.get(endpoint.name, {}).get(side, [])]
            if "ours" in sides and "peer" in sides and sides["peer"].rps > 0:
                row["ratio_ours_peer"] = round(sides["ours"].rps / sides["peer"].rps, 3)
            rows.append(row)
        return {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
            "settings": self.settings, "versions": self.versions, "tokens": self.tokens,
            "single_use": self.single_use, "results": rows,
            "argon2id": self.argon2.as_dict() if self.argon2 else None,
            "sign_in_one_at_a_time": {side: m.as_dict() for side, m in self.serial.items()},
            "errors": self.errors(), "notes": self.notes,
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")

    def table(self) -> str:
        head = ("endpoint", "ours req/s", "ours p50", "ours p99", "peer req/s", "peer p50",
                "peer p99", "ours/peer", "non-2xx ours", "non-2xx peer")
        rows: list[tuple[str, ...]] = []
        flags: list[str] = []
        for endpoint in ENDPOINTS:
            sides = self.measured.get(endpoint.name)
            if not sides:
                continue
            ours, peer = sides.get("ours"), sides.get("peer")
            ratio = f"{ours.rps / peer.rps:.2f}" if ours and peer and peer.rps else "-"
            all_rounds = self.rounds.get(endpoint.name, {})
            rows.append((endpoint.title, *_cells(ours), *_cells(peer), ratio,
                         *(_errors(all_rounds.get(side)) for side in ("ours", "peer"))))
            for side, m in sides.items():
                if m.exhausted:
                    flags.append(f"{endpoint.title}, {side}: the pool of {m.items} ran out "
                                 f"after {m.elapsed:.1f} s (req/s is over that time)")
                for n, r in enumerate(self.rounds.get(endpoint.name, {}).get(side, [m]), 1):
                    if r.errors:
                        flags.append(f"{endpoint.title}, {side}, round {n}: {r.errors} errors "
                                     f"— statuses {r.statuses or '{}'}, socket errors "
                                     f"{r.socket_errors}, timeouts {r.timeouts}")
        widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
        lines = [" | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                            for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                 for r in (head, *rows)]
        lines.insert(1, "-+-".join("-" * w for w in widths))
        if self.argon2 is not None:
            a = self.argon2
            lines.append("")
            lines.append(f"argon2id budget (t={a.time_cost}, m={a.memory_cost} KiB, "
                         f"p={a.parallelism}; argon2-cffi, best one-core rate): {a.per_core:.1f} "
                         f"verifications/s × {a.workers} workers = {a.budget:.0f}/s")
            lines.append(f"  one argon2id verification: {1000 / a.per_core:.1f} ms")
            signin = self.measured.get("sign_in", {})
            for side, m in signin.items():
                serial = self.serial.get(side)
                alone = f"; one at a time: p50 {serial.p50_ms:.1f} ms" if serial else ""
                lines.append(f"  sign-in POST {side}: {m.rps:.1f}/s = "
                             f"{m.rps / a.budget:.0%} of the budget{alone}")
        for side, shapes in self.tokens.items():
            described = ", ".join(f"{name} {_shape(shape)}" for name, shape in shapes.items())
            lines.append(f"tokens ({side}, headers decoded): {described}")
        lines.extend(f"note: {flag}" for flag in flags)
        return "\n".join(lines)


def _cells(m: Measured | None) -> tuple[str, str, str]:
    if m is None:
        return "-", "-", "-"
    return f"{m.rps:.0f}", f"{m.p50_ms:.1f} ms", f"{m.p99_ms:.1f} ms"


def _shape(shape: dict[str, Any]) -> str:
    if shape.get("format") != "JWT":
        return str(shape.get("format"))
    return f"{shape.get('alg')}" + (f" {shape['typ']}" if shape.get("typ") else "")


def _errors(rounds: list[Measured] | None) -> str:
    """Failed requests of every round (the table shows the median round's rates)."""
    return "-" if not rounds else str(sum(m.errors for m in rounds))
