"""Engine settings that make SQLite behave under concurrent web workers."""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine


def tune_engine(engine: Engine) -> None:
    """SQLite: enforce foreign keys, WAL for concurrent readers, wait on locks instead of failing."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 10000")
        cursor.close()
