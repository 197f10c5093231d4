"""Engine settings that make SQLite behave under concurrent web workers, and database helpers.

SQLite has one writer at a time. A transaction starts as a reader and is upgraded to a writer
at its first write; if another process committed in between, the upgrade fails at once
("database is locked") and busy_timeout does not help. The rule here, decided once for every
transaction of the application rather than per view:

- a transaction that may write begins with BEGIN IMMEDIATE: it queues for the write lock up
  front (busy_timeout lets it wait its turn) and never fails half-way. That is every
  transaction of a request with an unsafe method (POST, PUT, PATCH, DELETE), of a command
  line command (`flask …`: seeds, jobs), and inside `write_transaction()`;
- GET and HEAD requests read: their transactions are deferred, so readers never wait for
  each other or for a writer (WAL). The few writes a GET makes (a login session's sliding
  expiry, the search queue after a change, an export's audit entry) go through
  `write_transaction()` or call `will_write()` first. A write after a read in a deferred
  transaction is the one pattern that fails under load; in tests it raises `DeferredWrite`
  at once, so the suite (which opens every GET route) finds it.

PostgreSQL needs none of this (row locks and MVCC do the work); the same code runs there.
"""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import quote

import click
from flask import g, has_request_context, request
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Boolean

from portal.extensions import db

BUSY_TIMEOUT_MS = 15_000  # how long a writer waits for another's lock before giving up
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# None: decide from where we are (request method, command line); True/False: forced.
_immediate: ContextVar[bool | None] = ContextVar("sqlite_begin_immediate", default=None)


class DeferredWrite(RuntimeError):
    """A write after a read in a deferred SQLite transaction (raised in tests only): under
    concurrent writers it fails with "database is locked". Use write_transaction()."""


def _wants_write_lock() -> bool:
    forced = _immediate.get()
    if forced is not None:
        return forced
    if has_request_context():
        return request.method not in _SAFE_METHODS or g.get("tb_writes", False)
    # A `flask …` command writes (seeds, jobs); `flask shell` is a person reading at leisure,
    # who must not hold the write lock while thinking.
    command = click.get_current_context(silent=True)
    return command is not None and command.info_name != "shell"


def will_write() -> None:
    """This GET request writes from here on (an export's audit entry): end its read, so its
    next transaction begins by taking the write lock. Elsewhere it changes nothing."""
    if has_request_context() and request.method in _SAFE_METHODS and not g.get("tb_writes"):
        db.session.commit()
        g.tb_writes = True


def tune_engine(engine: Engine, *, testing: bool = False) -> None:
    """SQLite: never create a database (only the migrations do), foreign keys on, WAL, wait on
    locks, BEGIN IMMEDIATE for writers (see the module docstring)."""
    if engine.dialect.name != "sqlite":
        return
    path = engine.url.database

    @event.listens_for(engine, "do_connect")
    def _open_existing(_dialect, _record, cargs, cparams):
        if path and path != ":memory:" and not path.startswith("file:"):
            # mode=rw: a missing file is an error ("unable to open database file"), not a
            # new empty database that answers every page with "no such table".
            cargs[:] = [f"file:{quote(os.path.abspath(path))}?mode=rw"]
            cparams.pop("database", None)
            cparams["uri"] = True

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        immediate = _wants_write_lock()
        # Checked (tests): the deferred transactions of requests. None: nothing read yet.
        connection.info["deferred_read"] = None if testing and not immediate \
            and has_request_context() else False
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    if testing:
        @event.listens_for(engine, "before_cursor_execute")
        def _check(connection, _cursor, statement, _parameters, _context, _executemany):
            state = connection.info.get("deferred_read", False)
            if state is False:  # immediate, or not in a transaction
                return
            verb = statement.lstrip()[:7].upper()
            if verb.startswith(_WRITES):
                if state:
                    raise DeferredWrite(f"{statement[:60]}… after a read in a deferred "
                                        "transaction: use database.write_transaction()")
                connection.info["deferred_read"] = False  # wrote first: it holds the lock
            elif verb.startswith(("SELECT", "WITH")):
                connection.info["deferred_read"] = True


def create_sqlite_file(engine: Engine) -> None:
    """Create the SQLite file if it is missing: only `db upgrade` (migrations/env.py) may."""
    path = engine.url.database
    if engine.dialect.name == "sqlite" and path and path != ":memory:" \
            and not path.startswith("file:") and not os.path.exists(path):
        sqlite3.connect(path).close()


def release_lock() -> None:
    """End this request's transaction before slow work (a password hash, re-encoding photos)
    so that other writers need not wait for it; the next statement begins afresh (and takes
    the lock again on SQLite). What was loaded is expired: read what the work needs first."""
    db.session.commit()


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


@contextmanager
def read_transaction() -> Iterator[None]:
    """A long read (a reindex, a verify) from the command line that must not hold the write
    lock while it runs: its transactions are deferred."""
    db.session.commit()
    token = _immediate.set(False)
    try:
        yield
    finally:
        db.session.commit()
        _immediate.reset(token)


def raw_read(sql: str) -> list[tuple]:
    """Rows of one small read on a pooled DBAPI connection: no session and no transaction
    to begin and end, for reads on every request (the health check, the page stamps).
    Failures are SQLAlchemy's exceptions, as from a session (the error pages know them)."""
    dbapi_error = db.engine.dialect.loaded_dbapi.Error
    try:
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            rows = cursor.fetchall()
            cursor.close()
            return rows
        finally:
            connection.close()  # back to the pool, which rolls back whatever was begun
    except dbapi_error as error:
        raise exc.DBAPIError.instance(sql, None, error, dbapi_error,
                                      dialect=db.engine.dialect) from error


def insert_ignore(model, **values) -> None:
    """Insert a row unless one with the same key exists (a counter's first use), on either
    database, without a race between looking and inserting."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(insert(model).values(**values).on_conflict_do_nothing())


class likely(FunctionElement):
    """A condition true for most rows (a live notice's "its time has come"): SQLite's planner
    is told so and walks the index of the ORDER BY instead of sorting every row the range
    index finds (at 20,000 notices: 0.1 ms instead of 30 ms for the newest four). Other
    databases get the plain condition (PostgreSQL's statistics know it)."""
    type = Boolean()
    name = "likely"
    inherit_cache = True


@compiles(likely)
def _likely(element, compiler, **kw):
    return "(%s)" % compiler.process(element.clauses, **kw)


@compiles(likely, "sqlite")
def _likely_sqlite(element, compiler, **kw):
    return "likely(%s)" % compiler.process(element.clauses, **kw)
