"""``idp seed-bench --citizens N``: N synthetic citizens for load tests (docs/scale.md).

Rows like a registration's (valid ID number sealed with the current data key, blind index,
masked form, unique phone), built by :class:`idp.accounts.bench_citizens.BenchSeeder`. Citizen
``i`` of a ``--seed`` is always the same person, so a run with a larger N adds only the missing
ones and a run with the same N adds none. Every synthetic citizen has the one argon2id hash of
the bench password, made once (:data:`BENCH_PASSWORD`, or ``--password-stdin``): hashing each
one would take days at ~50 ms a hash. Refuses to run in production mode. One audit event,
``bench:seed:success`` with the counts — not one per citizen.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from idp.accounts.bench_citizens import BenchCitizens, BenchSeeder
from idp.cli.output import CliError, emit, guarded, json_option, open_services, read_stdin_secret

BENCH_PASSWORD = "Bench-2026-gov"  # noqa: S105 — published bench credential, development only
MAX_CITIZENS = 1_000_000_000
LOG_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal


class _Progress:
    """A progress bar with rows/s on stderr; on a file or pipe, a line every LOG_EVERY s."""

    def __init__(self, total: int) -> None:
        self._stream = sys.stderr
        self._total, self._done, self._rate = total, 0, ""
        self._began = self._logged = time.monotonic()

    @contextmanager
    def bar(self) -> Iterator[Callable[[int], None]]:
        if not self._total:  # nothing to add: no bar
            yield self._advance
            return
        with click.progressbar(length=self._total, label="seed-bench: adding citizens",
                               file=self._stream, item_show_func=_shown) as bar:
            def advance(count: int) -> None:
                self._advance(count)
                bar.update(count, self._rate)

            yield advance

    def _advance(self, count: int) -> None:
        self._done += count
        now = time.monotonic()
        self._rate = f"{self._done / max(now - self._began, 1e-9):,.0f} rows/s"
        if not self._stream.isatty() and (now - self._logged >= LOG_EVERY
                                          or self._done == self._total):
            self._logged = now
            click.echo(f"seed-bench: {self._done:,}/{self._total:,} "
                       f"({100 * self._done / self._total:.1f} %), {self._rate}", err=True)


def _shown(rate: str | None) -> str | None:
    return rate


@click.command("seed-bench")
@click.option("--citizens", type=click.IntRange(1, MAX_CITIZENS), required=True,
              help="How many synthetic citizens there should be (citizens 0 … N-1 of the seed).")
@click.option("--batch", type=click.IntRange(1, 100_000), default=10_000, show_default=True,
              help="Citizens per insert (one transaction each).")
@click.option("--seed", default="bench", show_default=True,
              help="Names the synthetic population: the same seed gives the same citizens.")
@click.option("--password-stdin", is_flag=True,
              help=f"Read the citizens' password from standard input instead of the published "
                   f"bench password {BENCH_PASSWORD!r}.")
@json_option
@guarded
def seed_bench(citizens: int, batch: int, seed: str, password_stdin: bool,
               as_json: bool) -> None:
    """Load N synthetic citizens for load tests (development only; docs/scale.md): valid ID
    numbers, encrypted and blind-indexed, unique phones. Resumable: a rerun adds only the
    missing ones. All share one password, hashed once with argon2id (hashing millions would
    take days) and still a real hash: they can sign in with it."""
    if not 0 < len(seed) <= 64 or not seed.isprintable():
        raise CliError("--seed must be 1 to 64 printable characters")
    password = read_stdin_secret() if password_stdin else BENCH_PASSWORD
    with open_services() as svc:
        if svc.settings.production:
            raise CliError("seed-bench loads synthetic citizens with one known password: it "
                           "refuses to run in production mode")
        seeder = BenchSeeder(svc.sessions, svc.protector, BenchCitizens(seed))
        password_hash = svc.accounts.hash_password(password)
        start = seeder.seeded(citizens)
        with _Progress(citizens - start).bar() as advance:
            report = seeder.seed(citizens, password_hash=password_hash, batch=batch,
                                 start=start, progress=advance)
        summary = {**report.as_dict(), "seed": seed}
        svc.audit.record("seed-bench", "bench:seed:success", extra=summary)
    emit(as_json, summary,
         f"{report.inserted:,} citizens added, {report.skipped:,} already there or skipped, "
         f"in {report.seconds:.1f} s ({report.rows_per_second:,.0f} rows/s)")
