"""Factories for test data: valid citizen ID numbers, registry entries, accounts, clients."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from idp.accounts.services import Registration
from idp.clients import NewClient
from idp.container import Services
from idp.identity import check_character

PASSWORD = "Correct-Horse-9"
_seq = itertools.count(1)


def id_number(region: str = "110105", birth: str = "19800101", male: bool = True) -> str:
    n = next(_seq) % 500
    seq = f"{n * 2 + (1 if male else 0):03d}"
    first17 = f"{region}{birth}{seq}"
    return first17 + check_character(first17)


@dataclass
class Citizen:
    id_number: str
    name: str
    phone: str
    password: str
    sub: str


def phone() -> str:
    return f"139{next(_seq):08d}"


def make_citizen(
    services: Services, *, name: str = "测试公民", password: str = PASSWORD, **kwargs: Any
) -> Citizen:
    number = kwargs.get("number") or id_number()
    tel = kwargs.get("tel") or phone()
    services.table_registry.import_csv(f"id_number,name\n{number},{name}\n")
    account = services.accounts.register(Registration(number, name, tel, password))
    return Citizen(number, name, tel, password, account.id)


@dataclass
class RegisteredClient:
    client_id: str
    secret: str | None
    redirect_uri: str


def make_client(
    services: Services,
    *,
    channel: str = "website",
    redirect_uri: str = "https://portal.example.gov.cn/callback",
    skip_consent: bool = False,
    **kwargs: Any,
) -> RegisteredClient:
    record, secret = services.clients.create(
        NewClient(
            name=kwargs.pop("name", f"Portal {next(_seq)}"),
            channel=channel,
            redirect_uris=(redirect_uri,),
            skip_consent=skip_consent,
            **kwargs,
        )
    )
    return RegisteredClient(record.client_id, secret, redirect_uri)
