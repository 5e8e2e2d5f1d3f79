"""Read one row on the hot paths (token and account look-ups) in one round trip.

An ORM ``Session`` read costs BEGIN, SELECT, ROLLBACK and the unit of work's identity map:
measured here ~540 µs for an account by primary key, against ~230 µs for one compiled Core
SELECT on an autocommit connection (docs/performance.md). :class:`RowLookup` is that SELECT,
compiled once, returning a detached instance of the model: read it, never add it to a session
(an instance built this way is *transient* and would be inserted).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from sqlalchemy import Column, Engine, bindparam, select
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute

Model = TypeVar("Model", bound=DeclarativeBase)


def autocommit(engine: Engine) -> Engine:
    """The same pool, but each statement commits by itself: no BEGIN / ROLLBACK round trips for
    single reads and single writes."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


class RowLookup(Generic[Model]):
    """``model`` rows by one column's value."""

    def __init__(self, engine: Engine, model: type[Model],
                 column: InstrumentedAttribute[Any] | Column[Any]) -> None:
        self._engine = autocommit(engine)
        self._model = model
        table = model.__table__
        self._statement = select(*table.columns).where(column == bindparam("value"))

    def __call__(self, value: object) -> Model | None:
        with self._engine.connect() as conn:
            row = conn.execute(self._statement, {"value": value}).first()
        return None if row is None else self._model(**row._mapping)
