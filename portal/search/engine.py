"""The Whoosh index on local disk: the only module that knows Whoosh's storage and writers.

Layout under `<data dir>/search/`: generation folders (`gen-…`), a `CURRENT` file naming the
one in use, and lock files. A rebuild fills a new generation and swaps `CURRENT` atomically;
readers always open the generation `CURRENT` names. Whoosh's own lock serialises writers
(flock: one machine, local disk); a writer that cannot get it within a moment raises
`IndexBusy`, and the caller leaves its changes queued (search/outbox.py). Known traps of
whoosh-reloaded 2.7.5 avoided here (docs/SEARCH-NOTES.md): `Searcher.refresh()` is never
called (a searcher is opened per index generation), searchers are closed when replaced.
"""
from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

with warnings.catch_warnings():  # whoosh-reloaded's old regex strings warn when compiled
    warnings.simplefilter("ignore", SyntaxWarning)
    from whoosh import fields, index, scoring
    from whoosh.writing import LockError

from portal.search.analysis import ChineseTokenizer, PinyinTokenizer


class IndexBusy(Exception):
    """Another process holds the index's write lock (or is rebuilding it)."""


class IndexUnavailable(Exception):
    """No usable index (deleted or corrupt): a rebuild is needed."""


def schema() -> fields.Schema:
    chinese = ChineseTokenizer()
    return fields.Schema(
        key=fields.ID(stored=True, unique=True),  # "notice:12"
        kind=fields.ID(stored=True),
        # The title, then the document number, agency and category (one field: each word
        # of a query searches two fields, not three — measured 40% faster on mixed queries).
        title=fields.TEXT(analyzer=chinese, field_boost=4.0),
        body=fields.TEXT(analyzer=ChineseTokenizer(single=False)),
        py=fields.TEXT(analyzer=PinyinTokenizer("full"), phrase=False, field_boost=2.0),
        pyi=fields.TEXT(analyzer=PinyinTokenizer("initials"), phrase=False),
        category=fields.ID, agency=fields.ID, validity=fields.ID(stored=True), year=fields.ID,
        # Stored, not indexed: a NUMERIC field indexes a term per 4 bits of every value (16
        # for a timestamp); the "not before its time" filter runs on the ranked hits instead.
        published=fields.STORED, version=fields.STORED,
    )


class SaturatedFrequency(scoring.BaseScorer):
    """BM25 without length normalisation: idf × tf·(k1+1)/(tf+k1). Notice bodies are of
    similar length, and not reading each document's body length per match makes body
    scoring ~35% cheaper (Whoosh scores in Python)."""

    def __init__(self, searcher, fieldname, text, k1=1.2):
        self.idf = searcher.get_parent().idf(fieldname, text)
        self.k1 = k1
        self._max = self._of(searcher.term_info(fieldname, text).max_weight())

    def _of(self, weight: float) -> float:
        return self.idf * weight * (self.k1 + 1) / (weight + self.k1)

    def supports_block_quality(self):
        return True

    def score(self, matcher):
        return self._of(matcher.weight())

    def max_quality(self):
        return self._max

    def block_quality(self, matcher):
        return self._of(matcher.block_max_weight())


class Weighting(scoring.WeightingModel):
    """BM25F for titles (their lengths matter), saturated frequency for bodies."""

    def __init__(self):
        self.bm25 = scoring.BM25F()

    def supports_block_quality(self):
        return True

    def scorer(self, searcher, fieldname, text, qf=1):
        if fieldname == "body":
            return SaturatedFrequency(searcher, fieldname, text)
        return self.bm25.scorer(searcher, fieldname, text, qf)


