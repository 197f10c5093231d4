"""The PostgreSQL full-text backend: the documents live in the database (search_documents), so
every node finds a change the moment its transaction commits, and there is no index to drain.

- Words are cut in Python by the same analysis as the Whoosh index (analysis.tokens), and
  stored as a `tsvector` written literally (no PostgreSQL parser or dictionary touches them):
  titles weight A (positions 1…), the titles' full pinyin `~weixinyuan` and initials `^wxy`
  weight C, bodies weight B after a gap (a phrase never spans title and body).
- Queries are the same Whoosh query objects query.py builds (words, synonyms, the longer
  words containing them, pinyin, phrases), turned into a `tsquery`: one query language, two
  backends that find the same documents. Ranking: ts_rank with A 1.0, C 0.6, B 0.25;
  equal scores → valid first, newer first, as in Whoosh.
- The lexicon (the index's words, for expansion, pinyin and "did you mean") is read with
  ts_stat once per process and topped up with the documents written since.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert

from portal.search.analysis import full_pinyin, initials, is_cjk, tokens
from portal.search.lexicon import Lexicon
from portal.search.models import SearchDocument
from portal.timeutil import utcnow

MAX_POSITION = 16383  # PostgreSQL's limit; later words share the last position
MAX_POSITIONS = 255  # per word and document (PostgreSQL keeps at most 256)
MAX_WORD = 100  # characters; PostgreSQL refuses a word over 2,047 bytes (nobody searches one)
WEIGHTS = "{0.1, 0.6, 0.25, 1.0}"  # D, C, B, A
FIELDS = {"title": "A", "body": "B", "py": "~", "pyi": "^"}


# -- documents ---------------------------------------------------------------------------------

def _escape(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def _literal(entries: dict[str, list[str]]) -> str:
    return " ".join(f"{_escape(w)}:{','.join(p)}" for w, p in entries.items())


def vectors(doc: dict) -> tuple[str, str]:
    """(tsv, title_tsv) literals for an index document (the dict a provider makes)."""
    entries: dict[str, list[str]] = defaultdict(list)

    def add(word: str, position: int, weight: str) -> None:
        if len(word) > MAX_WORD:
            return
        kept = entries[word]
        if len(kept) < MAX_POSITIONS:
            kept.append(f"{min(position, MAX_POSITION)}{weight}")

    position = 1
    for word, _s, _e in tokens(doc.get("title") or ""):
        add(word, position, "A")
        position += 1
    for word, _s, _e in tokens(doc.get("py") or ""):
        if is_cjk(word):
            add("~" + full_pinyin(word), position, "C")
            add("^" + initials(word), position, "C")
            position += 1
    title = _literal(entries)
    position += 10
    for word, _s, _e in tokens(doc.get("body") or "", single=False):
        add(word, position, "B")
        position += 1
    return _literal(entries), title


def write(session, upserts: list[dict], deletes: list[str], dictionary: str) -> None:
    """Put documents in (or take them out) in the caller's transaction."""
    if deletes:
        session.execute(delete(SearchDocument).where(SearchDocument.key.in_(deletes)))
    rows = []
    for doc in upserts:
        tsv, title_tsv = vectors(doc)
        rows.append(dict(key=doc["key"], kind=doc["kind"], tsv=tsv, title_tsv=title_tsv,
                         category=doc.get("category") or "", agency=doc.get("agency") or "",
                         validity=doc.get("validity") or "valid", year=doc.get("year") or "",
                         published=int(doc.get("published") or 0), version=doc["version"],
                         dictionary=dictionary, indexed_at=utcnow()))
    for start in range(0, len(rows), 500):
        statement = insert(SearchDocument).values(rows[start:start + 500])
        session.execute(statement.on_conflict_do_update(
            index_elements=["key"],
            set_={c: statement.excluded[c] for c in rows[0] if c != "key"}))


def stored(session) -> dict[str, str]:
    return dict(session.execute(select(SearchDocument.key, SearchDocument.version)).all())


def dictionaries(session) -> set[str]:
    return set(session.scalars(select(SearchDocument.dictionary).distinct()))


def remove_all(session) -> None:
    session.execute(delete(SearchDocument))


# -- queries -----------------------------------------------------------------------------------

def tsquery(query) -> str | None:
    """A Whoosh query (Term, Phrase, Prefix, And, Or of them) as tsquery text; None when it
    can match nothing."""
    from whoosh import query as wq
    if isinstance(query, wq.And):
        parts = [tsquery(sub) for sub in query.subqueries]
        if not parts or any(p is None for p in parts):
            return None
        return parts[0] if len(parts) == 1 else "(" + " & ".join(parts) + ")"
    if isinstance(query, wq.Or):
        return _any(query.subqueries)
    if isinstance(query, wq.Term):
        return _lexeme(query.fieldname, query.text)
    if isinstance(query, wq.Prefix):
        return _lexeme(query.fieldname, query.text, prefix=True)
    if isinstance(query, wq.Phrase):
        words = [_lexeme(query.fieldname, w) for w in query.words]
        return "(" + " <-> ".join(words) + ")" if len(words) > 1 else words[0]
    return None


def _lexeme(field: str, word: str, weights: str | None = None, prefix: bool = False) -> str:
    mark = FIELDS.get(field, "")
    word = word[:MAX_WORD + 1]  # longer than any stored word: still finds nothing, no error
    if mark in ("~", "^"):
        return _escape(mark + word) + (":*" if prefix else "")
    weight = weights if weights is not None else mark
    return _escape(word) + (":" + ("*" if prefix else "") + weight if weight or prefix else "")


