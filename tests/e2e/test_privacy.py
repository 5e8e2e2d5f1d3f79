"""Citizen ID numbers never appear in clear in the server's logs or at rest (DESIGN.md §4).

Drives real sign-ins and registrations that carry ID numbers through a running server, then
scans the captured server output and, on the embedded stack, every byte of the database and
ephemeral-store files (WAL included) for the clear numbers.
"""

from __future__ import annotations

import re

import redis
from sqlalchemy import create_engine, text

from idp.store.models import Base
from tests.e2e.device_parties import Terminal
from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.factories import id_number


def _scan_files(root, needles: list[str]) -> list[str]:
    hits = []
    for path in (root / "var").rglob("*"):
        if path.is_file() and path.suffix != ".json":  # demo-clients.json is the demo handout
            data = path.read_bytes()
            hits += [f"{path.name}: {n}" for n in needles if n.encode() in data]
    return hits


def _scan_postgres_and_redis(env: dict[str, str], needles: list[str]) -> list[str]:
    engine = create_engine(env["IDP_DATABASE_URL"])
    hits = []
    try:
        with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                query = text(f"SELECT CAST(t AS text) FROM {table.name} t")  # noqa: S608
                for (row,) in conn.execute(query):
                    hits += [f"{table.name}: {n}" for n in needles if n in row]
    finally:
        engine.dispose()
    client = redis.Redis.from_url(env["IDP_REDIS_URL"])
    seen = 0
    try:
        for key in client.scan_iter(match=env["IDP_REDIS_PREFIX"].encode() + b"*"):
            seen += 1
            kind = client.type(key)
            values = [client.get(key) or b""] if kind == b"string" else list(
                client.smembers(key))
            blob = key + b"".join(values)
            hits += [f"redis {key!r}: {n}" for n in needles if n.encode() in blob]
    finally:
        client.close()
    assert seen > 0, "no keys scanned: wrong prefix?"
    return hits


def test_id_numbers_never_in_logs_or_at_rest(idp_server):
    citizen = idp_server.demo["citizens"][0]
    agent = UserAgent(idp_server.url)
    assert agent.login(citizen["id_number"], citizen["password"]).status_code == 302
    assert agent.login(citizen["id_number"].lower(), "wrong-password").status_code == 401
    stranger = id_number()
    page = agent._get("/register")
    agent._post("/register", data={"csrf_token": agent.csrf(page), "id_number": stranger,
                                   "name": "路人甲", "phone": "13911112222",
                                   "password": "Sturdy-Pass-42",
                                   "password_confirm": "Sturdy-Pass-42"})
    # Released on purpose — to a client staff allowed, with the citizen's consent — it is in
    # the answer the client gets, and still nowhere in the server's logs or stores.
    other = idp_server.demo["citizens"][1]
    portal = RelyingParty.register(idp_server, "privacy-id-card", skip_consent=False)
    idp_server.cli("clients", "allow-id-card", portal.client_id)
    login = portal.login(UserAgent(idp_server.url),
                         {"username": other["phone"], "password": other["password"]},
                         "openid id_card")
    released = portal.claims(login.tokens["access_token"], login.sub)
    assert released["id_number"] == other["id_number"]
    # A counter terminal sends the number it read from the card (the in-person check, L4).
    terminal = Terminal.register(idp_server)
    idp_server.cli("clients", "allow-in-person", terminal.client_id)
    assert terminal.start(id_card_number=other["id_number"],
                          clerk_id="clerk-7").status_code == 200
    # Staff tools print masked numbers only.
    status = idp_server.cli("identity", "status").stdout
    needles = [n["id_number"] for n in idp_server.demo["citizens"]] + [stranger]
    assert not any(n in status for n in needles)
    log = idp_server.log
    assert "POST /login" in log  # the log is really captured
    for number in needles:
        assert number not in log and number.lower() not in log
    assert not re.search(r"\d{17}[\dXx]", log), "something shaped like an ID number was logged"
    if idp_server.stack == "embedded":
        assert _scan_files(idp_server.root, needles) == []
    else:
        assert _scan_postgres_and_redis(idp_server.env, needles) == []
    audit = idp_server.cli_json("audit", "verify")
    assert audit["ok"] is True
