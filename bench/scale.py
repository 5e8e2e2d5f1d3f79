"""Scale bench (issue 7, "Scale"; docs/scale.md): the sign-in lookup at 10 thousand and at 10
million citizens in PostgreSQL, and the Redis memory of an SSO session.

``.venv/bin/python -m bench.scale [--citizens 10000000] [--small 10000] [--sessions 100000]``

1. PostgreSQL and Redis from the test fixtures (``tests.fixtures.services``; apt-installed when
   missing), data under ``--workdir`` (default: the system temporary directory), with the
   memory settings of a database server (:data:`PG_CONF`); ``idp init``.
2. ``idp seed-bench`` to ``--small`` citizens; ``VACUUM (ANALYZE)``; the sign-in lookup
   (``bench.scale_lookups``: ``AccountService.find_by_username``, what the sign-in page runs
   before argon2) for ``--samples`` random existing citizens, half by ID number, half by
   phone, in process.
3. ``idp seed-bench`` up to ``--citizens`` in the same database; ``VACUUM (ANALYZE)``; the same
   lookups; the ratio of the p99s.
4. Against the drift of a shared machine between 2 and 3: a second database seeded to
   ``--small``, measured in alternate rounds with the large one — the sign-in lookup, then the
   database's part of it alone.
5. ``--sessions`` SSO sessions in Redis (``bench.scale_sessions``): bytes per session and the
   projection for a million.

Everything is printed as it comes, and the figures as JSON at the end (``--json FILE`` too).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from bench.scale_lookups import alternate, app_lookups, db_lookups, split, wait_quiet
from bench.scale_sessions import measure_sessions
from idp.accounts.bench_citizens import BenchCitizens
from idp.config import load_settings
from idp.container import Services, build_services
from tests.fixtures.services import start_postgres, start_redis

PG_CONF = """
shared_buffers = {shared_buffers}   # bench.scale: a database server's memory settings
effective_cache_size = 12GB
maintenance_work_mem = 512MB
max_wal_size = 8GB                  # a bulk load: fewer checkpoints
checkpoint_timeout = 30min
"""
SEED = "bench"


def log(message: str) -> None:
    print(message, flush=True)


def idp(env: dict[str, str], *args: str) -> dict[str, Any]:
    """``idp ARGS --json`` in a child process (its progress lines go to our stderr)."""
    result = subprocess.run(  # noqa: S603 — our own interpreter and arguments
        [sys.executable, "-m", "idp.cli.main", *args, "--json"], env=env,
        stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"idp {' '.join(args)} failed ({result.returncode})")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def analyze(engine: Engine) -> None:
    """``VACUUM (ANALYZE)``: statistics, and the hint bits and visibility map a bulk load
    leaves unset — else the first lookups of each page write it, and autovacuum runs (long,
    on 10 million rows) in the middle of the measurement."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)"))


def sizes(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT pg_database_size(current_database()), pg_table_size('accounts'), "
            "pg_indexes_size('accounts')")).one()
    return {"database_bytes": row[0], "accounts_table_bytes": row[1],
            "accounts_indexes_bytes": row[2]}


def explain(svc: Services, id_number: str) -> list[str]:
    """The plan and buffers of the lookup by blind index (what find_by_username runs)."""
    with svc.engine.connect() as conn:
        rows = conn.execute(text(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM accounts "
            "WHERE id_number_bidx = :bidx"), {"bidx": svc.protector.index(id_number)}).all()
    return [row[0] for row in rows]


