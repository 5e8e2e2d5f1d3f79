"""Synthetic ID numbers for load tests: valid, unique per citizen, the same for the same seed."""

from __future__ import annotations

import datetime

import pytest

from idp.identity import is_abolished, parse_id_number
from idp.identity.regions import county_codes
from idp.identity.synthetic import (
    FIRST_BIRTH_DATE,
    LAST_BIRTH_DATE,
    Permutation,
    SyntheticIdNumbers,
)


def test_numbers_are_valid_unique_and_varied() -> None:
    numbers = SyntheticIdNumbers("bench")
    values = [numbers.number(i) for i in range(20_000)]
    assert len(set(values)) == len(values)
    parsed = [parse_id_number(v, today=datetime.date(2026, 1, 1)) for v in values]
    assert all(p.value == v and p.kind == "resident" for p, v in zip(parsed, values, strict=True))
    assert all(FIRST_BIRTH_DATE <= p.birth_date <= LAST_BIRTH_DATE for p in parsed)
    assert {p.gender for p in parsed} == {"male", "female"}
    assert len({p.region_code for p in parsed}) > 2_000  # spread over the whole country
    assert any(v.endswith("X") for v in values)


def test_same_seed_same_citizens_other_seed_others() -> None:
    assert [SyntheticIdNumbers("a").number(i) for i in (0, 7, 99_999)] == \
        [SyntheticIdNumbers("a").number(i) for i in (0, 7, 99_999)]
    assert SyntheticIdNumbers("a").number(0) != SyntheticIdNumbers("b").number(0)


def test_county_codes_are_current_and_below_city_level() -> None:
    codes = county_codes()
    assert len(codes) > 3_000
    assert "110101" in codes and "110100" not in codes and "810000" not in codes
    assert not any(is_abolished(code) for code in codes)


@pytest.mark.parametrize("size", [2, 10, 1000, 7 * 11 * 13])
def test_permutation_is_a_bijection(size: int) -> None:
    permutation = Permutation(size, "seed", "label")
    assert sorted(permutation(i) for i in range(size)) == list(range(size))
    with pytest.raises(ValueError):
        permutation(size)
