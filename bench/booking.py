"""Booking at county scale: availability page and confirm step, single client and under load.

Builds a county on SQLite: 20 towns x (1 centre + 18 village stations), the demo catalogue,
a year of past bookings (~1,000 per station) and 50,000 open ones in the next two weeks (one of
the two web places of nearly every slot taken). Then, against gunicorn with 2 workers on
loopback:
  1. one client: the availability (day) page and the confirm POST, median and p95;
  2. 16 concurrent clients on the availability page, and the same load on a bare Flask
     "hello" app under the same gunicorn settings, taking turns (--rounds): requests/s of
     both, the ratio of each round and their median;
  3. 16 concurrent clients confirming: confirms/s, errors, and that nothing was overbooked.

With --database URL (an expendable PostgreSQL database: it is emptied) the county is built in
PostgreSQL instead, and the same figures are measured on it.

Run: .venv/bin/python bench/booking.py [--seconds 12] [--rounds 4] [--keep DIR] [--database URL]
"""
from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, time as dtime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOWNS, VILLAGES = 20, 18
PAST_DAYS, PAST_PER_DAY = 364, 4
OPEN_BOOKINGS = 50_000
CLIENTS = 16
SINGLE_CONFIRMS = 200
TIMED = 200  # requests timed for one client, per page


def smoke_sizes() -> None:
    """A county of one town with two villages, a week of history, a few open bookings."""
    global TOWNS, VILLAGES, PAST_DAYS, PAST_PER_DAY, OPEN_BOOKINGS, SINGLE_CONFIRMS, TIMED
    TOWNS, VILLAGES, PAST_DAYS, PAST_PER_DAY, OPEN_BOOKINGS, SINGLE_CONFIRMS = 1, 2, 7, 1, 50, 20
    TIMED = 20
