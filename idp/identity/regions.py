"""GB/T 2260 administrative-division codes: the address code of a citizen ID number.

GB 11643-1999 puts the holder's GB/T 2260 address code in digits 1–6. Codes change over time
(districts merge, get renamed), and a person keeps the code they were issued, so the table in
``data/gbt2260.tsv`` keeps abolished codes too (see ``data/README.md`` for where it came from).
The table is read once, on first use, and cached for the life of the process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

TABLE_FILE = "gbt2260.tsv"
CURRENT = "current"
ABOLISHED = "abolished"


@dataclass(frozen=True)
class Region:
    """One row of the table."""

    code: str
    name: str
    status: str


@functools.cache
def _table() -> dict[str, Region]:
    """Code -> row, read lazily from the packaged TSV (header line skipped)."""
    text = resources.files("idp.identity.data").joinpath(TABLE_FILE).read_text(encoding="utf-8")
    rows: dict[str, Region] = {}
    for line in text.splitlines()[1:]:
        if not line.strip():
            continue
        code, name, status = line.split("\t")
        rows[code] = Region(code=code, name=name, status=status)
    return rows


def lookup(code: str) -> Region | None:
    """The table row for a 6-digit code, or ``None`` when the code was never issued."""
    return _table().get(code)


def region_name(code: str) -> str | None:
    """The (newest) name of a 6-digit GB/T 2260 code, or ``None`` if unknown."""
    region = lookup(code)
    return region.name if region else None


def is_known_region(code: str) -> bool:
    """True for any code in the table, current or abolished."""
    return code in _table()


def is_abolished(code: str) -> bool:
    """True when the code is known but no longer in force (people may still carry it)."""
    region = lookup(code)
    return region is not None and region.status == ABOLISHED


def is_province_code(prefix: str) -> bool:
    """True when a 2-digit prefix is a province-level division (``XX0000`` in the table)."""
    return len(prefix) == 2 and prefix.isdigit() and is_known_region(prefix + "0000")


@functools.cache
def county_codes() -> tuple[str, ...]:
    """The current county-level codes (digits 5-6 not ``00``), in table order: the address
    codes new ID numbers are issued under (for synthetic citizens, :mod:`.synthetic`)."""
    return tuple(row.code for row in _table().values()
                 if row.status == CURRENT and not row.code.endswith("00"))


def region_count() -> tuple[int, int]:
    """(all codes, abolished codes) — for diagnostics and tests."""
    table = _table()
    return len(table), sum(1 for row in table.values() if row.status == ABOLISHED)
