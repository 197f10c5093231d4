"""The clerk's queue page for a busy station: 200 bookings today, a year of history.

Builds on SQLite: the demo town, then at the first village station 200 bookings today in
every state (80 expected, 30 waiting, 20 in hand, 70 finished), 40 returned and 30 forwarded
cases from the last weeks, and a year of handled bookings at every station (~27,000 in all).
Then, against gunicorn with 2 workers on loopback, signed in as that station's clerk:
  1. one client: the full /desk/ page and the fragment its polling fetches, median and p95;
  2. 16 concurrent clients (desk PCs and town staff screens) on each: requests/s, median,
     p95 and errors.

With --database URL (an expendable PostgreSQL database: it is emptied) all of it on PostgreSQL.

Run: .venv/bin/python bench/desk.py [--seconds 10] [--database URL]
"""
from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, time as dtime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.booking import CLIENTS, Client, Gunicorn, demo_in, empty, load, pct  # noqa: E402

TODAY_MIX = (("booked", 80), ("checked_in", 30), ("accepted", 10), ("in_progress", 10),
             ("completed", 55), ("forwarded", 5), ("returned", 5), ("no_show", 5))
HISTORY_PER_DAY = 20  # per station and opening day
CLERK = "13800000101"


def build(data_dir: Path) -> None:
    demo_in(data_dir)
    from sqlalchemy import insert, select

    from portal import create_app
    from portal.accounts.models import User
    from portal.booking.models import Booking, ServiceItem
    from portal.refs import new_code as new_ref
    from portal.booking.slots import slot_times
    from portal.extensions import db
    from portal.places.hours import periods_on
    from portal.places.models import Station
    from portal.timeutil import local_today, to_utc

    rng = random.Random(11)
    started = time.perf_counter()
    with create_app().app_context():
        clerk = db.session.scalar(select(User).where(User.phone == CLERK))
        station = clerk.station
        items = db.session.scalars(select(ServiceItem.id)).all()
        today = local_today()
        hours = [(dtime(8, 30), dtime(12)), (dtime(14), dtime(17, 30))]
        slots = slot_times(hours, station.slot_minutes)
        rows, n = [], 0

        def booking(st, day, status, **extra):
            nonlocal n
            n += 1
            starts, ends = rng.choice(slots)
            came = to_utc(datetime.combine(day, starts))
            in_hand = status not in ("booked", "no_show", "cancelled")
            accepted = status not in ("booked", "checked_in", "no_show", "cancelled")
            extra = {"forwarded_at": None, "returned_at": None, "finished_at": None, **extra}
            rows.append(dict(
                ref=new_ref(), item_id=rng.choice(items), station_id=st, day=day, starts=starts,
                ends=ends, channel=rng.choice(("online", "kiosk", "phone", "walkin")),
                status=status, name=f"居民{n}", phone=f"15{n % 10**9:09d}", created_at=came,
                checked_in_at=came if in_hand else None,
                accepted_at=came + timedelta(minutes=rng.randint(1, 30)) if accepted else None,
                responsible_id=clerk.id if accepted else None, **extra))

        for status, count in TODAY_MIX:
            for _ in range(count):
                booking(station.id, today, status,
                        forwarded_at=datetime.utcnow() if status == "forwarded" else None,
                        returned_at=datetime.utcnow() if status == "returned" else None)
        for back in range(1, 30):  # returned and forwarded cases of the last weeks
            day = today - timedelta(days=back)
            for status in ("returned", "forwarded") if back % 2 else ("returned",):
                booking(station.id, day, status, finished_at=to_utc(datetime.combine(day, dtime(12))),
                        returned_at=to_utc(datetime.combine(day, dtime(12))) if status == "returned" else None,
                        forwarded_at=to_utc(datetime.combine(day, dtime(12))) if status == "forwarded" else None)
        for st in db.session.scalars(select(Station)).all():  # a year of history everywhere
            for back in range(1, 366):
                day = today - timedelta(days=back)
                if periods_on(st, day):
                    for _ in range(HISTORY_PER_DAY // 4):
                        booking(st.id, day, "completed")
            if len(rows) > 20_000:
                db.session.execute(insert(Booking.__table__), rows)
                rows.clear()
        db.session.execute(insert(Booking.__table__), rows)
        db.session.commit()
        total = db.session.query(Booking).count()
        todays = db.session.query(Booking).filter(Booking.station_id == station.id,
                                                  Booking.day == today).count()
    print(f"built in {time.perf_counter() - started:.0f} s: {total:,} bookings, {todays} today at "
          f"the clerk's station")


def signed_in(port: int) -> Client:
    client = Client(port)
    _status, html = client.request("GET", "/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', html.decode()).group(1)
    status, _ = client.request("POST", "/login", {"csrf_token": token, "phone": CLERK,
                                                   "password": "demo-2026"})
    assert status == 302, status
    return client


def timed(client: Client, path: str, headers=None) -> float:
    start = time.perf_counter()
    status, _ = client.request("GET", path, headers=headers)
    assert status == 200, (path, status)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="load time for each page")
    parser.add_argument("--database", help="PostgreSQL URL (emptied) instead of SQLite")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny data and a second of load: the suite's check that it runs")
    args = parser.parse_args()
    timed_requests = 200
    if args.smoke:
        global HISTORY_PER_DAY
        HISTORY_PER_DAY, args.seconds, timed_requests = 4, 0.5, 20
    if args.database:
        empty(args.database)
        os.environ["DATABASE_URL"] = args.database  # the migration, the build and gunicorn
    data_dir = Path(tempfile.mkdtemp(prefix="tongban-desk-"))
    try:
        build(data_dir)
        app = ("portal:create_app({'RATELIMIT_ENABLED': False, 'SESSION_COOKIE_SECURE': False, "
               f"'PORTAL_DATA_DIR': {str(data_dir)!r}" +
               (f", 'DATABASE_URL': {args.database!r}" if args.database else "") + "})")
        server = Gunicorn(app, 5111, data_dir)
        polled = {"HX-Request": "true", "HX-Trigger": "queue"}
        try:
            client = signed_in(5111)
            for _ in range(20):  # warm up both workers
                timed(client, "/desk/")
            full = [timed(client, "/desk/") for _ in range(timed_requests)]
            part = [timed(client, "/desk/", polled) for _ in range(timed_requests)]
            print("\none client (gunicorn, 2 workers)             median ms   p95 ms")
            print(f"/desk/ full page (200 today)                  {statistics.median(full):8.2f} {pct(full, .95):8.2f}")
            print(f"/desk/ polled fragment                        {statistics.median(part):8.2f} {pct(part, .95):8.2f}")
            clients = [signed_in(5111) for _ in range(CLIENTS)]

            def page(c, n):
                return clients[n].request("GET", "/desk/")[0] == 200

            def fragment(c, n):
                return clients[n].request("GET", "/desk/", headers=polled)[0] == 200

            print(f"\n{CLIENTS} clients at once                        req/s   median ms   p95 ms   errors")
            for name, work in (("full page", page), ("polled fragment", fragment)):
                count, times, errors = load(5111, args.seconds, work)
                print(f"/desk/ {name:<36}{count / args.seconds:6.0f} {statistics.median(times):10.1f} "
                      f"{pct(times, .95):8.1f} {errors:8d}")
        finally:
            server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
