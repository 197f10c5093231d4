"""The words in the index, for what queries need beyond exact words:

- `containing(w)`: indexed words that contain w (医疗 → 医疗保险, 城乡居民基本医疗保险), what
  jieba's search mode would have indexed as sub-words, found at query time instead;
- `same_sound(w)` and `nearest_pinyin(a)`: for "did you mean" (社宝卡 → 社保卡, weixinyan →
  微心愿), from the titles' words and their pinyin.

Built from the index's term lists once per index generation and process.
"""
from __future__ import annotations

from collections import defaultdict
from functools import cached_property

from portal.search.analysis import full_pinyin, initials, is_cjk


class Lexicon:
    def __init__(self, frequencies: dict[str, int], title_words: set[str],
                 pinyin_terms: set[str], known_words: set[str] = frozenset()):
        self.frequencies = frequencies  # word → documents containing it (any text field)
        # Words whose sound a pinyin query may mean: the titles' words, and the domain and
        # synonym words that occur anywhere in the index.
        self.title_words = title_words | {w for w in known_words if w in frequencies}
        self.pinyin_terms = pinyin_terms  # full pinyin and initials indexed for titles
        grams: dict[str, set[str]] = defaultdict(set)
        for word in frequencies:
            if len(word) > 1:
                for gram in {word[i:i + 2] for i in range(len(word) - 1)}:
                    grams[gram].add(word)
                if len(word) <= 4:
                    for ch in set(word):
                        grams[ch].add(word)
        self._grams = grams

    def has(self, word: str) -> bool:
        return word in self.frequencies

    def containing(self, word: str, limit: int = 20) -> list[str]:
        """Indexed words longer than `word` that contain it, the most frequent first."""
        if len(word) == 1:
            found = self._grams.get(word, set())
        else:
            sets = [self._grams.get(word[i:i + 2], set()) for i in range(len(word) - 1)]
            found = set.intersection(*sorted(sets, key=len)) if sets else set()
        found = [w for w in found if w != word and word in w]
        return sorted(found, key=lambda w: (-self.frequencies[w], w))[:limit]

    @cached_property
    def _by_sound(self) -> dict[str, list[str]]:
        """Full pinyin → title words with that sound, most frequent first."""
        sounds: dict[str, list[str]] = defaultdict(list)
        for word in self.title_words:
            if is_cjk(word) and len(word) > 1:
                sounds[full_pinyin(word)].append(word)
        for words in sounds.values():
            words.sort(key=lambda w: -self.frequencies.get(w, 0))
        return sounds

    def same_sound(self, word: str) -> str | None:
        """A title word pronounced like `word` (a typo from a pinyin keyboard), if any."""
        for candidate in self._by_sound.get(full_pinyin(word), ()):
            if candidate != word:
                return candidate
        return None

    def sounding(self, ascii_query: str) -> list[str]:
        """Known words whose full pinyin is exactly `ascii_query`, most frequent first."""
        return self._by_sound.get(ascii_query.lower(), [])

    def words_sounding(self, ascii_query: str) -> list[str]:
        """Title words whose full pinyin or initials is `ascii_query` (for highlighting)."""
        query = ascii_query.lower()
        exact = self._by_sound.get(query, [])
        if exact:
            return exact
        return [w for w in self.title_words
                if is_cjk(w) and len(query) >= 2 and initials(w) == query][:20]

    def segment(self, word: str) -> list[str]:
        """A typed word the index does not have, as the indexed words it is made of: jieba
        cuts differently in context (东岭村 alone, 东岭 / 村民 in a sentence), so 东岭村 is
        searched as 东岭 … Characters no indexed word covers are skipped."""
        # best[i]: (characters covered, -pieces, pieces) for word[:i]; more covered is
        # better, then fewer pieces.
        best: list[tuple | None] = [(0, 0, [])] + [None] * len(word)

        def offer(j, candidate):
            if best[j] is None or candidate[:2] > best[j][:2]:
                best[j] = candidate

        for i in range(len(word)):
            if best[i] is None:
                continue
            covered, pieces, found = best[i]
            offer(i + 1, (covered, pieces, found))  # skip one character
            for j in range(i + 2, len(word) + 1):
                piece = word[i:j]
                if piece != word and piece in self.frequencies:
                    offer(j, (covered + j - i, pieces - 1, found + [piece]))
        return best[len(word)][2]

    def broad(self, word: str, documents: int) -> bool:
        """In more than 40% of a large index's documents: it hardly tells them apart, and
        scoring all of them is slow. (In a small index nothing is slow to score.)"""
        return documents >= 2000 and self.frequencies.get(word, 0) > 0.4 * documents

    def split_pinyin(self, ascii_query: str) -> list[str] | None:
        """Latin letters spelling several title words in a row (gaolingjintie → 高龄, 津贴),
        in as few words as possible; None when they cannot be spelled that way."""
        query, sounds = ascii_query.lower(), self._by_sound
        longest = min(len(query), max(map(len, sounds), default=0))
        best: list[list[str] | None] = [[]] + [None] * len(query)  # best[i]: spelling of query[:i]
        for i in range(len(query)):
            if best[i] is None:
                continue
            for length in range(2, min(longest, len(query) - i) + 1):
                words = sounds.get(query[i:i + length])
                if words and (best[i + length] is None or len(best[i]) + 1 < len(best[i + length])):
                    best[i + length] = best[i] + [words[0]]
        found = best[len(query)]
        return found if found and len(found) > 1 else None

    def nearest_pinyin(self, ascii_query: str) -> str | None:
        """The title word whose pinyin is closest to a mistyped pinyin (edit distance ≤ 2)."""
        query = ascii_query.lower()
        if len(query) < 4:
            return None
        allowed = 1 if len(query) <= 6 else 2  # short pinyin: one slip, or it is another word
        best, best_key = None, (allowed + 1, 0)
        for sound, words in self._by_sound.items():
            if abs(len(sound) - len(query)) > allowed:
                continue
            distance = _edit_distance(query, sound, allowed + 1)
            key = (distance, -self.frequencies.get(words[0], 0))
            if distance <= allowed and key < best_key:
                best, best_key = words[0], key
        return best


def _edit_distance(a: str, b: str, cap: int) -> int:
    """Levenshtein distance, giving up (returning cap) once it must reach cap."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        if min(current) >= cap:
            return cap
        previous = current
    return min(previous[-1], cap)


def from_reader(reader, known_words=frozenset()) -> Lexicon:
    """Read a Whoosh reader's term lists (the only Whoosh-aware function here)."""
    frequencies: dict[str, int] = {}
    for field in ("title", "body"):
        for text, count in _terms(reader, field):
            frequencies[text] = max(frequencies.get(text, 0), count)
    titles = {text for text, _ in _terms(reader, "title")}
    pinyin = {text for field in ("py", "pyi") for text, _ in _terms(reader, field)}
    return Lexicon(frequencies, titles, pinyin, set(known_words))


def _terms(reader, field: str):
    """(word, document frequency) for every term of `field`."""
    if field not in reader.indexed_field_names():
        return
    for term, info in reader.iter_field(field):
        yield (term.decode("utf-8") if isinstance(term, bytes) else term), info.doc_frequency()
