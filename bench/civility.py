"""The public civility board with 5,000 published items (100 issues of 50), each with two
redacted photos, plus 2,000 reports still in moderation and 5,000 past their retention.

Against gunicorn with 2 workers on loopback: one client, then 16 at once, on the board
(/civility/), one issue page (/civility/issues/<n>) and one item page — median, p95, req/s.

Run: .venv/bin/python bench/civility.py [--seconds 8]
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import booking  # noqa: E402
from bench.booking import Gunicorn, demo_in, measure_pages  # noqa: E402

PUBLISHED, ISSUES, PENDING, EXPIRED = 5_000, 100, 2_000, 5_000


def build(data_dir: Path, seeded: bool = False) -> int:
    """The items on top of the demo town (which `seeded` says is there already)."""
    if not seeded:
        demo_in(data_dir)
    from sqlalchemy import func, insert, select

    from portal import create_app
    from portal.civility.models import Issue, Photo, Report, ReportCategory
    from portal.extensions import db

    rng = random.Random(5)
    started = time.perf_counter()
    with create_app().app_context():
        sample = db.session.scalar(select(Photo).where(Photo.public.is_not(None)))
        categories = db.session.scalars(select(ReportCategory.id)).all()
        reporter = db.session.scalar(select(Report.reporter_id))
        first = (db.session.scalar(select(func.max(Issue.number))) or 0) + 1
        now = datetime.utcnow()
        issues = [dict(number=first + n, published_at=now - timedelta(days=ISSUES - n))
                  for n in range(ISSUES)]
        db.session.execute(insert(Issue), issues)
        ids = dict(db.session.execute(select(Issue.number, Issue.id)).all())
        rows = []

        def report(status, issue_number=None, published=None, expires=None):
            rows.append(dict(kind=rng.choice(("uncivil", "uncivil", "praise")),
                             category_id=rng.choice(categories), reporter_id=reporter,
                             description="集市口占道经营，影响通行。" * rng.randint(1, 4),
                             place=f"第{rng.randint(1, 18)}村集市", status=status,
                             occurred_at=now - timedelta(days=rng.randint(1, 120)),
                             issue_id=ids.get(issue_number), published_at=published,
                             expires_at=expires, reason="", created_at=now))

        for n in range(PUBLISHED):
            issue = issues[n % ISSUES]
            report("published", issue["number"], issue["published_at"],
                   issue["published_at"] + timedelta(days=180))
        for n in range(EXPIRED):
            report("published", first, now - timedelta(days=200), now - timedelta(days=110))
        for n in range(PENDING):
            report("submitted")
        db.session.execute(insert(Report), rows)
        published_ids = db.session.scalars(select(Report.id).where(
            Report.status == "published")).all()
        db.session.execute(insert(Photo), [
            dict(report_id=i, role="evidence", original=sample.original,
                 original_thumb=sample.original_thumb, public=sample.public,
                 public_thumb=sample.public_thumb, width=800, height=600, boxes="[]",
                 hidden=False, created_at=now) for i in published_ids for _ in range(2)])
        db.session.commit()
        item = db.session.scalar(select(Report.id).where(Report.expires_at > now)
                                 .order_by(Report.id.desc()))
    print(f"built in {time.perf_counter() - started:.0f} s: {PUBLISHED:,} public items in "
          f"{ISSUES} issues, {EXPIRED:,} past retention, {PENDING:,} in moderation")
    return first + ISSUES - 1, item


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny data and a second of load: the suite's check that it runs")
    args = parser.parse_args()
    if args.smoke:
        global PUBLISHED, ISSUES, PENDING, EXPIRED
        PUBLISHED, ISSUES, PENDING, EXPIRED, args.seconds = 20, 2, 5, 5, 0.5
        booking.TIMED = 20
    data_dir = Path(tempfile.mkdtemp(prefix="tongban-civility-"))
    try:
        latest, item = build(data_dir)
        app = ("portal:create_app({'RATELIMIT_ENABLED': False, 'SESSION_COOKIE_SECURE': False, "
               f"'PORTAL_DATA_DIR': {str(data_dir)!r}}})")
        server = Gunicorn(app, 5121, data_dir)
        pages = {"board /civility/": "/civility/", "one issue (50 items)": f"/civility/issues/{latest}",
                 "one item": f"/civility/items/{item}"}
        try:
            measure_pages(5121, pages, args.seconds)
        finally:
            server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
