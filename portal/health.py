"""What `/healthz` checks: the database answers at the schema the code expects, and the data
dir's search index and uploads can be written. A load balancer takes a node out on 503."""
from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from alembic.script import ScriptDirectory
from flask import current_app

from portal.config import asset_dir
from portal import uploads
from portal.database import raw_read


@cache
def expected_revision() -> str:
    """The newest migration this code ships (read once per process)."""
    return ScriptDirectory(str(asset_dir("migrations"))).get_current_head()


def _writable(folder: Path) -> bool:
    """The folder exists (or can be made) and a file can be created in it."""
    if os.access(folder, os.W_OK | os.X_OK):  # the usual case: one system call
        return True
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _schema_revision() -> str | None:
    rows = raw_read("SELECT version_num FROM alembic_version")  # the cheapest way: see raw_read
    return rows[0][0] if rows else None


def check() -> dict[str, str]:
    """Each part → "ok" or what is wrong with it."""
    report = {"database": "ok"}
    try:
        revision = _schema_revision()
    except Exception as error:  # any failure to reach the database or its schema
        current_app.logger.warning("health check: database unavailable: %s", str(error)[:200])
        report["database"] = "unavailable"
    else:
        if revision != expected_revision():
            report["database"] = f"schema {revision or 'missing'}, expected " \
                                 f"{expected_revision()}: run `flask db upgrade`"
    data = Path(current_app.config["PORTAL_DATA_DIR"])
    from portal.search.service import backend
    if backend() == "whoosh":  # the database backend's documents are in the database
        report["search"] = "ok" if _writable(data / "search") else "index folder not writable"
    else:
        report["search"] = "ok"
    report["uploads"] = "ok" if _writable(uploads.root()) else "upload folder not writable"
    return report
