"""``idp seed-demo``: demo citizens in the local registry, their accounts, and one client per
channel. Idempotent: existing citizens are kept; demo clients get a fresh secret each run and
the credentials are written to ``<data_dir>/demo-clients.json`` (mode 0600) for ``make run``.

Each demo client registers the back-channel logout listener its reference client runs under
``make run`` (``BACKCHANNEL``); a demo client seeded before it had one gets it added.
The demo portal (``demo-website``) is allowed the ``id_card`` scope (as staff would with
``idp clients allow-id-card``), so the walkthrough can show the ID number's consent page; the
demo counter terminal (``demo-counter``) is allowed to attest in-person ID-card checks (as with
``idp clients allow-in-person``), so the walkthrough can show a counter sign-in at L4."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import click

from idp.accounts.services import Registration
from idp.cli.output import CliError, emit, guarded, json_option, open_services
from idp.clients import NewClient
from idp.container import Services
from idp.errors import Conflict
from idp.oidc.id_card import id_card_allowed
from idp.staff.roles import SECURITY_ADMIN

DEMO_PASSWORD = "Demo-2026-gov"  # noqa: S105 — published demo credential, development only
DEMO_STAFF = "demo-admin"
DEMO_STAFF_PASSWORD = "Demo-Staff-2026"  # noqa: S105 — published demo credential, development only
DEMO_CITIZENS = (
    ("11010519491231002X", "张三", "13800138000"),
    ("44030519900101123X", "李四", "13800138001"),
    ("310104198506150023", "王芳", "13800138002"),
)
PORTAL = "http://localhost:5001"
ID_CARD_CLIENTS = ("demo-website",)  # demo clients allowed the id_card scope
IN_PERSON_CLIENTS = ("demo-counter",)  # demo clients allowed in-person ID-card checks (L4)
# The backchannel_logout_uri of each demo client: where its reference client listens.
BACKCHANNEL = {
    "website": f"{PORTAL}/backchannel-logout",
    "miniprogram": "http://localhost:5002/backchannel-logout",
    "app": "http://127.0.0.1:5003/backchannel-logout",
    "counter": "http://127.0.0.1:5004/backchannel-logout",
}


def _demo_clients(logout_uris: bool = True) -> list[NewClient]:
    clients = [
        NewClient(name="示例部门门户 Demo department portal", channel="website",
                  client_id="demo-website", redirect_uris=(f"{PORTAL}/callback",),
                  post_logout_redirect_uris=(f"{PORTAL}/",), skip_consent=False,
                  backchannel_logout_uri=BACKCHANNEL["website"]),
        NewClient(name="一网通办 App (demo)", channel="app", client_id="demo-app",
                  redirect_uris=("http://127.0.0.1/callback", "cn.gov.ywtb.app:/callback"),
                  skip_consent=True, backchannel_logout_uri=BACKCHANNEL["app"]),
        NewClient(name="一网通办小程序 Mini-program (demo)", channel="miniprogram",
                  client_id="demo-miniprogram",
                  redirect_uris=("https://miniprogram.example.gov.cn/callback",),
                  skip_consent=True, backchannel_logout_uri=BACKCHANNEL["miniprogram"]),
        NewClient(name="政务服务中心自助终端 Counter terminal (demo)", channel="counter",
                  client_id="demo-counter",
                  redirect_uris=("https://counter.example.gov.cn/callback",), skip_consent=True,
                  backchannel_logout_uri=BACKCHANNEL["counter"]),
    ]
    if logout_uris:
        return clients
    return [dataclasses.replace(c, backchannel_logout_uri=None) for c in clients]


def _demo_staff(svc: Services) -> dict[str, str]:
    """The demo security admin of the console: a new TOTP secret at every seeding (like the
    demo clients' secrets), written only to the 0600 credentials file."""
    existing = svc.staff.find(DEMO_STAFF)
    if existing is not None:
        enrolment = svc.staff.reset_totp(existing.id, actor="seed-demo")
    else:
        enrolment = svc.staff.create(DEMO_STAFF, "演示安全管理员", SECURITY_ADMIN,
                                     DEMO_STAFF_PASSWORD, actor="seed-demo")
    return {"username": DEMO_STAFF, "password": DEMO_STAFF_PASSWORD, "role": SECURITY_ADMIN,
            "totp_secret": enrolment.secret}


@click.command("seed-demo")
@click.option("--logout-uris/--no-logout-uris", default=True, show_default=True,
              help="Register the demo clients' back-channel logout listeners (ports 5001-5004). "
                   "Test servers turn it off so their sign-outs never reach a running demo.")
@json_option
@guarded
def seed_demo(logout_uris: bool, as_json: bool) -> None:
    """Load demo citizens, one demo client per channel and a demo security admin
    (development)."""
    with open_services() as svc:
        if svc.settings.production:
            raise CliError("seed-demo loads published demo passwords: it refuses to run in "
                           "production mode")
        csv = "id_number,name\n" + "".join(f"{n},{name}\n" for n, name, _ in DEMO_CITIZENS)
        svc.table_registry.import_csv(csv)
        citizens = []
        for number, name, phone in DEMO_CITIZENS:
            try:
                svc.accounts.register(Registration(number, name, phone, DEMO_PASSWORD),
                                      actor="seed-demo")
            except Conflict:
                pass
            citizens.append({"name": name, "phone": phone, "id_number": number,
                             "password": DEMO_PASSWORD})
        clients: dict[str, Any] = {}
        for new in _demo_clients(logout_uris):
            assert new.client_id is not None  # noqa: S101
            if svc.clients.get(new.client_id) is None:
                record, secret = svc.clients.create(new, actor="seed-demo")
            else:
                record, secret = svc.clients.get(new.client_id), None  # type: ignore[assignment]
                if record.client_type == "confidential":
                    _, secret = svc.clients.rotate_secret(new.client_id, grace=0, actor="seed-demo")
                if logout_uris and record.backchannel_logout_uri is None:  # seeded before logout
                    record = svc.clients.set_logout_uris(
                        new.client_id, backchannel=new.backchannel_logout_uri,
                        frontchannel=record.frontchannel_logout_uri, actor="seed-demo")
            if record.client_id in ID_CARD_CLIENTS and not id_card_allowed(record):
                record = svc.clients.set_id_card_allowed(record.client_id, True,
                                                         actor="seed-demo")
            if (record.client_id in IN_PERSON_CLIENTS
                    and record.extra.get("in_person_check") is not True):
                record = svc.clients.set_in_person_allowed(record.client_id, True,
                                                           actor="seed-demo")
            clients[record.channel] = {"client_id": record.client_id,
                                       "client_secret": secret,
                                       "redirect_uris": list(record.redirect_uris),
                                       "backchannel_logout_uri": record.backchannel_logout_uri}
        staff = _demo_staff(svc)
    out = Path(svc.settings.data_dir) / "demo-clients.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"issuer": svc.settings.issuer, "clients": clients, "citizens": citizens,
                   "staff": staff}, fh, ensure_ascii=False, indent=2)
    emit(as_json, {"citizens": len(citizens), "clients": sorted(clients),
                   "credentials_file": str(out)},
         f"demo data ready: {len(citizens)} citizens, clients {', '.join(sorted(clients))}; "
         f"credentials in {out}")