def _any(subqueries) -> str | None:
    """An Or: a word or phrase asked for in both title and body becomes one unweighted
    lexeme (the GIN index then answers without reading the documents)."""
    from whoosh import query as wq
    fields_of: dict[tuple, set[str]] = defaultdict(set)
    others: list[str] = []
    for sub in subqueries:
        if isinstance(sub, wq.Term) and sub.fieldname in ("title", "body"):
            fields_of[(sub.text,)].add(sub.fieldname)
        elif isinstance(sub, wq.Phrase) and sub.fieldname in ("title", "body"):
            fields_of[tuple(sub.words)].add(sub.fieldname)
        else:
            part = tsquery(sub)
            if part is not None:
                others.append(part)
    parts = []
    for words, fields in fields_of.items():
        weights = "" if fields == {"title", "body"} else FIELDS[next(iter(fields))]
        lexemes = [_lexeme("title", w, weights) for w in words]
        parts.append(lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")")
    parts += others
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "(" + " | ".join(dict.fromkeys(parts)) + ")"


COUNT_CAP = 1000  # matches counted exactly; beyond, the total is an estimate ("about")


def ranked(session, query: str, *, kinds=None, filters=None, now: int, window: int,
           broad: bool = False) -> tuple[list[str], int | None]:
    """Keys of the best `window` matches, and how many match (None: more than COUNT_CAP).

    `broad` (every word is in most documents, so ranking them all would read most of the
    table, 100+ ms at 20,000 notices): the title matches ranked, then the newest of the
    others in publication order, which an index reads without looking at the rest — as the
    Whoosh backend does."""
    where = ["d.published <= :now"]
    params: dict = {"q": query, "now": now, "weights": WEIGHTS}
    if kinds:
        where.append("d.kind = ANY(:kinds)")
        params["kinds"] = list(kinds)
    for name in ("category", "agency", "validity", "year"):
        if (filters or {}).get(name):
            where.append(f"d.{name} = :{name}")
            params[name] = str(filters[name])
    source = "FROM search_documents d, CAST(:q AS tsquery) q WHERE " + " AND ".join(where)
    ties = "(d.validity = 'valid') DESC, d.published DESC, d.key DESC"
    if broad:
        keys = list(session.scalars(text(
            f"SELECT d.key {source} AND d.title_tsv @@ q ORDER BY "
            f"round(ts_rank(:weights, d.title_tsv, q)::numeric, 3) DESC, {ties} LIMIT :n"),
            {**params, "n": window}))
        if len(keys) < window:
            keys += session.scalars(text(
                f"SELECT d.key {source} AND d.tsv @@ q AND NOT d.title_tsv @@ q "
                f"ORDER BY d.published DESC, d.key DESC LIMIT :n"),
                {**params, "n": window - len(keys)})
        return keys, (len(keys) if len(keys) < window else None)
    keys = list(session.scalars(text(
        f"SELECT d.key {source} AND d.tsv @@ q ORDER BY "
        f"round(ts_rank(:weights, d.tsv, q)::numeric, 3) DESC, {ties} LIMIT :n"),
        {**params, "n": window}))
    if len(keys) < window:
        return keys, len(keys)
    total = session.scalar(text(f"SELECT count(*) FROM (SELECT 1 {source} AND d.tsv @@ q "
                                f"LIMIT :cap) AS found"), {**params, "cap": COUNT_CAP + 1})
    return keys, (total if total <= COUNT_CAP else None)


# -- the lexicon -------------------------------------------------------------------------------

class _Words:
    """What ts_stat says about the documents, kept per process: full read at first and every
    REFRESH_SECONDS, topped up in between with the documents written since the last look."""

    REFRESH_SECONDS = 600

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.frequencies: dict[str, int] = {}
        self.titles: set[str] = set()
        self.pinyin: set[str] = set()
        self.documents = 0
        self.seen = None  # max(indexed_at) at the last look
        self.read_at = 0.0
        self.lexicon: Lexicon | None = None
        self.known: frozenset = frozenset()

    def current(self, session, known: set[str]) -> tuple[Lexicon, int]:
        latest = session.scalar(select(func.max(SearchDocument.indexed_at)))
        with self.lock:
            full = (self.lexicon is None or time.monotonic() - self.read_at > self.REFRESH_SECONDS
                    or (latest is None) != (self.seen is None) or frozenset(known) != self.known)
            if full:
                self.reset()
                self._read(session, None)
                self.read_at = time.monotonic()
            elif latest != self.seen:
                self._read(session, self.seen)
            else:
                return self.lexicon, self.documents
            self.seen, self.known = latest, frozenset(known)
            self.lexicon = Lexicon(self.frequencies, self.titles, self.pinyin, set(known))
            return self.lexicon, self.documents

    def _read(self, session, since) -> None:
        source = "SELECT {col} FROM search_documents"
        if since is not None:
            source += " WHERE indexed_at > '" + since.isoformat(sep=" ") + "'"
        for word, ndoc in session.execute(text("SELECT word, ndoc FROM ts_stat(:s)"),
                                          {"s": source.format(col="tsv")}):
            if word[:1] in ("~", "^"):
                self.pinyin.add(word[1:])
            else:
                self.frequencies[word] = self.frequencies.get(word, 0) + ndoc
        self.titles |= {word for word in session.scalars(
            text("SELECT word FROM ts_stat(:s)"), {"s": source.format(col="title_tsv")})
            if word[:1] not in ("~", "^")}
        count = text("SELECT count(*) FROM search_documents" + (
            " WHERE indexed_at > :since" if since is not None else ""))
        params = {"since": since} if since is not None else {}
        self.documents += session.scalar(count, params)


def lexicon(app, session, known: set[str]) -> tuple[Lexicon, int]:
    """The documents' words and how many documents there are (this process's copy)."""
    words = app.extensions.setdefault("tongban.search.pg_words", _Words())
    return words.current(session, known)
