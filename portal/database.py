"""Engine settings that make SQLite behave under concurrent web workers.

SQLite starts a transaction as a reader and upgrades it to a writer at its first write; if
another writer committed in between, the upgrade fails at once ("database is locked") and
busy_timeout does not help. Transactions that read and then write a counter (booking) use
`write_transaction()`, which begins with BEGIN IMMEDIATE: they queue for the write lock up
front and never fail half-way. PostgreSQL needs none of this (row locks do the work).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import event
from sqlalchemy.engine import Engine

from portal.extensions import db

_immediate: ContextVar[bool] = ContextVar("sqlite_begin_immediate", default=False)


def tune_engine(engine: Engine) -> None:
    """SQLite: foreign keys on, WAL for concurrent readers, wait on locks, explicit BEGIN."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _immediate.get() else "BEGIN")


@contextmanager
def write_transaction() -> Iterator[None]:
    """A transaction that holds SQLite's write lock from its first statement.

    Ends whatever transaction the session has open first; the caller commits (or an
    exception rolls back) inside the block.
    """
    db.session.commit()
    token = _immediate.set(True)
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    finally:
        _immediate.reset(token)
