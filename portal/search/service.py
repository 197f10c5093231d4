"""Keeping the search index right: `add_to_index`, `remove_from_index` (queued in the same
transaction), `drain`, `reindex`, `verify`, the engine and the segmenter's dictionary.
Querying is in `results.py`. Two backends stand behind the same functions (`backend()`):

- `whoosh`, the embedded default: an index in the data dir (search/engine.py). A change to a
  searchable object queues its key in the same transaction (search_outbox); after the commit
  the queue is applied to the index. If
the index cannot be written then (another process holds the lock, a rebuild runs, a disk
error), the rows stay queued and are applied later — by the next request that finds them
(at most every RETRY_SECONDS per worker), `flask search drain`, or a reindex.
- `postgres`, the default whenever DATABASE_URL is PostgreSQL (several nodes, one truth): the
  documents are rows (search/pg.py) written just before the transaction that changed the
  object commits, so every node finds the change at once and nothing is queued.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app, has_app_context
from sqlalchemy import delete, event, func, insert, select, text, update
from sqlalchemy.orm import Session

from portal.database import read_transaction, write_transaction
from portal.extensions import db
from portal.search import analysis, pg
from portal.search.documents import PROVIDERS, documents, key
from portal.search.engine import Engine, IndexBusy, IndexUnavailable
from portal.search.models import SearchOutbox, SynonymGroup
from portal.timeutil import utcnow

RETRY_SECONDS = 30


# -- the engine and the dictionary ---------------------------------------------------------------

def backend() -> str:
    """`postgres` or `whoosh` (SEARCH_BACKEND; by default postgres on a PostgreSQL database)."""
    chosen = current_app.config.get("SEARCH_BACKEND") or ""
    if chosen:
        return chosen
    return "postgres" if db.engine.dialect.name == "postgresql" else "whoosh"


def engine() -> Engine:
    extensions = current_app.extensions
    if "tongban.search" not in extensions:
        extensions["tongban.search"] = Engine(
            Path(current_app.config["PORTAL_DATA_DIR"]) / "search",
            memory_mb=current_app.config["SEARCH_INDEX_MEMORY_MB"])
    return extensions["tongban.search"]


def index_version() -> tuple | None:
    """What the results depend on besides the database rows: the Whoosh index's files (a
    change is committed to them after the rows', by whichever worker drains the queue). The
    PostgreSQL backend's documents are rows, written with the change: nothing more."""
    return engine().generation() if backend() == "whoosh" else None


def synonym_groups() -> list[list[str]]:
    return [g.split() for g in db.session.scalars(select(SynonymGroup.terms))]


def synonyms(groups: list[list[str]] | None = None) -> dict[str, list[str]]:
    """Each word → the other words of its group(s)."""
    out: dict[str, list[str]] = defaultdict(list)
    for group in synonym_groups() if groups is None else groups:
        for word in group:
            out[word.lower()] += [w.lower() for w in group if w != word]
    return out


def ensure_dictionary(groups: list[list[str]] | None = None) -> str:
    """The segmenter knows the shipped words and every synonym term (checked against the
    index's dictionary version, so a change made in another process is picked up)."""
    if backend() == "postgres":  # the synonym words, as the database has them now
        groups = synonym_groups() if groups is None else groups
        wanted = frozenset(w for g in groups for w in g)
        if current_app.extensions.get("tongban.search.words") != wanted \
                or not analysis.dictionary_version():
            current_app.extensions["tongban.search.words"] = wanted
            analysis.load_dictionary(wanted)
        return analysis.dictionary_version()
    index_version = engine().dictionary()
    if not analysis.dictionary_version() or index_version != analysis.dictionary_version():
        return analysis.load_dictionary(w for g in synonym_groups() for w in g)
    return analysis.dictionary_version()


# -- queueing ---------------------------------------------------------------------------------

def add_to_index(kind: str, object_id) -> None:
    """Queue `kind:object_id` to be (re)indexed after this transaction commits (PostgreSQL
    backend: written just before it commits)."""
    if backend() == "postgres":
        db.session.info.setdefault("search_keys", set()).add((kind, str(object_id)))
        return
    db.session.add(SearchOutbox(kind=kind, object_id=str(object_id)))
    db.session.info["search_queued"] = True


def remove_from_index(kind: str, object_id) -> None:
    """Queue `kind:object_id` to leave the index (the same queue: the drainer looks at the
    object's state then, and removes what should not be found)."""
    add_to_index(kind, object_id)


_WATCHED: dict[type, str] = {}


def watch(model: type, kind: str) -> None:
    """Queue every added, changed or deleted `model` object automatically."""
    _WATCHED[model] = kind


