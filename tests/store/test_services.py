"""The real test services themselves: PostgreSQL and Redis answer, and databases can be made."""

from __future__ import annotations

import uuid

import psycopg
import pytest
import redis
import sqlalchemy as sa

from tests.fixtures.services import PostgresServer, RedisServer, service_unavailable


@pytest.mark.postgres
def test_postgres_answers(postgres_server: PostgresServer) -> None:
    assert postgres_server.url.startswith("postgresql+psycopg://")
    engine = sa.create_engine(postgres_server.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
            assert conn.execute(sa.text("show fsync")).scalar_one() == "off"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_creates_fresh_databases(postgres_server: PostgresServer) -> None:
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(name)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("select current_database()")).scalar_one() == name
            conn.execute(sa.text("create table t (name text)"))
            conn.execute(sa.text("insert into t values ('中文')"))
            assert conn.execute(sa.text("select name from t")).scalar_one() == "中文"
    finally:
        engine.dispose()
    dsn = f"host=127.0.0.1 port={postgres_server.port} user=postgres dbname={name}"
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select count(*) from t").fetchone() == (1,)


@pytest.mark.redis
def test_redis_answers(redis_server: RedisServer) -> None:
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.ping() is True
        assert client.config_get("save") == {"save": ""}
    finally:
        client.close()


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_a_missing_service_fails_on_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="redis-server did not start"):
        service_unavailable("redis-server did not start")
