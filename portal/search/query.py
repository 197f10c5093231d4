"""From what a person typed to a Whoosh query — built from words, never parsed as query
syntax, so `AND`, `*`, `title:` and stray quotes are just text.

- Text in balanced double quotes (or 「」/“”) is a phrase; an unbalanced quote is dropped.
- Chinese text is cut into words; each word matches itself, its synonyms (社保卡 ≈
  社会保障卡) and the indexed words that contain it (医疗 → 医疗保险), the exact word weighted
  most. Latin letters also match the titles' pinyin and initials (weixinyuan, wxy → 微心愿).
- Every word must match; when that finds nothing, any word may (and the page says so).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

with warnings.catch_warnings():
    warnings.simplefilter("ignore", SyntaxWarning)
    from whoosh import query as wq

from portal.search.analysis import clean, is_cjk, words
from portal.search.lexicon import Lexicon

MAX_QUERY = 100  # characters kept of what was typed
MAX_PARTS = 12
TEXT_FIELDS = (("title", 1.0), ("body", 1.0))
_QUOTES = re.compile(r'"([^"]*)"')
_ASCII_WORD = re.compile(r"^[a-z]+$")


@dataclass
class Part:
    words: list[str]  # one word, or a phrase's words
    phrase: bool = False
    original: str = ""


@dataclass
class Parsed:
    text: str
    parts: list[Part] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.parts


def parse(raw: str | None) -> Parsed:
    text = clean(raw)[:MAX_QUERY]
    text = text.replace("「", '"').replace("」", '"').replace("“", '"').replace("”", '"')
    parts: list[Part] = []
    last = 0
    for match in _QUOTES.finditer(text):
        parts += _words_of(text[last:match.start()])
        phrase = words(match.group(1))
        if len(phrase) > 1:
            parts.append(Part(phrase, phrase=True, original=match.group(1)))
        else:
            parts += [Part([w], original=w) for w in phrase]
        last = match.end()
    parts += _words_of(text[last:].replace('"', " "))
    # A one-character word beside longer ones (东岭村 → 东岭 + 村) only narrows the search to
    # titles that happen to have it: long texts do not index single characters.
    if any(len(p.words[0]) > 1 or p.phrase for p in parts):
        parts = [p for p in parts if p.phrase or len(p.words[0]) > 1 or not is_cjk(p.words[0])]
    return Parsed(text, parts[:MAX_PARTS])


def _words_of(text: str) -> list[Part]:
    return [Part([w], original=w) for w in words(text)]


@dataclass
class Built:
    query: object
    relaxed_query: object
    terms: set[str]  # what to highlight


def build(parsed: Parsed, lexicon: Lexicon | None, synonyms: dict[str, list[str]],
          expand: bool = False, documents: int = 0, titles_only: bool = False) -> Built:
    """The strict query (every part), the relaxed one (any part) and the words to mark.

    `expand`: also the longer indexed words containing each word (医疗 → 医疗保险). Dozens of
    terms per word make a query ten times slower, so it is the second try, when the exact
    words found too little. `titles_only`: the titles (and their pinyin) alone — matches
    there rank first anyway, and titles are short to search.
    """
    fields = TEXT_FIELDS[:1] if titles_only else TEXT_FIELDS
    subqueries, terms, rare = [], set(), []
    for part in parsed.parts:
        if part.phrase:
            subqueries.append(wq.Or([wq.Phrase(f, part.words, boost=b * 2)
                                     for f, b in fields]))
            terms.add("".join(part.words))
            continue
        word = part.words[0]
        broad = lexicon is not None and lexicon.broad(word, documents)
        # A word in most documents needs no widening; it would only slow the query down.
        query, marked = _word(word, lexicon, synonyms, expand and not broad, fields)
        subqueries.append(query)
        if not broad:
            rare.append(query)
        terms |= marked
    # "Any word" leaves out the words in most documents: they would match nearly everything.
    return Built(wq.And(subqueries), wq.Or(rare or subqueries), terms)


def _word(word: str, lexicon: Lexicon | None, synonyms: dict[str, list[str]],
          expand: bool = False, fields=TEXT_FIELDS):
    """One typed word: itself, its synonyms, and (`expand`) the longer indexed words
    containing them."""
    exact = [word, *synonyms.get(word, [])]
    related = []
    if lexicon is not None and expand:
        for w in exact:
            related += [r for r in lexicon.containing(w, limit=6) if r not in exact]
    alternatives = [_term_or_phrase(f, w, b * (1.0 if w == word else 0.8))
                    for w in exact for f, b in fields]
    if lexicon is not None and is_cjk(word) and len(word) > 2 and not lexicon.has(word):
        pieces = lexicon.segment(word)
        if pieces:  # cut differently in the texts: the pieces, together
            alternatives += [wq.Phrase(f, pieces, boost=b * 0.9) if len(pieces) > 1
                             else wq.Term(f, pieces[0], boost=b * 0.9)
                             for f, b in fields]
            exact += pieces
    alternatives += [wq.Term(f, w, boost=b * 0.5) for w in related[:20] for f, b in fields]
    marked = set(exact) | set(related[:20])
    if lexicon is not None and not expand and len(word) > 1:
        marked |= set(lexicon.containing(word, limit=10))  # marked if present, not searched
    if _ASCII_WORD.match(word) and len(word) >= 2:  # pinyin or initials of a title word
        alternatives += [wq.Term("py", word, boost=1.5), wq.Term("pyi", word, boost=1.0)]
        if len(word) >= 4:
            alternatives.append(wq.Prefix("py", word, boost=0.5))
        if lexicon is not None:
            marked |= set(lexicon.words_sounding(word))
            for chinese in lexicon.sounding(word)[:3]:  # dibao → 低保, wherever it occurs
                query, more = _word(chinese, lexicon, synonyms, expand, fields)
                alternatives.append(query)
                marked |= more
            if word not in lexicon.pinyin_terms and (spelled := lexicon.split_pinyin(word)):
                pieces = [_word(piece, lexicon, synonyms, expand, fields) for piece in spelled]
                alternatives.append(wq.And([query for query, _ in pieces]))
                marked |= set().union(*(m for _, m in pieces))
    return wq.Or(alternatives), marked


def _term_or_phrase(field: str, text: str, boost: float):
    """A synonym may be several words (新农合 ≈ 城乡居民基本医疗保险): then a phrase of them."""
    cut = words(text) if len(text) > 2 else [text]
    if len(cut) > 1:
        return wq.Phrase(field, cut, boost=boost)
    return wq.Term(field, cut[0] if cut else text, boost=boost)


def suggestion(parsed: Parsed, lexicon: Lexicon | None) -> str | None:
    """A corrected query when some typed word is not in the index but something close is:
    a word that sounds the same (社宝卡 → 社保卡), or the pinyin nearest a mistyped one."""
    if lexicon is None:
        return None
    changed, out = False, []
    for part in parsed.parts:
        fixed = []
        for word in part.words:
            better = None
            if not lexicon.has(word):
                if is_cjk(word):
                    better = lexicon.same_sound(word)
                elif _ASCII_WORD.match(word) and word not in lexicon.pinyin_terms:
                    better = lexicon.nearest_pinyin(word)
            fixed.append(better or word)
            changed |= better is not None
        out.append(("".join(fixed) if not part.phrase else f'"{"".join(fixed)}"'))
    return " ".join(out) if changed else None