@event.listens_for(Session, "after_flush")
def _queue_changes(session, _context) -> None:
    changed = {(_WATCHED[type(o)], str(o.id))
               for o in (*session.new, *session.dirty, *session.deleted)
               if type(o) in _WATCHED and getattr(o, "id", None) is not None
               and (o not in session.dirty or session.is_modified(o))}
    if changed and has_app_context() and backend() == "postgres":
        session.info.setdefault("search_keys", set()).update(changed)
    elif changed:
        session.connection().execute(insert(SearchOutbox), [
            {"kind": k, "object_id": i, "queued_at": utcnow(), "attempts": 0, "last_error": ""}
            for k, i in sorted(changed)])
        session.info["search_queued"] = True


@event.listens_for(Session, "after_commit")
def _mark_pending(session) -> None:
    if session.info.pop("search_queued", False):
        session.info["search_pending"] = True


@event.listens_for(Session, "before_commit")
def _write_documents(session) -> None:
    """PostgreSQL backend: the changed objects' documents, in the transaction changing them.
    Objects added but not flushed yet are flushed first: the flush is what names them."""
    if not session.info.get("search_keys") and (
            not (session.new or session.dirty or session.deleted) or not has_app_context()
            or backend() != "postgres"):
        return
    session.flush()
    if keys := session.info.pop("search_keys", set()):
        _write_keys(keys, session)


@event.listens_for(Session, "after_rollback")
def _forget(session) -> None:
    session.info.pop("search_keys", None)


@event.listens_for(Session, "after_commit")
def _written(session) -> None:
    session.info.pop("search_keys", None)  # a flush inside a commit's own flush: nothing left


def _documents_for(keys) -> tuple[list[dict], list[str]]:
    upserts, deletes = [], []
    for kind, object_id in sorted(keys):
        provider = PROVIDERS.get(kind)
        obj = provider.get(object_id) if provider else None
        if obj is None:
            deletes.append(key(kind, object_id))
        else:
            upserts.append(provider.document(obj))
    return upserts, deletes


def _write_keys(keys, session) -> None:
    upserts, deletes = _documents_for(keys)
    pg.write(session, upserts, deletes, ensure_dictionary())


def register(app) -> None:
    """Apply queued changes after each request that made some, and catch up now and then."""
    app.extensions["tongban.search.last_check"] = 0.0

    @app.teardown_request
    def _apply(_error):
        session = db.session()
        due = time.monotonic() - app.extensions["tongban.search.last_check"] > RETRY_SECONDS
        if session.info.pop("search_pending", False) or due:
            app.extensions["tongban.search.last_check"] = time.monotonic()
            try:
                drain()
            except Exception:  # never a user's problem: the queue keeps the changes
                db.session.rollback()
                app.logger.exception("search: applying queued changes failed; will retry")


# -- applying the queue --------------------------------------------------------------------------

def drain(batch: int = 500) -> int:
    """Apply queued changes to the index; returns how many objects were brought up to date.

    Leaves the queue untouched when the index is busy (another writer, a rebuild) or cannot
    be written: nothing is lost, and the next drain tries again.
    """
    if backend() == "postgres":
        return _drain_postgres(batch)
    done = 0
    eng = engine()
    while True:
        rows = db.session.execute(select(SearchOutbox.id, SearchOutbox.kind,
                                         SearchOutbox.object_id)
                                  .order_by(SearchOutbox.id).limit(batch)).all()
        if not rows:
            return done
        ensure_dictionary()
        upserts, deletes = _documents_for({(r.kind, r.object_id) for r in rows})
        ids = [r.id for r in rows]
        db.session.commit()  # end the read: the index is written outside any transaction
        try:
            eng.ensure(analysis.dictionary_version())
            eng.write(upserts, deletes)
        except IndexBusy:
            return done
        except Exception as error:
            with write_transaction():
                db.session.execute(update(SearchOutbox).where(SearchOutbox.id.in_(ids)).values(
                    attempts=SearchOutbox.attempts + 1, last_error=str(error)[:500]))
                db.session.commit()
            raise
        with write_transaction():
            db.session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(ids)))
            db.session.commit()
        done += len(upserts) + len(deletes)


def _drain_postgres(batch: int) -> int:
    """Queue entries left from the Whoosh backend (a database switched to PostgreSQL search):
    applied, and removed, in one transaction per batch."""
    done = 0
    while True:
        rows = db.session.execute(select(SearchOutbox.id, SearchOutbox.kind,
                                         SearchOutbox.object_id)
                                  .order_by(SearchOutbox.id).limit(batch)).all()
        if not rows:
            db.session.commit()
            return done
        keys = {(r.kind, r.object_id) for r in rows}
        _write_keys(keys, db.session)
        db.session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_([r.id for r in rows])))
        db.session.commit()
        done += len(keys)


