"""Timing the sign-in lookup (issue 7, "Scale"; docs/scale.md), for ``bench.scale``.

The lookup is :meth:`idp.accounts.services.AccountService.find_by_username` — what the sign-in
page runs before argon2 — by ID number (parsed, blind-indexed with HMAC-SHA256) and by phone,
in process. ``db`` times only the database's part of it: the same ``SELECT`` by blind index or
phone, prepared, on one psycopg connection.

This machine is shared: a latency tail measured while someone else loads the CPUs measures
their load. So a measurement waits until the machine is quiet (:func:`wait_quiet`), and the
comparison of two databases runs in alternate short rounds (:func:`alternate`), reporting with
the overall p99 the median over rounds of each round's p99, and an A/A ratio — one database
against itself, even rounds against odd — that shows how much of a difference is noise.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from idp.accounts.bench_citizens import BenchCitizens
from idp.accounts.services import AccountService
from idp.identity import IdNumberProtector

Measure = Callable[[int], list[float]]  # n lookups -> seconds each


def usernames(citizens: BenchCitizens, population: int, count: int,
              rng: random.Random) -> list[str]:
    """``count`` random existing citizens (with repeats), alternately by ID number and by
    phone."""
    chosen = (rng.randrange(population) for _ in range(count))
    return [citizens.id_number(i) if n % 2 == 0 else citizens.phone(i)
            for n, i in enumerate(chosen)]


def lookup_times(accounts: AccountService, names: list[str]) -> list[float]:
    """Seconds each sign-in lookup took (no argon2: the account is only found)."""
    times = []
    for name in names:
        began = time.perf_counter()
        account = accounts.find_by_username(name)
        times.append(time.perf_counter() - began)
        if account is None:
            raise SystemExit("a seeded citizen was not found: the bench is broken")
    return times


def app_lookups(accounts: AccountService, citizens: BenchCitizens, population: int,
                rng: random.Random) -> Measure:
    return lambda count: lookup_times(accounts, usernames(citizens, population, count, rng))


def db_lookups(engine: Engine, protector: IdNumberProtector, citizens: BenchCitizens,
               population: int, rng: random.Random) -> Measure:
    """The database's part only: prepared SELECTs by blind index / phone, one connection."""
    def measure(count: int) -> list[float]:
        keys = []
        for n in range(count):
            index = rng.randrange(population)
            keys.append(("id_number_bidx", protector.index(citizens.id_number(index)))
                        if n % 2 == 0 else ("phone", citizens.phone(index)))
        connection = engine.raw_connection()
        try:
            times = []
            with connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                for column, value in keys:
                    began = time.perf_counter()
                    cursor.execute(f"SELECT * FROM accounts WHERE {column} = %s",  # noqa: S608
                                   (value,), prepare=True)
                    found = cursor.fetchone()
                    times.append(time.perf_counter() - began)
                    if found is None:
                        raise SystemExit("a seeded citizen was not found: the bench is broken")
            connection.rollback()
        finally:
            connection.close()
        return times
    return measure


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)

    def micro(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6, 1)

    return {"n": len(ordered), "p50_us": micro(0.50), "p99_us": micro(0.99),
            "mean_us": round(sum(ordered) / len(ordered) * 1e6, 1)}


def split(times: list[float]) -> dict[str, Any]:
    """Summaries of all lookups, and of those by ID number (even) and by phone (odd)."""
    return {"all": summary(times), "by_id_number": summary(times[0::2]),
            "by_phone": summary(times[1::2])}


def alternate(small: Measure, large: Measure, samples: int, rounds: int = 80) -> dict[str, Any]:
    """``small`` and ``large`` in alternate rounds (order swapped every round), so a drift of
    the machine weighs on both alike; ``samples`` lookups each in all."""
    chunks: dict[str, list[list[float]]] = {"small": [], "large": []}
    small(200), large(200)  # warm-up
    for round_no in range(rounds):
        order = [("small", small), ("large", large)]
        for name, measure in order if round_no % 2 == 0 else order[::-1]:
            chunks[name].append(measure(max(samples // rounds, 2)))
    result: dict[str, Any] = {}
    for name, runs in chunks.items():
        result[name] = summary([t for run in runs for t in run])
        result[name]["p99_round_median_us"] = round(
            statistics.median(summary(run)["p99_us"] for run in runs), 1)
    for key in ("p99_us", "p99_round_median_us", "p50_us"):
        result[f"ratio_{key.removesuffix('_us')}"] = round(
            result["large"][key] / result["small"][key], 3)
    even, odd = ([t for run in chunks["small"][start::2] for t in run] for start in (0, 1))
    result["aa_ratio_p99"] = round(summary(even)["p99_us"] / summary(odd)["p99_us"], 3)
    return result


def busy_cpus(window: float = 5.0) -> float:
    """CPUs busy over ``window`` seconds, machine-wide (``/proc/stat``)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # total, idle + iowait

    total0, idle0 = sample()
    time.sleep(window)
    total1, idle1 = sample()
    return (1 - (idle1 - idle0) / max(total1 - total0, 1)) * (os.cpu_count() or 1)


def wait_quiet(limit: float, max_wait: float, log: Callable[[str], None]) -> float:
    """Wait (at most ``max_wait`` s) until at most ``limit`` CPUs are busy; the last figure."""
    deadline = time.monotonic() + max_wait
    while True:
        busy = busy_cpus()
        if busy <= limit or time.monotonic() >= deadline:
            log(f"   machine: {busy:.2f} CPUs busy before measuring")
            return round(busy, 2)
        log(f"   machine busy ({busy:.2f} CPUs in use): waiting")
