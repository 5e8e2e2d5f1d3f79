"""Population registry (人口库 / CTID): is this the real name for this ID number?

``PopulationRegistry`` is the interface. ``TableRegistry`` is the working local implementation,
a table loaded with ``idp registry import FILE.csv`` (header ``id_number,name``), keyed by the
blind index so the table never holds ID numbers in clear. ``HttpRegistry`` is the adapter for a
real service; its wire contract is in ``docs/integrations/population-registry.md``.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.clock import Clock, system_clock, to_datetime
from idp.errors import IdpError, InvalidIdNumber, ValidationError
from idp.identity import IdNumberProtector, parse_id_number
from idp.store.models import RegistryEntry


class RegistryUnavailable(IdpError):
    code = "registry.unavailable"


def normalise_name(name: str) -> str:
    """NFKC, trimmed, inner spaces and the middle dot variants folded (e.g. 买买提·艾力)."""
    text = unicodedata.normalize("NFKC", name).strip()
    for dot in ("•", "・", "‧", "∙", "．"):
        text = text.replace(dot, "·")
    return " ".join(text.split())


class PopulationRegistry(Protocol):
    def name_matches(self, id_number: str, name: str) -> bool:
        """True when ``name`` is the registered real name for the (normalised) ID number."""


class TableRegistry:
    def __init__(self, sessions: sessionmaker[Session], protector: IdNumberProtector,
                 *, clock: Clock = system_clock) -> None:
        self._sessions = sessions
        self._protector = protector
        self._clock = clock

    def name_matches(self, id_number: str, name: str) -> bool:
        bidx = self._protector.index(id_number)
        with self._sessions() as session:
            entry = session.get(RegistryEntry, bidx)
        return entry is not None and entry.name == normalise_name(name)

    def import_csv(self, text: str) -> int:
        """Load rows; all-or-nothing: any bad row raises ValidationError naming its line."""
        rows = list(parse_registry_csv(text))
        now = to_datetime(self._clock())
        with self._sessions.begin() as session:
            indexed = [(self._protector.index(number), name) for number, name in rows]
            wanted = [bidx for bidx, _ in indexed]
            existing = {
                e.id_number_bidx: e
                for e in session.scalars(
                    select(RegistryEntry).where(RegistryEntry.id_number_bidx.in_(wanted)))
            } if wanted else {}
            for bidx, name in indexed:
                if bidx in existing:
                    existing[bidx].name = name
                    existing[bidx].imported_at = now
                else:
                    entry = RegistryEntry(id_number_bidx=bidx, name=name, imported_at=now)
                    session.add(entry)
                    existing[bidx] = entry
        return len(rows)


def parse_registry_csv(text: str) -> Iterable[tuple[str, str]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != ["id_number", "name"]:
        raise ValidationError("registry CSV must start with the header line: id_number,name",
                              code="registry.header")
    seen: set[str] = set()
    out = []
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise ValidationError(f"line {line_no}: expected 2 columns, got {len(row)}",
                                  code="registry.columns")
        try:
            number = parse_id_number(row[0]).value
        except InvalidIdNumber as exc:
            raise ValidationError(f"line {line_no}: {exc.message}", code=exc.code) from None
        name = normalise_name(row[1])
        if not name:
            raise ValidationError(f"line {line_no}: the name is empty", code="registry.name")
        if number in seen:
            raise ValidationError(f"line {line_no}: the same ID number appears twice",
                                  code="registry.duplicate")
        seen.add(number)
        out.append((number, name))
    return out


@dataclass(frozen=True)
class HttpRegistry:
    """Adapter for a real registry: POST {url} JSON {"id_number", "name"} → {"match": bool}."""

    url: str
    timeout: float = 3.0

    def name_matches(self, id_number: str, name: str) -> bool:
        try:
            resp = requests.post(self.url, json={"id_number": id_number,
                                                 "name": normalise_name(name)},
                                 timeout=self.timeout, allow_redirects=False)
            resp.raise_for_status()
            body = resp.json()
        except (requests.RequestException, ValueError):
            raise RegistryUnavailable(
                "the population registry did not answer; please try again later"
            ) from None
        if not isinstance(body, dict) or not isinstance(body.get("match"), bool):
            raise RegistryUnavailable(
                "the population registry gave an answer we do not understand; please try "
                "again later")
        return bool(body["match"])
