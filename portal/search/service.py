"""The search interface the portal uses: `add_to_index`, `remove_from_index`, `query_index`,
plus keeping the index right (`drain`, `reindex`, `verify`). Only this package knows the
engine is Whoosh; a PostgreSQL full-text backend could stand behind the same functions.

The database is the source of truth. A change to a searchable object queues its key in the
same transaction (search_outbox); after the commit the queue is applied to the index. If
the index cannot be written then (another process holds the lock, a rebuild runs, a disk
error), the rows stay queued and are applied later — by the next request that finds them
(at most every RETRY_SECONDS per worker), `flask search drain`, or a reindex.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app, has_request_context
from markupsafe import Markup
from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.orm import Session

from portal.database import read_transaction, write_transaction
from portal.extensions import db
from portal.search import analysis, highlight, lexicon as lexicon_module, query as q
from portal.search.documents import PROVIDERS, documents, key
from portal.search.engine import Engine, IndexBusy, IndexUnavailable
from portal.search.models import SearchOutbox, SynonymGroup
from portal.timeutil import utcnow

RESULT_WINDOW = 200  # hits ranked per query (pages beyond are rarely wanted)
RETRY_SECONDS = 30


# -- the engine and the dictionary ---------------------------------------------------------------

def engine() -> Engine:
    extensions = current_app.extensions
    if "tongban.search" not in extensions:
        extensions["tongban.search"] = Engine(
            Path(current_app.config["PORTAL_DATA_DIR"]) / "search",
            memory_mb=current_app.config["SEARCH_INDEX_MEMORY_MB"])
    return extensions["tongban.search"]


def synonym_groups() -> list[list[str]]:
    return [g.split() for g in db.session.scalars(select(SynonymGroup.terms))]


def synonyms() -> dict[str, list[str]]:
    """Each word → the other words of its group(s)."""
    out: dict[str, list[str]] = defaultdict(list)
    for group in synonym_groups():
        for word in group:
            out[word.lower()] += [w.lower() for w in group if w != word]
    return out


def ensure_dictionary() -> str:
    """The segmenter knows the shipped words and every synonym term (checked against the
    index's dictionary version, so a change made in another process is picked up)."""
    index_version = engine().dictionary()
    if not analysis.dictionary_version() or index_version != analysis.dictionary_version():
        return analysis.load_dictionary(w for g in synonym_groups() for w in g)
    return analysis.dictionary_version()


# -- queueing ---------------------------------------------------------------------------------

def add_to_index(kind: str, object_id) -> None:
    """Queue `kind:object_id` to be (re)indexed after this transaction commits."""
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
    if changed:
        session.connection().execute(insert(SearchOutbox), [
            {"kind": k, "object_id": i, "queued_at": utcnow(), "attempts": 0, "last_error": ""}
            for k, i in sorted(changed)])
        session.info["search_queued"] = True


@event.listens_for(Session, "after_commit")
def _mark_pending(session) -> None:
    if session.info.pop("search_queued", False):
        session.info["search_pending"] = True


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
    done = 0
    eng = engine()
    while True:
        rows = db.session.execute(select(SearchOutbox.id, SearchOutbox.kind,
                                         SearchOutbox.object_id)
                                  .order_by(SearchOutbox.id).limit(batch)).all()
        if not rows:
            return done
        ensure_dictionary()
        upserts, deletes = [], []
        for kind, object_id in {(r.kind, r.object_id) for r in rows}:
            provider = PROVIDERS.get(kind)
            obj = provider.get(object_id) if provider else None
            if obj is None:
                deletes.append(key(kind, object_id))
            else:
                upserts.append(provider.document(obj))
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


def index_bulk(kind: str, ids: list, progress=None, procs: int = 2) -> int:
    """Index many new objects of one kind at once (an import): one multi-process writer
    instead of the queue's small commits. Their queue entries, written with them, are
    removed only after the index has them, so a failure here still loses nothing."""
    eng = engine()
    provider = PROVIDERS[kind]
    ensure_dictionary()
    eng.ensure(analysis.dictionary_version())
    keys = sorted({str(i) for i in ids})

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
    (searches go on against the old one meanwhile). Returns the number of documents."""
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
    _LEXICONS.clear()
    drain()  # what changed while it ran
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
    eng = engine()
    try:
        indexed = eng.stored()
    except IndexUnavailable as error:
        report.unavailable = str(error) or "unavailable"
        return report
    report.dictionary_ok = eng.dictionary() == version
    wanted = {doc["key"]: doc["version"] for doc in documents()}
    report.missing = sorted(set(wanted) - set(indexed))
    report.extra = sorted(set(indexed) - set(wanted))
    report.stale = sorted(k for k in set(wanted) & set(indexed) if wanted[k] != indexed[k])
    return report


# -- querying ---------------------------------------------------------------------------------

_LEXICONS: dict[str, tuple] = {}
_lexicon_lock = threading.Lock()


def lexicon(searcher) -> lexicon_module.Lexicon:
    """The index's words, read once per index generation and process."""
    generation = engine().generation()
    cached = _LEXICONS.get("current")
    if cached is None or cached[0] != generation:
        with _lexicon_lock:
            cached = _LEXICONS.get("current")
            if cached is None or cached[0] != generation:
                known = analysis.known_words() | {w for g in synonym_groups() for w in g}
                cached = _LEXICONS["current"] = (
                    generation, lexicon_module.from_reader(searcher.reader(), known))
    return cached[1]


@dataclass
class Hit:
    kind: str
    label: object
    title: Markup
    url: str
    snippet: Markup
    facts: tuple = ()
    expired: bool = False


@dataclass
class Results:
    query: str
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    page: int = 1
    per_page: int = 10
    relaxed: bool = False  # no hit had every word; these have some
    exact: bool = True  # `total` is exact (else an estimate: "about")
    suggestion: str | None = None
    rebuilding: bool = False  # the index is being rebuilt: a plain database search answered

    @property
    def pages(self) -> int:
        return max(1, -(-min(self.total, RESULT_WINDOW) // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages and bool(self.hits)


def _filter(kinds, filters: dict):
    from whoosh import query as wq
    clauses = []
    if kinds:
        clauses.append(wq.Or([wq.Term("kind", k) for k in kinds]))
    for name in ("category", "agency", "validity"):
        if filters.get(name):
            clauses.append(wq.Term(name, filters[name]))
    if filters.get("year"):
        clauses.append(wq.Term("year", str(filters["year"])))
    return wq.And(clauses) if clauses else None


def query_index(text: str, *, kinds=None, filters=None, page: int = 1, per_page: int = 10,
                now: datetime | None = None) -> Results:
    """Ranked hits for what was typed: title matches above body matches; equal relevance →
    valid before expired, newer first. Never raises for odd input."""
    parsed = q.parse(text)
    results = Results(parsed.text, page=max(1, min(page, RESULT_WINDOW // per_page)),
                      per_page=per_page)
    if parsed.empty:
        return results
    moment = int((now or utcnow()).replace(tzinfo=UTC).timestamp())
    # Only what this page needs: Whoosh can then skip every block of postings that cannot
    # reach it. Asking for 200 made broad queries 100× slower, even 20 instead of 10 50×.
    window = min(results.page * per_page, RESULT_WINDOW)
    try:
        ensure_dictionary()
        with engine().searcher() as searcher:
            lex = lexicon(searcher)
            found = _search(searcher, parsed, lex, synonyms(), _filter(kinds, filters or {}),
                            window, per_page, moment)
            if not found.keys:
                results.suggestion = q.suggestion(parsed, lex)
    except IndexUnavailable:
        if has_request_context():
            rebuild_in_background(current_app._get_current_object())
        return _fallback(parsed, results, kinds)
    results.relaxed, results.total, results.exact = found.relaxed, found.total, found.exact
    start = (results.page - 1) * per_page
    results.hits = _hits(found.keys[start:start + per_page], found.terms)
    return results


@dataclass
class _Found:
    keys: list[str]
    total: int
    exact: bool
    terms: set[str]
    relaxed: bool = False


def _search(searcher, parsed, lex, syn, filter_, window: int, per_page: int, now: int) -> _Found:
    """Exact words first; if that finds less than a page, the longer words containing them
    too; if still nothing, any of the words instead of every one."""
    def run(built, query, relaxed=False) -> _Found:
        hits = searcher.search(query, filter=filter_, limit=window)
        return _Found(*_ranked(hits, now, window), terms=built.terms, relaxed=relaxed)

    documents = searcher.doc_count()
    exact = q.build(parsed, lex, syn, documents=documents)
    words = [w for part in parsed.parts for w in part.words]
    if not any(p.phrase for p in parsed.parts) and all(lex.broad(w, documents) for w in words):
        return _broad(searcher, exact, words, syn, filter_, window, now)
    # Titles first: title matches rank above body matches, and when titles alone fill the
    # page the long bodies need not be searched (a three-word query over bodies: ~30 ms).
    titles = q.build(parsed, lex, syn, documents=documents, titles_only=True)
    in_titles = run(titles, titles.query)
    if len(in_titles.keys) >= window:
        in_titles.terms, in_titles.exact = exact.terms, False
        in_titles.total = max(in_titles.total, _min_size(exact.query, searcher.reader()))
        return in_titles
    found = run(exact, exact.query)
    if len(found.keys) >= per_page:
        return found
    wider = q.build(parsed, lex, syn, expand=True, documents=documents, titles_only=True)
    more = run(wider, wider.query)
    if len(more.keys) >= window:
        return more
    expanded = q.build(parsed, lex, syn, expand=True, documents=documents)
    more = run(expanded, expanded.query)  # the exact matches are among these, ranked higher
    if more.keys or len(parsed.parts) == 1:
        return more
    return run(exact, exact.relaxed_query, relaxed=True)


def _broad(searcher, built, words, syn, filter_, window: int, now: int) -> _Found:
    """Every word is in most documents (办理, 申请 材料): scoring them all would take 50 ms
    and tell little. Titles (with numbers, agencies) first, ranked; then the newest other
    matches, in index order (a rebuild writes the newest first), unscored."""
    from whoosh import query as wq
    in_titles = wq.And([wq.Or([wq.Term(f, w) for w in (word, *syn.get(word, ()))
                               for f in ("title",)]) for word in words])
    keys, total, _exact = _ranked(searcher.search(in_titles, filter=filter_, limit=window),
                                  now, window)
    allowed = set(searcher.docs_for_query(filter_)) if filter_ is not None else None
    taken, extra = set(keys), []
    for leaf, offset in searcher.leaf_searchers():
        matcher = built.query.matcher(leaf)
        while matcher.is_active() and len(extra) < window:
            docnum = offset + matcher.id()
            if allowed is None or docnum in allowed:
                fields_ = searcher.stored_fields(docnum)
                if fields_["key"] not in taken and fields_.get("published", 0) <= now:
                    extra.append((fields_["key"], fields_.get("published", 0)))
            matcher.next()
    extra.sort(key=lambda row: -row[1])
    keys += [k for k, _ in extra][:window - len(keys)]
    estimate = _min_size(built.query, searcher.reader()) if len(keys) >= window else len(keys)
    return _Found(keys, max(estimate, len(keys)), len(keys) < window, built.terms)


def _ranked(hits, now: int, window: int) -> tuple[list[str], int, bool]:
    """Keys by relevance; ties: valid first, newer first. Scheduled notices not yet live
    (stored publication time after `now`) are left out. Also the total: exact when fewer
    than the window matched (all were collected), else Whoosh's estimate."""
    rows = [(hit["key"], round(hit.score, 3), hit.get("validity") == "valid",
             hit.get("published", 0)) for hit in hits if hit.get("published", 0) <= now]
    rows.sort(key=lambda r: (-r[1], not r[2], -r[3]))
    exact = hits.scored_length() < window
    total = len(rows) if exact else max(len(rows), len(hits) if hits.has_exact_length()
                                        else _min_size(hits.q, hits.searcher.reader()))
    return [r[0] for r in rows], total, exact


def _min_size(query, reader) -> int:
    """Whoosh's estimate of how many documents match at least. It raises ValueError (min()
    of nothing) for a word-form query none of whose forms is in the index — "社保卡 hello"
    relaxed to any word — so such a part counts as matching nothing."""
    try:
        return query.estimate_min_size(reader)
    except ValueError:
        return 0


def _hits(keys: list[str], terms: set[str]) -> list[Hit]:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for k in keys:
        kind, _, object_id = k.partition(":")
        by_kind[kind].append(object_id)
    loaded = {kind: PROVIDERS[kind].load(ids) for kind, ids in by_kind.items() if kind in PROVIDERS}
    hits = []
    for k in keys:
        kind, _, object_id = k.partition(":")
        obj = loaded.get(kind, {}).get(object_id)
        if obj is None:  # removed a moment ago; its queue entry will take it out
            continue
        provider = PROVIDERS[kind]
        info = provider.hit(obj)
        hits.append(Hit(kind, provider.label, highlight.mark(info.title, terms), info.url,
                        highlight.snippet(info.text, terms), info.facts, info.expired))
    return hits


def _fallback(parsed, results: Results, kinds) -> Results:
    """While the index is rebuilt: objects whose text contains every typed word."""
    results.rebuilding = True
    wanted = [w for part in parsed.parts for w in part.words]
    found = []
    for kind, provider in PROVIDERS.items():
        if provider.fallback and (not kinds or kind in kinds):
            found += [(kind, provider, obj) for obj in provider.fallback(wanted, 50)]
    results.total = len(found)
    start = (results.page - 1) * results.per_page
    for kind, provider, obj in found[start:start + results.per_page]:
        info = provider.hit(obj)
        results.hits.append(Hit(kind, provider.label, highlight.mark(info.title, wanted), info.url,
                                highlight.snippet(info.text, wanted), info.facts, info.expired))
    return results
