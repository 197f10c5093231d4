"""`flask notices import FILE.jsonl`: notices in bulk, one JSON object per line.

Fields (DESIGN.md §3): title, doc_number, agency, category, published_at (YYYY-MM-DD),
body (plain text, paragraphs separated by newlines). Each good line becomes a published
notice, searchable at once; a bad line is reported with its number and why, and skipped —
the good lines still land.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from portal.extensions import db
from portal.notices.models import Notice
from portal.notices.render import normal_doc_number
from portal.notices.workflow import publish_imported
from portal.timeutil import utcnow

LIMITS = {"title": 200, "doc_number": 60, "agency": 80, "category": 60, "body": 100_000}
BATCH = 500


@dataclass
class Outcome:
    imported: list[int] = field(default_factory=list)  # notice ids
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)


def parse_line(line: str) -> dict:
    """The notice's fields, or ValueError saying what is wrong (in plain words)."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"不是有效的 JSON（{error.msg}，第{error.colno}列）") from None
    if not isinstance(raw, dict):
        raise ValueError("每行应是一个 JSON 对象")
    values = {}
    for name, limit in LIMITS.items():
        value = raw.get(name, "")
        if not isinstance(value, str):
            raise ValueError(f"{name} 应是文本")
        value = value.strip() if name != "body" else value.replace("\r\n", "\n").strip()
        if len(value) > limit:
            raise ValueError(f"{name} 超过{limit}个字")
        values[name] = value
    for name in ("title", "body"):
        if not values[name]:
            raise ValueError(f"缺少 {name}")
    try:
        values["published_on"] = date.fromisoformat(str(raw.get("published_at", "")))
    except ValueError:
        raise ValueError("published_at 应是 YYYY-MM-DD 格式的日期") from None
    values["doc_number"] = normal_doc_number(values["doc_number"])
    return {**values, "validity": "valid", "body_format": "plain", "written_on": None}


def import_lines(lines, actor_id: int | None = None, progress=None) -> Outcome:
    """Import every good line; committed in batches. `progress(n)` after each line."""
    outcome, batch, now = Outcome(), [], utcnow()
    for number, line in enumerate(lines, start=1):
        if progress:
            progress(1)
        if not line.strip():
            continue
        try:
            values = parse_line(line)
        except ValueError as problem:
            outcome.problems.append((number, str(problem)))
            continue
        batch.append(publish_imported(values, actor_id, now))
        if len(batch) >= BATCH:
            outcome.imported += _save(batch)
            batch = []
    outcome.imported += _save(batch)
    return outcome


def _save(batch: list[Notice]) -> list[int]:
    if not batch:
        return []
    db.session.add_all(batch)
    db.session.commit()
    return [n.id for n in batch]
