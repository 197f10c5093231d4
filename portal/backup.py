"""Backups that restore: `flask --app wsgi backup DIR` and `flask --app wsgi restore DIR`.

A backup folder holds the database (SQLite: a copy made by SQLite's online backup API in one
step, so one consistent snapshot while the portal goes on writing; PostgreSQL: `pg_dump`'s
custom format from an exported snapshot, the same snapshot the row counts are read in), the
uploads (copied after the database, so every file the database names is there), and
`manifest.json`: the schema revision, the row count of every table and the SHA-256 of every
file. The search index is not backed up: a restore rebuilds it. A backup is written to a
`.partial` folder and renamed when complete, so a folder with a manifest is a whole backup.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import inspect, text

from portal.extensions import db
from portal import uploads as upload_store
from portal.timeutil import local_now

MANIFEST = "manifest.json"
SQLITE_FILE, PG_FILE = "database.sqlite3", "database.pgdump"


class BackupRefused(Exception):
    """A backup that cannot be made or restored, and why (shown as is on the command line)."""


@dataclass
class Made:
    folder: Path
    manifest: dict

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def summary(self) -> str:
        tables = self.manifest["tables"]
        return (f"{sum(tables.values())} rows in {len(tables)} tables, "
                f"{len(self.manifest['files'])} files, schema {self.manifest['revision']}")


def _data_dir() -> Path:
    return Path(current_app.config["PORTAL_DATA_DIR"])


def _is_sqlite() -> bool:
    return db.engine.url.get_backend_name() == "sqlite"


def _sqlite_path() -> str:
    return db.engine.url.database


def _pg_dsn() -> str:
    return db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _counts_sqlite(conn: sqlite3.Connection) -> dict[str, int]:
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name")]
    return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def _copy_if_there(source, target):
    try:
        return shutil.copy2(source, target)
    except FileNotFoundError:
        return target


def make(folder: Path) -> Made:
    """Back up into `folder` (new, or an empty folder)."""
    folder = folder.resolve()
    if folder.exists() and any(folder.iterdir()):
        raise BackupRefused(f"{folder} is not empty: a backup goes into a new folder")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    started = datetime.now().astimezone()
    if _is_sqlite():
        source = sqlite3.connect(f"file:{_sqlite_path()}?mode=ro", uri=True, timeout=30)
        copy = sqlite3.connect(partial / SQLITE_FILE)
        try:
            source.backup(copy)  # all pages in one step: one snapshot
            tables = _counts_sqlite(copy)
            revision = copy.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        finally:
            copy.close()
            source.close()
    else:
        tables, revision = _pg_dump(partial / PG_FILE)
    uploads = upload_store.root()
    if uploads.is_dir():  # files half-written (.part) or deleted meanwhile are not the database's
        shutil.copytree(uploads, partial / "uploads", ignore=shutil.ignore_patterns("*.part"),
                        copy_function=_copy_if_there)
    files = {str(p.relative_to(partial)): _sha256(p)
             for p in sorted(partial.rglob("*")) if p.is_file()}
    manifest = {"made_at": started.isoformat(timespec="seconds"),
                "database": "sqlite" if _is_sqlite() else "postgresql",
                "revision": revision, "tables": tables, "files": files}
    (partial / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1),
                                    encoding="utf-8")
    if folder.exists():
        folder.rmdir()
    partial.rename(folder)
    return Made(folder, manifest)


def _pg_dump(target: Path) -> tuple[dict[str, int], str]:
    """pg_dump from a snapshot exported by a repeatable-read transaction that also counts the
    rows, so the counts are those of the dump."""
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
            names = [r[0] for r in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"))]
            tables = {n: conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar() for n in names}
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            done = subprocess.run(["pg_dump", "--format=custom", f"--snapshot={snapshot}",
                                   "--no-owner", "--no-privileges", "--schema=public",
                                   f"--file={target}", _pg_dsn()],
                                  capture_output=True, text=True, timeout=3600)
            if done.returncode:
                raise BackupRefused(f"pg_dump failed: {done.stderr.strip()}")
    return tables, revision


# -- restore -----------------------------------------------------------------------------------

def verify(folder: Path) -> dict:
    """The manifest, after checking every file it lists; refuses naming the first bad file."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BackupRefused(f"{folder / MANIFEST} is missing or unreadable: not a backup") \
            from None
    for name, digest in files.items():
        path = folder / name
        if not path.is_file():
            raise BackupRefused(f"{name} is missing from the backup")
        if _sha256(path) != digest:
            raise BackupRefused(f"{name} is damaged: its checksum differs from the manifest")
    return manifest


