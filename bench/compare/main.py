"""``make bench``: our IdP against node-oidc-provider, endpoint by endpoint (docs/performance.md).

1. Redis and PostgreSQL (tests.fixtures.services), our ``idp serve`` and the peer's cluster.
2. Each server: a citizen signs in and consents once in a browser-like session; the token
   formats are decoded and checked.
3. Each endpoint, ours then the peer: build its request pool (single-use pools sized from a
   short warm-up run), warm up, load with wrk for ``BENCH_DURATION`` seconds.
4. Codes and refresh tokens replayed must fail, on both; the argon2id budget is measured.
5. The table is printed and written to var/bench/results.json. Exit 1 if any request failed.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.compare import checks
from bench.compare.config import RESULTS, Citizen, LoadSettings
from bench.compare.endpoints import ACCESS_TOKENS, ENDPOINTS, LOAD_ORDER, Endpoint
from bench.compare.flows import Browser
from bench.compare.load import Measured, run, write_pool
from bench.compare.material import Maker
from bench.compare.report import Argon2Budget, Results, measure_argon2
from bench.compare.servers import Server, peer_config, start_ours, start_peer
from bench.compare.stack import Stack, free_port
from idp.config import Settings, load_settings

SIGN_IN_WARMUP = 96  # sign-in forms for the warm-up run (argon2id: tens a second)
TOKEN_WARMUP = 300  # codes / refresh tokens for a warm-up run
MARGIN = 1.3  # single-use pools hold this many times what the warm-up rate needs
SERIAL_SIGN_INS = 30  # sign-ins one at a time, after the sign-in load
SERIAL_SECONDS = 4.0
PREP_BUDGET = 45.0  # seconds at most to make one single-use pool (codes: less, they expire)


def selected(load: LoadSettings) -> list[Endpoint]:
    by_name = {e.name: e for e in ENDPOINTS}
    unknown = [n for n in load.endpoints if n not in by_name]
    if unknown:
        raise SystemExit(f"BENCH_ENDPOINTS: unknown {unknown}; known: {', '.join(by_name)}")
    wanted = set(load.endpoints or by_name)
    return [by_name[n] for n in LOAD_ORDER if n in wanted]


def measure(endpoint: Endpoint, maker: Maker, pools: Path, load: LoadSettings,
            code_budget: float, results: Results) -> Measured:
    """Warm up, then load. A single-use pool is sized from the warm-up's rate, and each
    request of a warm-up or a load is a fresh item; a pool that runs out ends its load early
    (the rate is over the time it lasted, and the table says so)."""
    url, side = maker.server.url, maker.server.name
    pool = pools / side / f"{endpoint.name}.pool"
    if endpoint.single_use:
        sign_in = endpoint.name == "sign_in"
        budget = code_budget if endpoint.name == "authorization_code" else PREP_BUDGET
        lines = endpoint.build(maker, SIGN_IN_WARMUP if sign_in else TOKEN_WARMUP, budget)
        warm = run(url, endpoint, write_pool(pool, lines), max(2.0, load.warmup), load)
        _warm_errors(results, endpoint, side, warm)
        _settle(warm)
        wanted = math.ceil(warm.rps * load.duration * MARGIN) + load.connections
        if sign_in:  # forms are cheap to make, and few sign-ins finish in a warm-up
            wanted = max(wanted, 4 * load.connections)
        lines = endpoint.build(maker, wanted, budget)
    else:
        lines = endpoint.build(maker, ACCESS_TOKENS, code_budget)
        if load.warmup > 0:
            warm = run(url, endpoint, write_pool(pool, lines), load.warmup, load)
            _warm_errors(results, endpoint, side, warm)
            _settle(warm)
    write_pool(pool, lines)
    measured = run(url, endpoint, pool, load.duration, load)
    errors = f", {measured.errors} ERRORS {measured.statuses}" if measured.errors else ""
    print(f"  {side:4} {endpoint.title:28} {measured.rps:8.1f} req/s  p50 "
          f"{measured.p50_ms:6.1f} ms  p99 {measured.p99_ms:6.1f} ms{errors}", flush=True)
    _settle(measured)
    if endpoint.name == "sign_in":
        results.serial[side] = _one_at_a_time(endpoint, maker, pool, load)
    return measured


def _one_at_a_time(endpoint: Endpoint, maker: Maker, pool: Path, load: LoadSettings) -> Measured:
    """Sign-ins one after another on one connection: the time one costs, without queueing."""
    lines = endpoint.build(maker, SERIAL_SIGN_INS, PREP_BUDGET)
    serial = replace(load, threads=1, connections=1)
    measured = run(maker.server.url, endpoint, write_pool(pool, lines), SERIAL_SECONDS, serial)
    print(f"  {maker.server.name:4} sign-in POST one at a time: p50 {measured.p50_ms:.1f} ms",
          flush=True)
    _settle(measured)
    return measured


def _settle(after: Measured) -> None:
    """Let the server finish what the last run left queued (wrk stops reading, the server
    does not stop working) before the next measurement starts."""
    time.sleep(min(5.0, 0.5 + 1.5 * after.p99_ms / 1000))


def _warm_errors(results: Results, endpoint: Endpoint, side: str, warm: Measured) -> None:
    if warm.errors:
        note = (f"warm-up of {endpoint.title} on {side}: {warm.errors} errors "
                f"{warm.statuses} (socket {warm.socket_errors}, timeouts {warm.timeouts})")
        print(f"  {note}", flush=True)
        results.notes.append(note)


def bench(root: Path, load: LoadSettings, endpoints: list[Endpoint], results: Results) -> None:
    citizen = Citizen()
    defaults = load_settings({k: v for k, v in os.environ.items() if not k.startswith("IDP_")})
    results.argon2 = _argon2(defaults, load)  # first, while none of our servers runs
    with Stack() as stack:
        redis, postgres = stack.redis(), stack.postgres()
        ours, settings, account_id = start_ours(stack, root / "ours", load, redis, postgres,
                                                citizen)
        peer = start_peer(stack, root / "peer", peer_config(
            free_port(), load, redis, settings, citizen, account_id,
            (ours.portal_secret, ours.service_secret)))
        try:
            makers = {}
            for server in (ours, peer):
                browser = Browser(server, citizen)
                browser.sign_in()
                maker = makers[server.name] = Maker(server, browser)
                results.tokens[server.name] = checks.token_formats(maker)
                results.versions[server.name] = server.versions
            code_budget = max(5.0, settings.tokens.authorization_code_ttl - load.duration - 15)
            for endpoint in endpoints:
                print(f"{endpoint.title}:", flush=True)
                if endpoint.name == "sign_in":  # the budget again, just before it counts
                    results.argon2 = _argon2(settings, load).best(results.argon2)
                rounds: dict[str, list[Measured]] = {"ours": [], "peer": []}
                for _ in range(load.rounds):  # alternating: the machine's noise hits both
                    for side, done in rounds.items():
                        done.append(measure(endpoint, makers[side], root / "pools", load,
                                            code_budget, results))
                for side, done in rounds.items():
                    results.add(endpoint.name, side, done)
            for side, maker in makers.items():
                results.single_use[side] = checks.single_use(maker)
        except BaseException:
            _show_logs(ours, peer)
            raise


def _argon2(settings: Settings, load: LoadSettings) -> Argon2Budget:
    p = settings.passwords
    return measure_argon2(p.time_cost, p.memory_cost, p.parallelism, load.workers)


def _show_logs(*servers: Server) -> None:
    for server in servers:
        print(f"--- {server.name} log (tail) ---\n{server.child.tail()}", file=sys.stderr)


def main() -> int:
    load = LoadSettings.from_env()
    endpoints = selected(load)
    results = Results(settings={
        "workers": load.workers, "wrk": {"threads": load.threads,
                                         "connections": load.connections,
                                         "duration_s": load.duration,
                                         "warmup_s": load.warmup,
                                         "timeout_s": load.timeout}})
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp:
        bench(Path(tmp), load, endpoints, results)
    print()
    print(f"our IdP vs node-oidc-provider — {load.workers} workers each, wrk -t{load.threads} "
          f"-c{load.connections} -d{load.duration:g}s"
          + (f", median of {load.rounds} rounds" if load.rounds > 1 else "")
          + f", {time.monotonic() - began:.0f} s in all")
    print(results.table())
    results.write(RESULTS)
    print(f"\nwritten: {RESULTS}")
    if results.errors():
        print(f"FAILED: {results.errors()} requests did not succeed (see the notes above)",
              file=sys.stderr)
        return 1
    return 0
