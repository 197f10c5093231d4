"""Compiled translation catalogues (.mo) from the .po files we keep in git.

The wheel carries them compiled (setup.py calls `compile_catalogues` at build time); a
checkout compiles at start whatever is missing or older than its .po, so English never
silently falls back to Chinese because nobody ran a compile step. Only Babel is imported
here: setup.py loads this file before any dependency is installed.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po


def compile_catalogues(source: Path, target: Path | None = None) -> list[Path]:
    """Write `target/<lang>/LC_MESSAGES/<domain>.mo` for every .po under `source` whose .mo
    is missing or older; returns what was written."""
    written = []
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        mo = (target or source) / po.relative_to(source).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parts[-3])
        mo.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: workers starting together never read half a file.
        fd, temporary = tempfile.mkstemp(dir=mo.parent, suffix=".mo.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                write_mo(f, catalog, use_fuzzy=False)
            os.chmod(temporary, 0o644)  # mkstemp makes it private
            os.replace(temporary, mo)
        except BaseException:
            os.unlink(temporary)
            raise
        written.append(mo)
    return written
