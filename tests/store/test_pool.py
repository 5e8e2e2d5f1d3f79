"""The PostgreSQL connection pool: a connection back in use at once is not pinged (one round trip
saved per request); one that sat idle is, and a dead one is replaced before a request sees it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from idp.store import db
from tests.fixtures.services import PostgresServer


@pytest.fixture
def engine(postgres_server: PostgresServer) -> Iterator[sa.Engine]:
    url = postgres_server.create_database(f"pool_{uuid.uuid4().hex[:8]}")
    engine = db.create_db_engine(url, pool_size=1)
    yield engine
    engine.dispose()


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("select pg_backend_pid()")).scalar_one())


def _terminate(postgres_server: PostgresServer, pid: int) -> None:
    other = sa.create_engine(postgres_server.url)
    try:
        with other.connect() as conn:
            assert conn.execute(sa.text("select pg_terminate_backend(:p)"), {"p": pid}).scalar()
    finally:
        other.dispose()


@pytest.mark.postgres
def test_an_idle_connection_that_died_is_replaced_before_use(
        engine: sa.Engine, postgres_server: PostgresServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)
    pid = _backend_pid(engine)
    _terminate(postgres_server, pid)  # a database restart, a firewall closing idle connections
    assert _backend_pid(engine) != pid  # answered on a new connection, no error


@pytest.mark.postgres
def test_without_the_idle_ping_a_dead_connection_fails_the_request(
        engine: sa.Engine, postgres_server: PostgresServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Within the bypass window nothing is sent before the request's own statements (no round
    trip saved otherwise), so the dead connection is only found by the request itself: the
    control showing the idle ping is what saves the request above."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 3600.0)
    _terminate(postgres_server, _backend_pid(engine))
    with pytest.raises(sa.exc.OperationalError):
        _backend_pid(engine)
