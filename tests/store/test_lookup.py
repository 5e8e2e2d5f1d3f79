"""The hot-path single-row statements (idp.store.lookup), on SQLite and PostgreSQL: they return
exactly what the ORM would, write JSON columns, raise SQLAlchemy's exception classes, and on
PostgreSQL drop a dead connection from the pool like SQLAlchemy does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from idp.store import db
from idp.store.lookup import RowInsert, RowLookup
from idp.store.models import Token
from tests.factories import make_citizen, make_client

COLUMNS = ("access_jti", "family_id", "client_id", "account_id", "scope", "amr", "issued_at",
           "access_expires_at", "purge_after")


def _values(client_id: str, account_id: str | None) -> dict:
    now = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    return {"access_jti": uuid.uuid4().hex, "family_id": uuid.uuid4().hex,
            "client_id": client_id, "account_id": account_id, "scope": "openid 中文",
            "amr": ["pwd", "otp"], "issued_at": now, "access_expires_at": now,
            "purge_after": now}


def test_insert_then_lookup_matches_the_orm(services):
    client, citizen = make_client(services), make_citizen(services)
    values = _values(client.client_id, citizen.sub)
    RowInsert(services.engine, Token, COLUMNS)(values)
    found = RowLookup(services.engine, Token, Token.access_jti)(values["access_jti"])
    with services.sessions() as s:
        orm = s.scalar(sa.select(Token).where(Token.access_jti == values["access_jti"]))
    assert found is not None and orm is not None
    for column in Token.__table__.columns:
        assert getattr(found, column.key) == getattr(orm, column.key), column.key
    assert found.amr == ["pwd", "otp"] and found.scope == "openid 中文"
    assert RowLookup(services.engine, Token, Token.access_jti)("nope") is None


def test_a_constraint_violation_is_sqlalchemys_integrity_error(services):
    values = _values("no-such-client", None)
    with pytest.raises(IntegrityError):
        RowInsert(services.engine, Token, COLUMNS)(values)
    assert RowLookup(services.engine, Token, Token.access_jti)(values["access_jti"]) is None


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_dead_connection_is_dropped_from_the_pool(services, postgres_server, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 3600.0)  # no idle ping: the statement finds it
    engine = db.create_db_engine(services.engine.url, pool_size=1)  # one pooled connection
    lookup = RowLookup(engine, Token, Token.access_jti)
    with engine.connect() as conn:
        pid = conn.execute(sa.text("select pg_backend_pid()")).scalar_one()
    other = sa.create_engine(postgres_server.url)
    with other.connect() as conn:
        conn.execute(sa.text("select pg_terminate_backend(:p)"), {"p": pid})
    other.dispose()
    with pytest.raises(OperationalError):
        lookup("x")
    assert lookup("x") is None  # the next one gets a fresh connection
    engine.dispose()
