"""Single-row statements on the hot paths (token and account look-ups, the token INSERT, the
refresh rotation) in one round trip each, without the ORM session.

An ORM ``Session`` read costs BEGIN, SELECT, ROLLBACK and the unit of work: measured here
~540 µs for an account by primary key, against ~230 µs for one compiled Core statement on an
autocommit connection, and ~130 µs when PostgreSQL's compiled SQL goes straight to psycopg's
cursor (docs/performance.md). psycopg already returns what SQLAlchemy's result processing would
(aware datetimes, parsed JSON, bytes), so on PostgreSQL that layer is skipped; SQLite, whose
driver returns text for dates and JSON, keeps it. Each statement is atomic alone, so it runs
in autocommit mode.

Rows come back as detached model instances: read them, never add one to a session (an
instance built this way is *transient* and would be inserted).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import psycopg
from psycopg.types.json import Json
from sqlalchemy import JSON, Column, Engine, bindparam, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute

Model = TypeVar("Model", bound=DeclarativeBase)


def autocommit(engine: Engine) -> Engine:
    """The same pool, but each statement commits by itself: no BEGIN / ROLLBACK round trips for
    single reads and single writes."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


class OneRow:
    """One compiled statement returning at most one row, run in autocommit mode."""

    def __init__(self, engine: Engine, statement: Any, *,
                 json_params: frozenset[str] = frozenset()) -> None:
        self._engine = autocommit(engine)
        self._statement = statement
        self._json = json_params
        self._driver_sql = (str(statement.compile(dialect=engine.dialect))
                            if engine.dialect.name == "postgresql" else None)

    def __call__(self, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        with self._engine.connect() as conn:
            if self._driver_sql is None:
                result = conn.execute(self._statement, dict(params))
                found = result.first() if result.returns_rows else None
                return None if found is None else tuple(found)
            values = {k: Json(v) if k in self._json else v for k, v in params.items()}
            driver = conn.connection.driver_connection
            cursor = driver.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(self._driver_sql, values)
                row = cursor.fetchone() if cursor.description is not None else None
            except psycopg.Error as error:
                # As SQLAlchemy would: its exception classes (IntegrityError…), and a connection
                # that died is dropped from the pool.
                if conn.dialect.is_disconnect(error, driver, cursor):  # type: ignore[arg-type]
                    conn.invalidate()
                raise DBAPIError.instance(self._driver_sql, values, error,
                                          psycopg.Error) from error
            finally:
                cursor.close()
        return None if row is None else tuple(row)


def _json_columns(model: type[DeclarativeBase]) -> frozenset[str]:
    return frozenset(c.key for c in model.__table__.columns
                     if isinstance(c.type, JSON))


class RowLookup(Generic[Model]):
    """``model`` rows by one column's value."""

    def __init__(self, engine: Engine, model: type[Model],
                 column: InstrumentedAttribute[Any] | Column[Any]) -> None:
        table = model.__table__
        self._model = model
        self._names = tuple(c.key for c in table.columns)
        self._run = OneRow(engine, select(*table.columns).where(column == bindparam("value")))

    def __call__(self, value: object) -> Model | None:
        row = self._run({"value": value})
        return None if row is None else self.build(row)

    def build(self, row: tuple[Any, ...]) -> Model:
        return self._model(**dict(zip(self._names, row, strict=True)))


class RowInsert:
    """INSERT one ``model`` row from a dict of its columns."""

    def __init__(self, engine: Engine, model: type[DeclarativeBase], columns: tuple[str, ...]
                 ) -> None:
        table = model.__table__
        self._columns = columns
        statement = insert(table).values({c: bindparam(c) for c in columns})  # type: ignore[arg-type]
        self._run = OneRow(engine, statement, json_params=_json_columns(model))

    def __call__(self, values: Mapping[str, Any]) -> None:
        self._run({c: values[c] for c in self._columns})
