"""The local population registry: CSV import (all or nothing) and name matching."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from idp.errors import ValidationError
from idp.store.models import RegistryEntry
from tests.factories import id_number


def _entries(services) -> int:
    with services.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(RegistryEntry)))


def test_import_and_match(services):
    a, b = id_number(), id_number()
    assert services.table_registry.import_csv(f"id_number,name\n{a},张三\n{b}, 买买提•艾力 \n") == 2
    assert services.registry.name_matches(a, "张三")
    assert services.registry.name_matches(b, "买买提·艾力")
    assert not services.registry.name_matches(a, "李四")
    with services.sessions() as s:
        keys = list(s.scalars(select(RegistryEntry.id_number_bidx)))
    assert a not in keys and all(len(k) == 64 for k in keys)


def test_reimport_updates_the_name(services):
    a = id_number()
    services.table_registry.import_csv(f"id_number,name\n{a},张三\n")
    services.table_registry.import_csv(f"id_number,name\n{a},张叁\n")
    assert services.registry.name_matches(a, "张叁") and _entries(services) == 1


@pytest.mark.parametrize(
    ("csv", "fragment"),
    [
        ("number,name\n", "header"),
        ("id_number,name\n{good},张三\n110105194912310021,李四\n", "line 3"),
        ("id_number,name\n{good},张三,extra\n", "2 columns"),
        ("id_number,name\n{good},\n", "name is empty"),
        ("id_number,name\n{good},张三\n{good},张三\n", "twice"),
    ],
)
def test_bad_csv_names_the_line_and_writes_nothing(services, csv, fragment):
    with pytest.raises(ValidationError) as exc:
        services.table_registry.import_csv(csv.format(good=id_number()))
    assert fragment in exc.value.message
    assert _entries(services) == 0
