"""The public dashboard at county scale: the nightly rollup, the figures a page adds up, and
the page itself.

Builds on SQLite the demo town and bench/booking.py's county (20 towns x 19 stations, a year
of bookings: ~395,000 past and 50,000 open), then:
  1. the rollup of the whole history (`flask dashboard rollup --all`), timed;
  2. in process, with the worker's kept tables emptied before each run (a miss, as after
     every nightly rollup): the tables of a month and of a year for the county (one line per
     town) and for one town (one line per station), computed and rendered as HTML; and the
     stations right now for one town;
  3. against gunicorn (2 workers, loopback), one client: /dashboard/ for a month of the whole
     county, the same for one town, and the htmx fragment "right now" of one town — median
     and p95 (after the first request these are the kept tables plus the live "now" part).

Run: .venv/bin/python bench/dashboard.py [--requests 200] [--smoke]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import booking  # noqa: E402
from bench.booking import Client, Gunicorn, demo_in, pct  # noqa: E402


def timed(work, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), pct(times, .95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--smoke", action="store_true", help="tiny data: the suite's check")
    parser.add_argument("--keep", help="build the data in this folder and keep it (reused "
                                       "when it already holds a database)")
    args = parser.parse_args()
    runs = 50
    if args.smoke:
        booking.smoke_sizes()
        args.requests, runs = 10, 3
    data_dir = Path(args.keep or tempfile.mkdtemp(prefix="tongban-dashboard-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        if args.keep and (data_dir / "portal.db").exists():
            os.environ["PORTAL_DATA_DIR"] = str(data_dir)
        else:
            demo_in(data_dir)
            booking.build(data_dir)
        from portal import create_app
        from portal.dashboard import figures, rollup, views
        from portal.extensions import db
        from portal.places.models import Town
        from portal.timeutil import local_today

        app = create_app({"RATELIMIT_ENABLED": False})
        with app.app_context():
            started = time.perf_counter()
            written = rollup.everything(local_today())
            took = time.perf_counter() - started
            town = db.session.scalar(db.select(Town).where(Town.code.like("town-%"))
                                     .order_by(Town.id))
            stations = len(figures.stations(None, None))
            print(f"rollup of the whole history: {written} station-days in {took:.1f} s "
                  f"({stations} stations)")
            today = local_today()
            month = figures.period("month", figures.default_day(today), today)
            year = figures.period("year", figures.default_day(today), today)
            print("\nin process, kept tables emptied first       median ms   p95 ms")
            with app.test_request_context("/dashboard/"):
                for label, p, town_id in (("a month, the county", month, None),
                                          ("a year, the county", year, None),
                                          ("a month, one town", month, town.id),
                                          ("a year, one town", year, town.id)):
                    def miss():
                        views._KEPT.clear()
                        choice = views.Choice(None, p, town_id, None, figures.towns(), [])
                        views._tables(p, town_id, None, views._report(choice))
                    median, p95 = timed(miss, runs)
                    print(f"tables: {label:<34}{median:8.2f} {p95:8.2f}")
                in_town = len(figures.stations(town.id, None))
                for label, town_id in ((f"one town ({in_town} stations)", town.id),):
                    median, p95 = timed(lambda: figures.now(figures.stations(town_id, None)),
                                        runs)
                    print(f"right now: {label:<31}{median:8.2f} {p95:8.2f}")
            db.session.remove()

        server = Gunicorn("portal:create_app({'RATELIMIT_ENABLED': False, "
                          f"'PORTAL_DATA_DIR': {str(data_dir)!r}}})", 5111, data_dir)
        try:
            client = Client(5111)
            pages = (("/dashboard/ a month, the county", "/dashboard/", {}),
                     ("/dashboard/ a month, one town", f"/dashboard/?town={town.id}", {}),
                     ("/dashboard/now one town (htmx)", f"/dashboard/now?town={town.id}",
                      {"HX-Request": "true"}))
            print("\none client (gunicorn, 2 workers)            median ms   p95 ms")
            for label, path, headers in pages:
                for _ in range(6):  # both workers keep the tables
                    assert client.request("GET", path, headers=headers)[0] == 200, path

                def get():
                    status, _ = client.request("GET", path, headers=headers)
                    assert status == 200, (path, status)
                median, p95 = timed(get, args.requests)
                print(f"{label:<44}{median:8.2f} {p95:8.2f}")
        finally:
            server.stop()
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