def timed(step: str, action: Callable[[], Any]) -> Any:
    log(f"== {step}")
    began = time.monotonic()
    value = action()
    log(f"   {step}: {time.monotonic() - began:.1f} s")
    return value


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=10_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=20_000, help="lookups per measurement")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--shared-buffers", default="4GB", help="PostgreSQL shared_buffers")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where PostgreSQL and the keys live (not /dev/shm)")
    parser.add_argument("--quiet-cpus", type=float, default=0.3,
                        help="before measuring, wait until others use at most this many CPUs")
    parser.add_argument("--quiet-wait", type=float, default=1200,
                        help="... but at most this many seconds (0: do not wait)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    if not 0 < args.small < args.citizens:
        raise SystemExit("need 0 < --small < --citizens")
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        os.environ["TMPDIR"] = str(args.workdir)  # start_postgres makes its directory there
        tempfile.tempdir = None
    root = Path(tempfile.mkdtemp(prefix="idp-scale-"))
    rng, citizens = random.Random(2026), BenchCitizens(SEED)  # noqa: S311 — not a secret
    results: dict[str, Any] = {"citizens": args.citizens, "small": args.small,
                               "cpus": os.cpu_count(), "shared_buffers": args.shared_buffers}

    def quiet(step: str) -> None:
        results[f"busy_cpus_{step}"] = wait_quiet(args.quiet_cpus, args.quiet_wait, log)

    def seed(env: dict[str, str], count: int) -> Any:
        return timed(f"seed-bench to {count:,}", lambda: idp(
            env, "seed-bench", "--citizens", str(count), "--batch", str(args.batch)))

    pg = start_postgres(PG_CONF.format(shared_buffers=args.shared_buffers))
    rds = start_redis()
    opened: list[Services] = []
    try:
        base = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
        base |= {"IDP_KEYS_DIR": str(root / "keys"), "IDP_DATA_DIR": str(root / "var"),
                 "IDP_REDIS_URL": rds.url}
        env = {**base, "IDP_DATABASE_URL": pg.create_database("idp_large")}
        control_env = {**base, "IDP_DATABASE_URL": pg.create_database("idp_small")}
        idp(env, "init")
        idp(control_env, "init")
        large = build_services(load_settings(env))
        opened.append(large)

        # 1. The database at --small citizens.
        results["seed_small"] = seed(env, args.small)
        timed("VACUUM (ANALYZE)", lambda: analyze(large.engine))
        quiet("small")
        results["lookup_small"] = timed("lookups", lambda: split(
            app_lookups(large.accounts, citizens, args.small, rng)(args.samples)))
        log(json.dumps(results["lookup_small"]))
        results["explain_small"] = explain(large, citizens.id_number(0))

        # 2. The same database grown to --citizens.
        results["seed_large"] = seed(env, args.citizens)
        timed("VACUUM (ANALYZE)", lambda: analyze(large.engine))
        results["sizes_large"] = sizes(large.engine)
        log(json.dumps(results["sizes_large"]))
        quiet("large")
        results["lookup_large"] = timed("lookups", lambda: split(
            app_lookups(large.accounts, citizens, args.citizens, rng)(args.samples)))
        log(json.dumps(results["lookup_large"]))
        results["explain_large"] = explain(large, citizens.id_number(args.citizens - 1))
        results["p99_ratio"] = round(results["lookup_large"]["all"]["p99_us"]
                                     / results["lookup_small"]["all"]["p99_us"], 3)
        log(f"p99 large/small: {results['p99_ratio']}")

        # 3. Control: a second database at --small, measured in alternate rounds with it.
        seed(control_env, args.small)
        control = build_services(load_settings(control_env))
        opened.append(control)
        analyze(control.engine)
        quiet("alternate")
        results["alternate"] = timed("alternate rounds, sign-in lookup", lambda: alternate(
            app_lookups(control.accounts, citizens, args.small, rng),
            app_lookups(large.accounts, citizens, args.citizens, rng), args.samples))
        log(json.dumps(results["alternate"]))
        results["alternate_db"] = timed("alternate rounds, database only", lambda: alternate(
            db_lookups(control.engine, control.protector, citizens, args.small, rng),
            db_lookups(large.engine, large.protector, citizens, args.citizens, rng),
            args.samples))
        log(json.dumps(results["alternate_db"]))

        # 4. SSO sessions in Redis.
        results["sessions"] = timed(f"{args.sessions:,} SSO sessions", lambda: measure_sessions(
            large.sso, rds.url, large.settings.redis.prefix, citizens.account_id,
            min(args.sessions, args.citizens), log=log))
    finally:
        for svc in opened:
            svc.close()
        pg.stop()
        rds.stop()
        shutil.rmtree(root, ignore_errors=True)
    out = json.dumps(results, ensure_ascii=False, indent=2)
    print(out, flush=True)
    if args.json is not None:
        args.json.write_text(out + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