class Engine:
    """One index folder. Cheap to create; searchers are kept per generation and thread."""

    def __init__(self, folder: Path, memory_mb: int = 512):
        self.folder = Path(folder)
        self.memory_mb = memory_mb  # per writing process; less makes Whoosh spill to disk
        self._local = threading.local()

    # -- generations -------------------------------------------------------------------------

    def current_dir(self) -> Path | None:
        try:
            name = (self.folder / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None
        path = self.folder / name
        # Only whether it is there: opening it is the readers' and writers' job (and where a
        # damaged one shows itself).
        return path if name and any(path.glob("_MAIN_*.toc")) else None

    def open(self):
        path = self.current_dir()
        if path is None:
            raise IndexUnavailable("no index")
        try:
            return index.open_dir(str(path))
        except Exception as error:  # a damaged TOC or segment: Whoosh raises many kinds
            raise IndexUnavailable(str(error)) from error

    def dictionary(self) -> str | None:
        """The dictionary version the current generation was built with."""
        path = self.current_dir()
        try:
            return (path / "DICTIONARY").read_text().strip() if path else None
        except FileNotFoundError:
            return None

    def new_generation(self, dictionary: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"gen-{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}"
        path.mkdir()
        index.create_in(str(path), schema())
        (path / "DICTIONARY").write_text(dictionary)
        return path

    def switch_to(self, path: Path) -> None:
        """Make `path` current (atomic rename) and remove older generations."""
        pointer = self.folder / f"CURRENT.{secrets.token_hex(4)}"
        pointer.write_text(path.name)
        os.replace(pointer, self.folder / "CURRENT")
        for old in self.folder.glob("gen-*"):
            if old != path:
                shutil.rmtree(old, ignore_errors=True)  # open readers keep their files

    def ensure(self, dictionary: str) -> None:
        """An empty index when there is none yet (a fresh data dir)."""
        if self.current_dir() is None:
            self.switch_to(self.new_generation(dictionary))

    # -- writing ---------------------------------------------------------------------------------

    @contextmanager
    def rebuilding(self, wait: bool = False) -> Iterator[None]:
        """Held for a whole rebuild: incremental writers stay away meanwhile (their changes
        stay queued and are applied to the new generation afterwards)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "REBUILD.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise IndexBusy("a rebuild is running") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def rebuild_running(self) -> bool:
        try:
            with self.rebuilding():
                return False
        except IndexBusy:
            return True

    def write(self, upserts: list[dict], deletes: list[str], timeout: float = 1.0) -> None:
        """Apply changes to the current generation in one commit, or raise IndexBusy."""
        if self.rebuild_running():
            raise IndexBusy("a rebuild is running")
        ix = self.open()
        try:
            writer = ix.writer(timeout=timeout)
        except LockError:
            raise IndexBusy("the write lock is held") from None
        try:
            for key in deletes:
                writer.delete_by_term("key", key)
            for doc in upserts:
                writer.update_document(**doc)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    def fill(self, path: Path, docs: Iterable[dict], procs: int = 2,
             progress: Callable[[int], None] | None = None, append: bool = False) -> int:
        """Write `docs` into the generation at `path` in bulk (several processes): a new one
        being built, or (`append`, new documents only) the current one."""
        ix = index.open_dir(str(path))
        try:
            # multisegment: each process's segment is kept as it is; merging them at the end
            # halved the rate (measured 378 against 799 notices/s) for a small gain in search.
            # 512 MB per process: with 256 Whoosh spilled to disk (587 against 866/s at 20k).
            writer = ix.writer(procs=procs, limitmb=self.memory_mb, multisegment=True,
                               timeout=5.0) if procs > 1 \
                else ix.writer(limitmb=self.memory_mb, timeout=5.0)
        except LockError:
            raise IndexBusy("the write lock is held") from None
        count = 0
        try:
            for doc in docs:
                writer.add_document(**doc)
                count += 1
                if progress and count % 100 == 0:
                    progress(100)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        if progress:
            progress(count % 100)
        return count

    # -- reading ---------------------------------------------------------------------------------

    @contextmanager
    def searcher(self):
        """A searcher for the current generation, kept by this thread until the index changes
        (a new commit or a new generation); the one it replaces is closed."""
        path = self.current_dir()
        if path is None:
            raise IndexUnavailable("no index")
        cached = getattr(self._local, "cached", None)  # (path, index, generation, searcher)
        try:
            ix = cached[1] if cached and cached[0] == path else index.open_dir(str(path))
            generation = ix.latest_generation()
            if not cached or cached[0] != path or cached[2] != generation:
                if cached:
                    cached[3].close()
                cached = self._local.cached = (path, ix, generation,
                                               ix.searcher(weighting=Weighting()))
        except Exception as error:  # deleted under us, or damaged
            self._local.cached = None
            raise IndexUnavailable(str(error)) from error
        yield cached[3]

    def generation(self) -> tuple:
        """What identifies the index's contents now: (folder, TOC generation), read from the
        file names alone (opening the index on every query would cost a millisecond)."""
        path = self.current_dir()
        if path is None:
            return (None, -1)
        numbers = [int(p.stem.rsplit("_", 1)[1]) for p in path.glob("_MAIN_*.toc")
                   if p.stem.rsplit("_", 1)[1].isdigit()]
        return (path.name, max(numbers, default=-1))

    def stored(self) -> dict[str, object]:
        """Every document's key and stored version (for `search verify`)."""
        with self.searcher() as searcher:
            return {fields_["key"]: fields_.get("version")
                    for fields_ in searcher.all_stored_fields()}

    def close(self) -> None:
        cached = getattr(self._local, "cached", None)
        if cached is not None:
            cached[3].close()
            self._local.cached = None
