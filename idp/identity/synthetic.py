"""Synthetic citizen ID numbers for load tests (``idp seed-bench``): valid, unique, repeatable.

Every number is a well-formed GB 11643-1999 resident number: a current county-level GB/T 2260
address code (:func:`idp.identity.regions.county_codes`), a real birth date between
:data:`FIRST_BIRTH_DATE` and :data:`LAST_BIRTH_DATE`, a 3-digit sequence (odd = male) and the
ISO 7064 MOD 11-2 check character (:func:`idp.identity.id_number.check_character`), so
:func:`idp.identity.parse_id_number` accepts it like any real one.

Citizen ``i`` of a seed always gets the same number, and two citizens never share one:
``i`` goes through :class:`Permutation` — an affine bijection ``(a·i + b) mod N`` of the
``N`` = address codes × birth dates × 1000 sequences possible numbers, with ``a`` and ``b``
derived from the seed — and the result is read as (address code, birth date, sequence). So
neighbouring citizens are spread over regions, ages and both genders, and a run that adds
citizens ``n…m-1`` gives exactly the numbers a single run to ``m`` would have given (for one
version of the region table).
"""

from __future__ import annotations

import datetime
import hashlib
import math

from idp.identity.id_number import check_character
from idp.identity.regions import county_codes

FIRST_BIRTH_DATE = datetime.date(1940, 1, 1)
LAST_BIRTH_DATE = datetime.date(2007, 12, 31)
SEQUENCES = 1000  # digits 15-17


class Permutation:
    """``x ↦ (a·x + b) mod size``: a bijection of ``range(size)`` chosen by ``seed``/``label``
    (``a`` coprime with ``size``). Not a secret: it spreads, it does not hide."""

    def __init__(self, size: int, seed: str, label: str) -> None:
        if size < 2:
            raise ValueError("a permutation needs at least 2 elements")
        self.size = size
        a = _derive(seed, label, "a") % size
        while math.gcd(a, size) != 1:  # never 0: gcd(0, size) = size
            a = (a + 1) % size
        self._a, self._b = a, _derive(seed, label, "b") % size

    def __call__(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise ValueError(f"index {index} is outside 0..{self.size - 1}")
        return (self._a * index + self._b) % self.size


class SyntheticIdNumbers:
    """The ID number of synthetic citizen ``i`` (``0 <= i < capacity``) for one seed."""

    def __init__(self, seed: str) -> None:
        self._regions = county_codes()
        self._first_day = FIRST_BIRTH_DATE.toordinal()
        self._days = LAST_BIRTH_DATE.toordinal() - self._first_day + 1
        self._permutation = Permutation(len(self._regions) * self._days * SEQUENCES, seed,
                                        "id_number")

    @property
    def capacity(self) -> int:
        """How many distinct numbers there are (about 7.8 × 10^10)."""
        return self._permutation.size

    def number(self, index: int) -> str:
        """The normalised 18-character number of citizen ``index``."""
        rest, sequence = divmod(self._permutation(index), SEQUENCES)
        region, day = divmod(rest, self._days)
        birth = datetime.date.fromordinal(self._first_day + day)
        first17 = (f"{self._regions[region]}{birth.year:04d}{birth.month:02d}{birth.day:02d}"
                   f"{sequence:03d}")
        return first17 + check_character(first17)


def _derive(seed: str, label: str, part: str) -> int:
    digest = hashlib.sha256(f"{seed}|{label}|{part}".encode()).digest()
    return int.from_bytes(digest, "big")
