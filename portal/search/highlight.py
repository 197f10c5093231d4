"""Snippets with the matched words marked, cut from the stored text of the hits shown.

Highlighting is only done for the ten or so hits on a page, on the text around the matches
(re-analysing whole documents costs as much as indexing them).
"""
from __future__ import annotations

import re

from markupsafe import Markup, escape


def _pattern(terms) -> re.Pattern | None:
    ordered = sorted({t for t in terms if t}, key=len, reverse=True)  # longest first
    return re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE) if ordered else None


def mark(text: str, terms) -> Markup:
    """`text` escaped, with every occurrence of a term wrapped in <mark>."""
    pattern = _pattern(terms)
    if pattern is None:
        return escape(text)
    out, last = [], 0
    for match in pattern.finditer(text):
        out += [escape(text[last:match.start()]), Markup("<mark>"), escape(match.group()),
                Markup("</mark>")]
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def snippet(text: str, terms, width: int = 90) -> Markup:
    """About `width` characters of `text` around the densest cluster of matches."""
    text = " ".join((text or "").split())
    pattern = _pattern(terms)
    matches = list(pattern.finditer(text)) if pattern else []
    if not matches:
        return escape(text[:width] + ("…" if len(text) > width else ""))
    best_start, best_score = 0, -1
    for m in matches:
        start = max(0, m.start() - width // 4)
        inside = {x.group().lower() for x in matches if start <= x.start() < start + width}
        if len(inside) > best_score:
            best_start, best_score = start, len(inside)
    piece = text[best_start:best_start + width]
    return Markup("").join([Markup("…") if best_start else Markup(""), mark(piece, terms),
                            Markup("…") if best_start + width < len(text) else Markup("")])