HELLO = "from flask import Flask\napp = Flask(__name__)\n\n@app.route('/hello')\ndef hello():\n    return 'hello'\n"


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def empty(database_url: str) -> None:
    from sqlalchemy import create_engine, text
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def build(data_dir: Path, database_url: str | None = None) -> dict:
    """Migrate, then fill the county with bulk inserts. Returns what the load needs."""
    env = {**os.environ, "PORTAL_DATA_DIR": str(data_dir), "FLASK_APP": "wsgi"}
    if database_url:
        empty(database_url)
        env["DATABASE_URL"] = os.environ["DATABASE_URL"] = database_url
    subprocess.run([str(ROOT / ".venv/bin/flask"), "db", "upgrade"], env=env, cwd=ROOT,
                   check=True, capture_output=True)
    os.environ["PORTAL_DATA_DIR"] = str(data_dir)
    from sqlalchemy import insert

    from portal import create_app
    from portal.booking.catalogue import load_catalogue
    from portal.booking.models import Booking, OpenBookingCount, ServiceItem, SlotUsage
    from portal.refs import ALPHABET as REF_ALPHABET
    from portal.booking.slots import BOOKING_HORIZON_DAYS, slot_times
    from portal.extensions import db
    from portal.places.hours import periods_on
    from portal.places.models import OpeningPeriod, Station, Town, Village
    from portal.timeutil import local_now

    app = create_app()
    rng = random.Random(7)
    started = time.perf_counter()
    with app.app_context():
        load_catalogue()
        items = [i.id for i in db.session.query(ServiceItem).all()]
        for t in range(TOWNS):
            town = Town(code=f"town-{t}", name=f"测试镇{t}")
            centre = Station(town=town, kind="centre", name=f"测试镇{t}中心", latitude=30 + t,
                             longitude=120)
            db.session.add(centre)
            for v in range(VILLAGES):
                village = Village(town=town, name=f"村{v}", position=v)
                Station(town=town, village=village, kind="village", name=f"镇{t}村{v}站",
                        position=v + 1, latitude=30 + t + v / 100, longitude=120 + v / 100)
                db.session.add(village)
        db.session.flush()
        # only the county's own (a demo town built first keeps its stations as they are)
        stations = db.session.query(Station).join(Town).where(Town.code.like("town-%")).all()
        for s in stations:
            s.periods = [OpeningPeriod(weekday=d, opens=a, closes=b) for d in range(5)
                         for a, b in ((dtime(8, 30), dtime(12)), (dtime(14), dtime(17, 30)))]
        db.session.commit()

        def ref(n: int) -> str:
            out = ""
            for _ in range(8):
                n, r = divmod(n, 32)
                out += REF_ALPHABET[r]
            return out

        now = local_now()
        today = now.date()
        rows, usage, counter = [], {}, 0

        def flush():
            if rows:
                db.session.execute(insert(Booking.__table__), rows)
                rows.clear()

        for s in stations:  # a year of past bookings
            for back in range(1, PAST_DAYS + 1):
                day = today - timedelta(days=back)
                slots = slot_times(periods_on(s, day), 30)
                for starts, ends in rng.sample(slots, min(PAST_PER_DAY, len(slots))):
                    counter += 1
                    rows.append(dict(ref=ref(counter), item_id=rng.choice(items), station_id=s.id,
                                     day=day, starts=starts, ends=ends, channel="online",
                                     status=rng.choice(("completed",) * 8 + ("no_show", "cancelled")),
                                     name="历史", phone=f"139{counter % 10**8:08d}",
                                     created_at=datetime.combine(day, starts)))
            if len(rows) > 50_000:
                flush()
        flush()
        past = counter
        free = []  # slots with one web place left, for the confirm load
        opened = 0
        for n in range(1, BOOKING_HORIZON_DAYS):  # today + 13 is the last bookable day
            day = today + timedelta(days=n)
            for s in stations:
                for starts, ends in slot_times(periods_on(s, day), 30):
                    if opened < OPEN_BOOKINGS:
                        counter += 1
                        opened += 1
                        phone = f"150{opened:08d}"
                        rows.append(dict(ref=ref(counter), item_id=rng.choice(items),
                                         station_id=s.id, day=day, starts=starts, ends=ends,
                                         channel="online", status="booked", name="预约",
                                         phone=phone, created_at=datetime.utcnow()))
                        usage[(s.id, day, starts)] = 1
                    free.append((s.id, day, starts))
        flush()
        db.session.execute(insert(SlotUsage.__table__), [
            dict(station_id=k[0], day=k[1], starts=k[2], pool="online", taken=v)
            for k, v in usage.items()])
        db.session.execute(insert(OpenBookingCount.__table__), [
            dict(phone=f"150{n:08d}", open_count=1) for n in range(1, opened + 1)])
        db.session.commit()
        code = db.session.get(ServiceItem, items[0]).code
        station_ids = [s.id for s in stations]
    print(f"built in {time.perf_counter() - started:.0f} s: {len(stations)} stations, "
          f"{past:,} past bookings, {opened:,} open bookings")
    rng.shuffle(free)
    return {"code": code, "free": free, "stations": station_ids}


class Gunicorn:
    def __init__(self, app: str, port: int, data_dir: Path, extra_env=None, threads: int = 1):
        env = {**os.environ, "PORTAL_DATA_DIR": str(data_dir), **(extra_env or {})}
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-w", "2", "--threads", str(threads),
             "-b", f"127.0.0.1:{port}", "--log-level", "warning", app],
            cwd=ROOT if app != "hello:app" else data_dir,
            env=env, stdout=subprocess.DEVNULL,  # BENCH_DEBUG=1: what the servers say
            stderr=None if os.environ.get("BENCH_DEBUG") else subprocess.DEVNULL)
        self.port = port
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/hello" if app == "hello:app" else "/healthz")
                if c.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"{app} did not start")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a worker still streaming: no more waiting
            self.proc.kill()
            self.proc.wait(timeout=20)


