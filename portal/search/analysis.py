"""Chinese text → words, for the index and for queries alike.

- Words come from rjieba (jieba's Rust binding: the same tokens, ~20× faster) in default
  mode, numbered 0, 1, 2 … so phrase queries work; character offsets are kept separately
  for highlighting. Sub-words (search mode) are not indexed: they halve the indexing rate
  (measured 798 against 1,548 notices/s); a query word is instead expanded to the indexed
  words that contain it (search/lexicon.py).
- Domain words (programme and item names, synonym terms) are added to the dictionary, so
  持社会保障卡到窗口 cuts as 社会保障卡 / 到 / 窗口 and not 社会保障 / 卡到. When the list
  changes, the index must be rebuilt (its dictionary version no longer matches).
- Pinyin: full pinyin and initials of each word, for `weixinyuan` and `wxy` → 微心愿.

The tokenizer is a module-level class: Whoosh pickles analyzers into the index schema.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

import rjieba
from pypinyin import Style, lazy_pinyin
from whoosh.analysis import Token, Tokenizer

WORDS_FILE = Path(__file__).resolve().parent / "data" / "words.txt"
# Single characters too common to help: dropped from the index and from queries.
STOP_CHARS = frozenset("的了和与及或在对为将是等由于并按其以之从向被把给也都而且已可有个这那该各所到就")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")

_loaded: set[str] = set()
_version = ""


def clean(text: str) -> str:
    """NFKC (full-width letters and digits to ASCII), control characters out, spaces folded."""
    text = _CONTROL.sub(" ", unicodedata.normalize("NFKC", text or ""))
    return " ".join(text.split())


def is_cjk(word: str) -> bool:
    return bool(_CJK.search(word))


_WORDY = re.compile(r"[^\W_]")  # a letter or digit of any script


def tokens(text: str, single: bool = True) -> Iterator[tuple[str, int, int]]:
    """(word, start, end) for every word worth indexing, in order; lower-cased. Stop
    characters, punctuation and runs of more than eight digits (phone numbers, account
    numbers: never what people search a notice for) are left out; `single=False` leaves
    out every one-character word (年, 元, 户 … in long texts: 13% of a body's postings)."""
    stop, wordy = STOP_CHARS, _WORDY.search
    for word, start, end in rjieba.tokenize(text):
        if len(word) == 1:
            if not single or word in stop or not word.isalnum():
                continue
        elif not wordy(word) or (len(word) > 8 and word.isdigit()):
            continue
        yield word.lower(), start, end


def words(text: str) -> list[str]:
    return [w for w, _, _ in tokens(clean(text))]


@lru_cache(maxsize=200_000)  # titles repeat their words; pypinyin costs ~30 µs a word
def full_pinyin(word: str) -> str:
    """微心愿 → weixinyuan (ASCII words pass through lower-cased)."""
    return "".join(lazy_pinyin(word, errors="default")).lower() if is_cjk(word) else word.lower()


@lru_cache(maxsize=200_000)
def initials(word: str) -> str:
    """微心愿 → wxy."""
    return "".join(p[:1] for p in lazy_pinyin(word, style=Style.FIRST_LETTER,
                                              errors="ignore")).lower()


class ChineseTokenizer(Tokenizer):
    """Whoosh tokenizer: one token per word, positions 0, 1, 2 …, character offsets.
    `single=False` (long bodies) skips one-character words; queries keep them and find
    such texts through the longer words containing them (search/lexicon.py)."""

    def __init__(self, single: bool = True):
        self.single = single

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="",
                 **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos = start_pos
        for word, start, end in tokens(value, getattr(self, "single", True)):
            token.text, token.boost, token.stopped = word, 1.0, False
            if keeporiginal:
                token.original = word
            if positions:
                token.pos = pos
            if chars:
                token.startchar, token.endchar = start_char + start, start_char + end
            yield token
            pos += 1


class PinyinTokenizer(Tokenizer):
    """Whoosh tokenizer for the pinyin fields: each word's full pinyin, or its initials."""

    def __init__(self, style: str = "full"):
        self.style = style

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="",
                 **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        convert = full_pinyin if self.style == "full" else initials
        for n, (word, _start, _end) in enumerate(tokens(value)):
            if not is_cjk(word):
                continue
            token.text, token.boost, token.stopped = convert(word), 1.0, False
            if positions:
                token.pos = start_pos + n
            yield token


MAX_DICTIONARY_WORD = 6  # longer terms (城乡居民基本医疗保险) stay phrases of their words


def load_dictionary(extra: Iterable[str] = ()) -> str:
    """Add the domain words (the shipped list and `extra`, e.g. synonym terms, up to six
    characters: a long term made one word would no longer match its own words) to the
    segmenter; returns the dictionary version the index must have been built with."""
    global _version
    wanted = {w.strip() for w in (*_shipped_words(), *extra)
              if w and w.strip() and len(w.strip()) <= MAX_DICTIONARY_WORD}
    for word in sorted(wanted - _loaded):
        rjieba.add_word(word, None, None)
        _loaded.add(word)
    _version = hashlib.sha256("\n".join(sorted(wanted)).encode()).hexdigest()[:16]
    return _version


def known_words() -> set[str]:
    """The domain words the segmenter was given."""
    return set(_loaded)


def dictionary_version() -> str:
    return _version


def _shipped_words() -> list[str]:
    lines = WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]
