"""The GB/T 2260 region table shipped as data, abolished codes included."""

from __future__ import annotations

import re
from importlib import resources

from idp.identity import is_abolished, is_known_region, region_name
from idp.identity.regions import is_province_code, region_count

PROVINCES = (
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82 83"
).split()


def test_table_file_is_well_formed() -> None:
    text = resources.files("idp.identity.data").joinpath("gbt2260.tsv").read_text("utf-8")
    lines = text.splitlines()
    assert lines[0] == "code\tname\tstatus"
    codes = []
    for line in lines[1:]:
        code, name, status = line.split("\t")
        assert re.fullmatch(r"[0-9]{6}", code), line
        assert name.strip() == name and name, line
        assert status in {"current", "abolished"}, line
        codes.append(code)
    assert codes == sorted(set(codes)), "codes must be unique and sorted"


def test_counts() -> None:
    total, abolished = region_count()
    assert total > 7000
    assert 3000 < abolished < total


def test_province_level_codes_present() -> None:
    for prefix in PROVINCES:
        assert is_known_region(prefix + "0000"), prefix
        assert is_province_code(prefix)
    assert not is_province_code("99")
    assert not is_province_code("1")


def test_names_and_status() -> None:
    assert region_name("110105") == "朝阳区"
    assert region_name("810000") == "香港特别行政区"
    assert region_name("820000") == "澳门特别行政区"
    assert region_name("999999") is None
    assert is_abolished("110103")  # 崇文区, merged into 东城区 in 2010
    assert region_name("110103") == "崇文区"
    assert is_known_region("110103")
    assert not is_abolished("110105")
    assert not is_abolished("999999")
    assert not is_known_region("000000")
    assert not is_known_region("")
