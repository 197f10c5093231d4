"""Static files: WhiteNoise serves them, Brotli- or gzip-compressed, cached for a year.

Every URL `url_for("static", …)` makes carries a hash of the file's content (`?v=…`), so a
changed file is a new URL and the year-long cache never serves an old script. The compressed
copies sit beside the originals (not in git): setup.py writes them into a wheel, a checkout
writes them at start for whatever is missing or changed.
"""
from __future__ import annotations

import fcntl
import hashlib
import tempfile
from functools import lru_cache
from pathlib import Path

from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

YEAR = 365 * 24 * 3600


def compress(root: Path) -> list[str]:
    """Write `name.br` and `name.gz` beside each compressible file under `root` whose
    copies are missing or older. Every process starting on this folder takes its turn (a
    lock file outside it, so WhiteNoise never serves the lock nor a half-written copy)."""
    compressor = Compressor(quiet=True)
    stale = [path for path in sorted(root.rglob("*"))
             if path.is_file() and compressor.should_compress(path.name) and _stale(path)]
    if not stale:
        return []
    written: list[str] = []
    name = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"tongban-static-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for path in stale:
            if _stale(path):  # another worker may have done it while this one waited
                written += compressor.compress(str(path))
    return written


def _stale(path: Path) -> bool:
    copy = path.with_name(path.name + ".gz")  # the compressor gives it the original's mtime
    return not copy.exists() or copy.stat().st_mtime != path.stat().st_mtime


@lru_cache(maxsize=256)
def _digest(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def serve(app, root: Path) -> None:
    """Put WhiteNoise in front of the app for `/static/`, and hash every static URL."""
    try:
        compress(root)
    except OSError as error:  # a read-only install: serve the originals, and say so
        app.logger.warning("static files not compressed: %s", error)

    def headers(headers, path, url) -> None:
        headers["X-Content-Type-Options"] = "nosniff"

    app.wsgi_app = WhiteNoise(app.wsgi_app, root=str(root), prefix="static/",
                              autorefresh=app.debug, max_age=0 if app.debug else YEAR,
                              add_headers_function=headers)

    @app.url_defaults
    def hashed(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values:
            path = root / values["filename"]
            try:
                values.setdefault("v", _digest(path, path.stat().st_mtime_ns))
            except OSError:
                pass  # a file that is not there: the URL stays as asked (and 404s)
