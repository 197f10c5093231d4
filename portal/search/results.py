"""Querying the search index: `query_index` gives ranked, highlighted results (title matches
above body matches; equal relevance: valid before expired, newer first), with "did you mean",
a relaxed any-word search when every word finds nothing together, and a simple database
match while the index is unavailable. Never raises for odd input."""
from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app, has_request_context
from markupsafe import Markup

from portal.extensions import db
from portal.search import analysis, highlight, lexicon as lexicon_module, pg, query as q
from portal.search.documents import PROVIDERS
from portal.search.engine import IndexUnavailable
from portal.timeutil import utcnow
from portal.search.service import (backend, engine, ensure_dictionary, rebuild_in_background,
                                   synonym_groups, synonyms)

RESULT_WINDOW = 200  # hits ranked per query (pages beyond are rarely wanted)


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
    if backend() == "postgres":
        groups = synonym_groups()  # read once: the dictionary, the lexicon and expansion
        ensure_dictionary(groups)
        known = analysis.known_words() | {w for g in groups for w in g}
        lex, documents = pg.lexicon(current_app, db.session, known)
        found = _search_postgres(parsed, lex, synonyms(groups), kinds, filters or {}, window,
                                 per_page, moment, documents)
        if not found.keys:
            results.suggestion = q.suggestion(parsed, lex)
    else:
        try:
            found = _search_whoosh(parsed, kinds, filters, window, per_page, moment, results)
        except IndexUnavailable:
            if has_request_context():
                rebuild_in_background(current_app._get_current_object())
            return _fallback(parsed, results, kinds)
    results.relaxed, results.total, results.exact = found.relaxed, found.total, found.exact
    start = (results.page - 1) * per_page
    results.hits = _hits(found.keys[start:start + per_page], found.terms)
    return results


def _search_whoosh(parsed, kinds, filters, window, per_page, moment, results) -> _Found:
    ensure_dictionary()
    with engine().searcher() as searcher:
        lex = lexicon(searcher)
        found = _search(searcher, parsed, lex, synonyms(), _filter(kinds, filters or {}),
                        window, per_page, moment)
        if not found.keys:
            results.suggestion = q.suggestion(parsed, lex)
    return found


def _search_postgres(parsed, lex, syn, kinds, filters, window: int, per_page: int, now: int,
                     documents: int) -> _Found:
    """The same tries as `_search` (exact words; the longer words containing them; any word),
    each one SQL query; broad words rank titles first, then the newest."""
    def run(built, query, relaxed=False, broad=False) -> _Found:
        text = pg.tsquery(query)
        if text is None:
            return _Found([], 0, True, built.terms, relaxed)
        keys, total = pg.ranked(db.session, text, kinds=kinds, filters=filters, now=now,
                                window=window, broad=broad)
        if total is None:  # more than could be counted quickly: the rarest word's documents
            words_ = [w for part in parsed.parts for w in part.words]
            estimate = min((lex.frequencies.get(w, 0) for w in words_), default=0)
            return _Found(keys, max(estimate, pg.COUNT_CAP, len(keys)), False, built.terms,
                          relaxed)
        return _Found(keys, total, True, built.terms, relaxed)

    exact = q.build(parsed, lex, syn, documents=documents)
    words = [w for part in parsed.parts for w in part.words]
    if not any(p.phrase for p in parsed.parts) and all(lex.broad(w, documents) for w in words):
        return run(exact, exact.query, broad=True)
    found = run(exact, exact.query)
    if len(found.keys) >= per_page:
        return found
    expanded = q.build(parsed, lex, syn, expand=True, documents=documents)
    more = run(expanded, expanded.query)
    if more.keys or len(parsed.parts) == 1:
        return more
    return run(exact, exact.relaxed_query, relaxed=True)


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
