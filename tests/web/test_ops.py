"""``/healthz`` answers while the process runs; ``/readyz`` says whether the node can serve —
database, ephemeral store and a signing key per algorithm — and names what is missing (503)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine


def test_healthz_and_readyz_when_everything_answers(client: Any) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.headers["Cache-Control"] == "no-store"
    assert ready.get_json() == {"status": "ready",
                                "checks": {"database": True, "store": True, "keys": True}}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("part", ["database", "store", "keys"])
def test_readyz_names_the_part_that_fails(client: Any, services: Any, monkeypatch: Any,
                                          tmp_path: Any, part: str) -> None:
    if part == "database":
        monkeypatch.setattr(services, "engine",
                            create_engine(f"sqlite:///{tmp_path}/missing/dir/idp.db"))
    elif part == "store":
        monkeypatch.setattr(services.ephemeral, "ping", lambda: False)
    else:
        ring = services.keys.ring()
        monkeypatch.setattr(services.keys, "ring", lambda **_: type(ring)(
            **{**ring.__dict__, "active": {}}))
    answer = client.get("/readyz")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["status"] == "not ready"
    assert [name for name, ok in body["checks"].items() if not ok] == [part]
    assert client.get("/healthz").status_code == 200  # alive, only not ready
