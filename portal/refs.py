"""Reference codes people read aloud, type and scan: booking codes and volunteer check-in codes.

One alphabet (no 0/O, 1/I), one way to read what was typed (lower case, spaces, dashes,
full-width letters) and one way to find a code in what a scanner typed (the code itself, or the
status page URL from the QR on the slip).
"""
from __future__ import annotations

import re
import secrets
import unicodedata

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed safely
LENGTH = 8  # 32^8 ≈ 10^12 codes: guessing one is hopeless under the look-up rate limit
_IN_TEXT = re.compile(f"([{ALPHABET}]{{{LENGTH}}})$")


def new_code(prefix: str = "") -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(raw: str | None) -> str:
    """What people type: lower case, spaces, dashes, full-width letters. Anything that can
    never be in a code (a NUL from a hand-made link, say) is dropped."""
    text = unicodedata.normalize("NFKC", raw or "").upper()
    return "".join(ch for ch in text if ch.isascii() and ch.isalnum())[:20]


def from_scan(text: str) -> str:
    """The code from what was typed or scanned: a code, or a page's URL ending in one (a
    booking's status page, a ticket's page: the QR codes on slips and tickets)."""
    path = text.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    normal = normalise(path.rsplit("/", 1)[-1])
    match = _IN_TEXT.search(normal)
    return match.group(1) if match else normal