def index_bulk(kind: str, ids: list, progress=None, procs: int = 2) -> int:
    """Index many new objects of one kind at once (an import): one multi-process writer
    instead of the queue's small commits. Their queue entries, written with them, are
    removed only after the index has them, so a failure here still loses nothing."""
    provider = PROVIDERS[kind]
    keys = sorted({str(i) for i in ids})
    if backend() == "postgres":  # written with the rows, in the import's own transactions
        if progress:
            progress(len(keys))
        return len(keys)
    eng = engine()
    ensure_dictionary()
    eng.ensure(analysis.dictionary_version())

    def docs():
        for start in range(0, len(keys), 1000):
            for obj in provider.load(keys[start:start + 1000]).values():
                yield provider.document(obj)

    if eng.rebuild_running():
        return 0  # the queue entries stay: the rebuild's drain applies them
    with read_transaction():
        high = db.session.scalar(select(func.max(SearchOutbox.id))) or 0
        count = eng.fill(eng.current_dir(), docs(), procs=procs, progress=progress, append=True)
    with write_transaction():
        for start in range(0, len(keys), 500):
            db.session.execute(delete(SearchOutbox).where(
                SearchOutbox.kind == kind, SearchOutbox.object_id.in_(keys[start:start + 500]),
                SearchOutbox.id <= high))
        db.session.commit()
    return count


def pending() -> int:
    return db.session.scalar(select(func.count()).select_from(SearchOutbox))


def reindex(progress=None, procs: int = 2) -> int:
    """Rebuild the whole index from the database into a new generation, then switch to it
    (searches go on against the old one meanwhile). Returns the number of documents.
    PostgreSQL backend: every document rewritten in one transaction (searches see the old
    rows until it commits)."""
    if backend() == "postgres":
        return _reindex_postgres(progress)
    eng = engine()
    with eng.rebuilding(wait=True):
        with read_transaction():  # a long read: never hold SQLite's write lock meanwhile
            covered = db.session.scalar(select(func.max(SearchOutbox.id))) or 0
            db.session.commit()  # end the read transaction: the rebuild must see everything
            version = ensure_dictionary_from_database()
            path = eng.new_generation(version)
            count = eng.fill(path, documents(), procs=procs, progress=progress)
            eng.switch_to(path)
        with write_transaction():  # queued before the rebuild began: in the new generation
            db.session.execute(delete(SearchOutbox).where(SearchOutbox.id <= covered))
            db.session.commit()
    drain()  # what changed while it ran
    return count


def _reindex_postgres(progress=None) -> int:
    version = ensure_dictionary_from_database()
    current_app.extensions.pop("tongban.search.words", None)
    db.session.execute(text("LOCK TABLE search_documents IN EXCLUSIVE MODE"))  # one at a time
    pg.remove_all(db.session)
    count, batch = 0, []
    for doc in documents():
        batch.append(doc)
        if len(batch) == 500:
            pg.write(db.session, batch, [], version)
            count += len(batch)
            if progress:
                progress(len(batch))
            batch = []
    pg.write(db.session, batch, [], version)
    count += len(batch)
    if progress and batch:
        progress(len(batch))
    db.session.execute(delete(SearchOutbox))
    db.session.commit()
    # Every row was just rewritten: without statistics the planner scans the whole table for
    # a broad query, and until a vacuum marks the pages visible every read rechecks them.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE search_documents"))
    return count


def ensure_dictionary_from_database() -> str:
    return analysis.load_dictionary(w for g in synonym_groups() for w in g)


_rebuild_thread: threading.Thread | None = None


def rebuild_in_background(app) -> bool:
    """Start a rebuild in a thread of this process (for a deleted or damaged index);
    False when one is already running here or in another process."""
    global _rebuild_thread
    if (_rebuild_thread and _rebuild_thread.is_alive()) or engine().rebuild_running():
        return False

    def run():
        with app.app_context():
            try:
                reindex(procs=1)
            except IndexBusy:
                pass
            except Exception:
                app.logger.exception("search: background rebuild failed")
            finally:
                db.session.remove()

    _rebuild_thread = threading.Thread(target=run, name="search-rebuild", daemon=True)
    _rebuild_thread.start()
    return True


@dataclass
class IndexCheck:
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    pending: int = 0
    dictionary_ok: bool = True
    unavailable: str = ""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.extra or self.unavailable) \
            and self.dictionary_ok


def verify() -> IndexCheck:
    """Compare the index with the database: documents missing, stale or extra."""
    report = IndexCheck(pending=pending())
    version = ensure_dictionary_from_database()
    if backend() == "postgres":
        indexed = pg.stored(db.session)
        report.dictionary_ok = pg.dictionaries(db.session) <= {version}
        return _compare(report, indexed)
    eng = engine()
    try:
        indexed = eng.stored()
    except IndexUnavailable as error:
        report.unavailable = str(error) or "unavailable"
        return report
    report.dictionary_ok = eng.dictionary() == version
    return _compare(report, indexed)


def _compare(report: IndexCheck, indexed: dict) -> IndexCheck:
    wanted = {doc["key"]: doc["version"] for doc in documents()}
    report.missing = sorted(set(wanted) - set(indexed))
    report.extra = sorted(set(indexed) - set(wanted))
    report.stale = sorted(k for k in set(wanted) & set(indexed) if wanted[k] != indexed[k])
    return report