class Client:
    """One simulated person: a keep-alive connection and its cookies."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    @property
    def cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method, path, body=None, headers=None):
        headers = {**({"Cookie": self.cookie} if self.cookies else {}), **(headers or {})}
        if body is not None:
            body = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for cookie in response.msg.get_all("Set-Cookie") or ():
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name] = value
        return response.status, data


def confirm_once(client: Client, code: str, slot) -> tuple[int, float]:
    station, day, starts = slot
    path = f"/services/{code}/book/{station}/{day.isoformat()}/{starts:%H%M}"
    status, html = client.request("GET", path)
    if status != 200:
        return status, 0.0
    text = html.decode()
    form = {n: re.search(rf'name="{n}"[^>]*value="([^"]*)"', text).group(1)
            for n in ("csrf_token", "key")}
    form.update(name="压测", phone=f"1880{random.randrange(10**7):07d}")
    start = time.perf_counter()
    status, _ = client.request("POST", path, form)
    return status, (time.perf_counter() - start) * 1000


def load(port: int, seconds: float, work) -> tuple[int, list[float], int]:
    stop = time.monotonic() + seconds
    times, errors, lock = [], [0], threading.Lock()

    def run(n):
        client = Client(port)
        while time.monotonic() < stop:
            start = time.perf_counter()
            try:
                ok = work(client, n)
            except (OSError, http.client.HTTPException):
                ok, client = False, Client(port)
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                times.append(elapsed)
                if not ok:
                    errors[0] += 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(times), times, errors[0]


def demo_in(data_dir: Path) -> None:
    """Migrate a fresh database in `data_dir`, load the demo town, and point this process at
    it (the benches then add their bulk rows to it)."""
    env = {**os.environ, "PORTAL_DATA_DIR": str(data_dir), "FLASK_APP": "wsgi"}
    for command in (["db", "upgrade"], ["seed", "demo"]):
        subprocess.run([str(ROOT / ".venv/bin/flask"), *command], env=env, cwd=ROOT, check=True,
                       capture_output=True)
    os.environ["PORTAL_DATA_DIR"] = str(data_dir)


def measure_pages(port: int, pages: dict[str, str], seconds: float) -> None:
    """Print each page's median and p95 for one client, then under CLIENTS at once."""
    client = Client(port)
    print("\none client (gunicorn, 2 workers)      median ms   p95 ms")
    for name, path in pages.items():
        for _ in range(20):
            client.request("GET", path)
        times = []
        for _ in range(TIMED):
            start = time.perf_counter()
            status, _body = client.request("GET", path)
            times.append((time.perf_counter() - start) * 1000)
            assert status == 200, (path, status)
        print(f"{name:<36}{statistics.median(times):8.2f} {pct(times, .95):8.2f}")
    print(f"\n{CLIENTS} clients at once                 req/s   median ms   p95 ms   errors")
    for name, path in pages.items():
        count, times, errors = load(port, seconds,
                                    lambda c, n, p=path: c.request("GET", p)[0] == 200)
        print(f"{name:<30}{count / seconds:8.0f} {statistics.median(times):10.1f} "
              f"{pct(times, .95):8.1f} {errors:8d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12,
                        help="load time for each of the portal and hello (split into rounds)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="portal and hello take turns this many times (a shared machine's "
                             "speed drifts; the ratio of each pair is what counts)")
    parser.add_argument("--keep", help="build the county in this folder and keep it")
    parser.add_argument("--database", help="PostgreSQL URL (emptied) instead of SQLite")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny data and a second of load: the suite's check that it runs")
    args = parser.parse_args()
    if args.smoke:
        smoke_sizes()
        args.seconds, args.rounds = 1, 1
    data_dir = Path(args.keep or tempfile.mkdtemp(prefix="tongban-county-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        county = build(data_dir, args.database)
        code, free = county["code"], county["free"]
        # The portal's own limits would throttle a load test from one address.
        app = ("portal:create_app({'RATELIMIT_ENABLED': False, 'SESSION_COOKIE_SECURE': False, "
               f"'PORTAL_DATA_DIR': {str(data_dir)!r}" +
               (f", 'DATABASE_URL': {args.database!r}" if args.database else "") + "})")
        (data_dir / "hello.py").write_text(HELLO)
        server = Gunicorn(app, 5101, data_dir)
        hello = Gunicorn("hello:app", 5102, data_dir)
        try:
            client = Client(5101)
            day_pages = [f"/services/{code}/book/{random.choice(county['stations'])}"
                         for _ in range(200)]
            single = []
            for path in day_pages:
                start = time.perf_counter()
                status, _ = client.request("GET", path)
                single.append((time.perf_counter() - start) * 1000)
                assert status == 200, (path, status)
            confirms = []
            for slot in free[:SINGLE_CONFIRMS]:
                status, ms = confirm_once(client, code, slot)
                assert status == 302, status
                confirms.append(ms)
            del free[:SINGLE_CONFIRMS]
            print("\none client (gunicorn, 2 workers)          median ms   p95 ms")
            print(f"availability page (14 days, one station)   {statistics.median(single):8.2f} {pct(single, .95):8.2f}")
            print(f"confirm step (POST)                         {statistics.median(confirms):8.2f} {pct(confirms, .95):8.2f}")

            def availability(c, n):
                return c.request("GET", random.choice(day_pages))[0] == 200

            def bare(c, n):
                return c.request("GET", "/hello")[0] == 200

            for port, work in ((5101, availability), (5102, bare)):  # warm up, not counted:
                load(port, 2, work)  # every worker fills its per-station caches first
            turn = args.seconds / args.rounds
            print(f"\n{CLIENTS} clients, after 2 s of warm-up, taking turns {args.rounds} x {turn:.0f} s:"
                  "      availability req/s   hello req/s   ratio")
            ratios, totals = [], {"portal": [0, 0, []], "hello": [0, 0, []]}
            for r in range(args.rounds):
                figures = {}
                for name, port, work in (("portal", 5101, availability), ("hello", 5102, bare)):
                    count, times, errors = load(port, turn, work)
                    figures[name] = count / turn
                    totals[name][0] += count
                    totals[name][1] += errors
                    totals[name][2] += times
                ratios.append(figures["portal"] / figures["hello"])
                print(f"  round {r + 1}{'':32}{figures['portal']:8.0f}{figures['hello']:14.0f}"
                      f"{ratios[-1]:8.0%}")
            portal_times = totals["portal"][2]
            print(f"availability page: {totals['portal'][0] / args.seconds:.0f} req/s, median "
                  f"{statistics.median(portal_times):.1f} ms, p95 {pct(portal_times, .95):.1f} ms, "
                  f"errors {totals['portal'][1]}")
            print(f"bare Flask hello: {totals['hello'][0] / args.seconds:.0f} req/s, "
                  f"errors {totals['hello'][1]}")
            print(f"availability page throughput / hello = {statistics.median(ratios):.0%} "
                  f"(median of the rounds; lowest {min(ratios):.0%})")
            lock, cursor = threading.Lock(), iter(free)

            def confirm(c, n):
                with lock:
                    slot = next(cursor)
                return confirm_once(c, code, slot)[0] == 302
            count, times, errors = load(5101, args.seconds / args.rounds, confirm)
            print(f"\n{CLIENTS} clients, confirming (GET check + POST): "
                  f"{count / (args.seconds / args.rounds):.0f} confirms/s, median "
                  f"{statistics.median(times):.1f} ms, p95 {pct(times, .95):.1f} ms, errors {errors}")
        finally:
            server.stop()
            hello.stop()
        overbooked = check_overbooking(data_dir, args.database)
        print(f"slots over capacity after the load: {overbooked}")
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def check_overbooking(data_dir: Path, database_url: str | None = None) -> int:
    from sqlalchemy import create_engine, text
    url = (database_url.replace("postgresql://", "postgresql+psycopg://", 1) if database_url
           else f"sqlite:///{data_dir / 'portal.db'}")
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(text(
            "SELECT count(*) FROM (SELECT b.station_id, b.day, b.starts, count(*) AS n, "
            "s.capacity_online FROM bookings b JOIN stations s ON s.id = b.station_id "
            "WHERE b.status = 'booked' AND b.channel IN ('online', 'kiosk') "
            "GROUP BY b.station_id, b.day, b.starts, s.capacity_online "
            "HAVING count(*) > s.capacity_online) AS over")).scalar()
    engine.dispose()
    return found


if __name__ == "__main__":
    main()