def _rows_now() -> int:
    """Rows in the current database's tables (0 when it has none); alembic's own row and the
    rows a migration ships (synonyms) do not count as data."""
    try:
        names = inspect(db.engine).get_table_names()
    except Exception:
        return 0
    ignored = {"alembic_version", "search_synonyms"}
    with db.engine.connect() as conn:
        return sum(conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar()
                   for n in names if n not in ignored)


def restore(folder: Path, *, force: bool = False) -> str:
    """Restore `folder` into this app's database and data dir; says what it did."""
    from flask_migrate import upgrade

    from portal.search import service
    folder = folder.resolve()
    manifest = verify(folder)
    if _rows_now() and not force:
        raise BackupRefused("the database already has data: restore with --force to replace it")
    db.session.remove()
    db.engine.dispose()
    if manifest["database"] == "sqlite":
        if not _is_sqlite():
            raise BackupRefused("this is a SQLite backup; DATABASE_URL is PostgreSQL")
        source = sqlite3.connect(f"file:{folder / SQLITE_FILE}?mode=ro", uri=True)
        target = sqlite3.connect(_sqlite_path(), timeout=30)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        if _is_sqlite():
            raise BackupRefused("this is a PostgreSQL backup; DATABASE_URL is SQLite")
        with db.engine.begin() as conn:  # the dump creates the schema (`--schema=public`)
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        db.engine.dispose()
        done = subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                               f"--dbname={_pg_dsn()}", str(folder / PG_FILE)],
                              capture_output=True, text=True, timeout=3600)
        if done.returncode:
            raise BackupRefused(f"pg_restore failed: {done.stderr.strip()}")
    db.engine.dispose()
    upgrade()  # a backup of an older schema comes up to this version's
    uploads = upload_store.root()
    shutil.rmtree(uploads, ignore_errors=True)  # a mount point itself stays: copy into it
    if (folder / "uploads").is_dir():
        shutil.copytree(folder / "uploads", uploads, dirs_exist_ok=True)
    documents = service.reindex()
    return (f"restored {sum(manifest['tables'].values())} rows from {manifest['made_at']} "
            f"(schema {manifest['revision']}), {len(manifest['files'])} files; "
            f"search index rebuilt with {documents} documents")


# -- daily, with retention ---------------------------------------------------------------------

def daily() -> Made:
    """Today's backup into the data dir's `backups/`, then keep 7 daily and 4 weekly."""
    root = _data_dir() / "backups"
    made = make(root / f"{local_now():%Y-%m-%dT%H%M%S}")
    prune(root, current_app.config["BACKUP_KEEP_DAILY"], current_app.config["BACKUP_KEEP_WEEKLY"])
    return made


def prune(root: Path, keep_daily: int, keep_weekly: int) -> list[str]:
    """Keep the newest backup of each of the last `keep_daily` days that have one and of the
    last `keep_weekly` ISO weeks; remove the others (and leftovers of interrupted ones)."""
    whole = sorted((p for p in root.iterdir() if (p / MANIFEST).is_file()), reverse=True)
    days, weeks, kept = {}, {}, set()
    for path in whole:
        try:
            made = datetime.strptime(path.name[:17], "%Y-%m-%dT%H%M%S")
        except ValueError:
            continue  # not one of ours: left alone
        days.setdefault(made.date(), path)
        weeks.setdefault(made.isocalendar()[:2], path)
    kept |= set(list(days.values())[:keep_daily]) | set(list(weeks.values())[:keep_weekly])
    removed = []
    for path in sorted(root.iterdir()):
        stale = path.name.endswith(".partial") and path.stat().st_mtime < time.time() - 3600
        if (path in whole and path not in kept) or stale:
            shutil.rmtree(path)
            removed.append(path.name)
    return removed
