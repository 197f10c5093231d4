"""The clerk's queue page for a busy station, and what the hall's calling screens cost.

Builds on SQLite: the demo town, then at the first village station 204 bookings today in
every state (80 expected, 30 waiting with tickets, 20 in hand, 70 finished), 40 returned and
30 forwarded cases from the last weeks, and a year of handled bookings at every station
(~27,000 in all). Then, against gunicorn with 2 workers on loopback, signed in as that
station's clerk, next to a bare Flask app under the same gunicorn settings:
  1. one client: the full /desk/ page and the fragment its polling fetches, median and p95;
  2. 16 clients at once with wrk (desk PCs and town staff screens) on each: requests/s, its
     share of bare Flask's requests/s measured just before and after, median, p95, errors;
  3. the calling screen (/stations/<id>/display): N screens each polling every second (the
     tiny fragment, 204 while nothing changes) against N screens on server-sent events (a
     stream per screen, the same state read every half second), with a clerk calling a
     number every 5 s: the gunicorn processes' CPU time per screen per second, read from
     /proc, and the threads each way holds.

With --database URL (an expendable PostgreSQL database: it is emptied) all of it on PostgreSQL.

Run: .venv/bin/python bench/desk.py [--seconds 10] [--screens 40] [--database URL]
     [--keep DIR] [--smoke]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, time as dtime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.booking import HELLO, Client, Gunicorn, demo_in, empty, pct  # noqa: E402

TODAY_MIX = (("booked", 80), ("checked_in", 30), ("accepted", 10), ("in_progress", 10),
             ("completed", 55), ("forwarded", 5), ("returned", 5), ("no_show", 5))
HISTORY_PER_DAY = 20  # per station and opening day
CLERK = "13800000101"
CALL_EVERY = 10  # seconds between two calls in the bench's hall: a busy one
POLLED = {"HX-Request": "true", "HX-Trigger": "queue", "X-Background-Refresh": "1"}
WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "p50": %f, "p95": %f, "errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def build(data_dir: Path) -> None:
    demo_in(data_dir)
    from sqlalchemy import insert, inspect, select

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
        if inspect(db.engine).has_table("tickets"):  # the hall: today's waiting have tickets
            from portal.desk import tickets
            from portal.desk.models import Ticket
            for waiting in db.session.scalars(select(Booking).where(
                    Booking.station_id == station.id, Booking.day == today,
                    Booking.status == "checked_in",
                    Booking.id.not_in(select(Ticket.booking_id)))).all():
                tickets.issue(waiting, priority=False, actor_id=None, now=waiting.checked_in_at)
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


def wrk(port: int, path: str, seconds: float, cookie: str | None, headers: dict,
        script: Path) -> dict:
    command = ["wrk", "-t2", "-c16", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script)]
    for name, value in ({"Cookie": cookie} if cookie else {}).items() | headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command + [f"http://127.0.0.1:{port}{path}"], capture_output=True,
                         text=True, check=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / figures["seconds"]
    return figures


def cpu_seconds(master: int) -> float:
    """User + system CPU of a gunicorn master and its workers, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if master in (pid, ppid):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def sse_app(config: dict):
    """The portal with one more route, for this bench only: the calling screen as server-sent
    events (what the display would be if it did not poll), built on the same state read."""
    from flask import Response, stream_with_context

    from portal import create_app
    from portal.desk import tickets
    from portal.extensions import db
    from portal.timeutil import local_today
    app = create_app(config)

    @app.route("/bench/display/<int:station_id>/events")
    def display_events(station_id: int):
        def stream():  # the poll's own look, every half second: the calls when it moves
            shown, beat = None, time.monotonic()
            while True:
                day = local_today()
                state = tickets.screen_state(station_id, day)
                if state != shown:
                    shown = state
                    calls = tickets.recent_calls(station_id, day, 7)
                    db.session.commit()  # end the read: nothing held between looks
                    yield f"data: {json.dumps([c.label for c in calls])}\n\n"
                elif time.monotonic() - beat > 15:
                    beat = time.monotonic()
                    yield ": keep-alive\n\n"
                time.sleep(0.5)
        return Response(stream_with_context(stream()), mimetype="text/event-stream")
    return app


SCREEN_SCRIPT = """
-- A calling screen: every second, "anything new since what I show?" (the htmx poll).
local seen = ""
function delay() return 1000 end
request = function()
  local path = PATH
  if string.find(path, "display") then path = path .. "?seen=" .. seen end
  return wrk.format("GET", path, {["HX-Request"] = "true"})
end
response = function(status, headers, body)
  if status == 200 then
    local found = string.match(body, "seen=([%w%-]+)")
    if found then seen = found end
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "errors": %d}\\n', summary.requests,
                         e.connect + e.read + e.write + e.timeout + e.status))
end
"""
WATCHERS = 3  # screens (of the count) watched from Python, for the time a call takes to show


def screens(port: int, station_id: int, count: int, seconds: float, master: int,
            call_port: int, mode: str, data_dir: Path) -> tuple[float, float]:
    """`count` calling screens on `port` for `seconds` while a clerk on `call_port` (another
    server on the same database, so its work is not counted) calls a number every 10 s: the
    server's CPU ms per screen per second (less its idle CPU), and the slowest time from a
    call to a screen showing it (s). Polling screens are wrk connections with a Lua script
    (a load generator in C takes little of the two cores from the server) but for a few
    watched from Python; SSE screens all from Python (wrk cannot hold a stream)."""
    import http.client
    import socket
    sightings: list[tuple[int, str, float]] = []  # (screen, number shown large, when)
    calls: list[tuple[str, float]] = []
    path = f"/stations/{station_id}/display" if mode == "poll" else "/hello"

    def saw(n: int, label: str) -> None:
        sightings.append((n, label, time.monotonic()))

    def poller(n):
        client, state = Client(port), ""
        time.sleep(n / WATCHERS)  # spread over the second, as screens switched on at random
        while time.monotonic() < stop:
            begun = time.monotonic()
            status, body = client.request(
                "GET", f"{path}?seen={state}" if mode == "poll" else path,
                headers={"HX-Request": "true"})
            if status == 200 and mode == "poll":
                state = re.search(rb"seen=([\w-]+)", body).group(1).decode()
                label = re.search(rb'display-number">([^<]+)', body)
                saw(n, label.group(1).decode() if label else "")
            time.sleep(max(0.0, 1 - (time.monotonic() - begun)))

    streams, starved = [], []

    def listener(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=seconds + 5)
        conn.request("GET", f"/bench/display/{station_id}/events")
        try:
            response = conn.getresponse()
        except OSError:  # no thread free for this screen (a worker holds more than it has)
            starved.append(n)
            return
        streams.append(conn.sock)
        try:
            while line := response.fp.readline():  # until the end shuts the socket
                if line.startswith(b"data: "):
                    labels = json.loads(line[6:])
                    saw(n, labels[0] if labels else "")
        except OSError:
            pass

    def end_streams():
        time.sleep(max(0.0, stop - time.monotonic()))
        for sock in streams:
            sock.shutdown(socket.SHUT_RDWR)

    def clerk():
        desk = signed_in(call_port)
        _s, html = desk.request("GET", "/desk/")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', html).group(1).decode()
        desk.request("POST", "/desk/window", {"csrf_token": token, "window": "1"})
        while time.monotonic() < stop - 2:
            time.sleep(CALL_EVERY)
            desk.conn.close()  # the server has closed an idle keep-alive by now: a new one
            _s, html = desk.request("GET", "/desk/")
            token = re.search(rb'name="csrf_token" value="([^"]+)"', html).group(1).decode()
            desk.request("POST", "/desk/call", {"csrf_token": token, "window": "1"})
            at = time.monotonic()
            _s, html = desk.request("GET", "/desk/")
            label = re.search(rb'ticket-big[^>]*>([^<]+)<', html)
            if label:  # then 过号 and back in line: the bench never runs out of people
                calls.append((label.group(1).decode(), at))
                for action in ("skip", "requeue"):
                    path = re.search(rf'/desk/tickets/\d+/{action}'.encode(), html)
                    desk.request("POST", path.group(0).decode(),
                                 {"csrf_token": token, "window": "1"})
                    _s, html = desk.request("GET", "/desk/")

    idle_from = (time.monotonic(), cpu_seconds(master))  # the server with nobody asking
    time.sleep(min(10, seconds / 2))
    idle = (cpu_seconds(master) - idle_from[1]) / (time.monotonic() - idle_from[0])
    stop = time.monotonic() + seconds
    measured = []  # (moment, CPU seconds): from 2 s in (every screen has its page) to the end

    def sampler():
        for moment in (stop - seconds + 2, stop):
            time.sleep(max(0.0, moment - time.monotonic()))
            measured.append((time.monotonic(), cpu_seconds(master)))

    def many():  # the other polling screens
        if mode == "sse" or count <= WATCHERS:
            return
        script = data_dir / "screen.lua"
        script.write_text(SCREEN_SCRIPT.replace("PATH", json.dumps(path)))
        connections = count - WATCHERS
        out = subprocess.run(["wrk", f"-t{min(2, connections)}", f"-c{connections}",
                              f"-d{seconds:g}s",
                              "--timeout", "10s", "-s", str(script),
                              f"http://127.0.0.1:{port}{path}"],
                             capture_output=True, text=True, check=True).stdout
        errors = json.loads(out.strip().splitlines()[-1])["errors"]
        if errors:
            print(f"({errors} errors among the polling screens)")

    watched = count if mode == "sse" else min(count, WATCHERS)
    work = listener if mode == "sse" else poller
    threads = [threading.Thread(target=work, args=(n,)) for n in range(watched)]
    threads += [threading.Thread(target=f) for f in (clerk, end_streams, sampler, many)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (began, before), (ended, after) = measured
    elapsed = ended - began
    used = after - before - idle * elapsed  # what the screens cost, not the idle workers
    delays = []  # per call: the last screen to show it, from the first sighting after it
    for label, at in calls:
        firsts = {}
        for n, seen, moment in sightings:
            if seen == label and moment >= at:
                firsts[n] = min(firsts.get(n, moment), moment)
        if firsts:
            delays.append(max(firsts.values()) - at)
    if starved:
        print(f"({len(starved)} of {count} screens never got a stream: no thread was free)")
    return used * 1000 / (count * elapsed), max(delays, default=float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="load time for each page")
    parser.add_argument("--screens", type=int, default=40, help="calling screens polling")
    parser.add_argument("--database", help="PostgreSQL URL (emptied) instead of SQLite")
    parser.add_argument("--keep", help="build the data in this folder and keep it (reused)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny data and a second of load: the suite's check that it runs")
    args = parser.parse_args()
    timed_requests = 200
    if args.smoke:
        global HISTORY_PER_DAY
        HISTORY_PER_DAY, args.seconds, timed_requests, args.screens = 4, 0.5, 20, 2
    if args.database:
        empty(args.database)
        os.environ["DATABASE_URL"] = args.database  # the migration, the build and gunicorn
    data_dir = Path(args.keep or tempfile.mkdtemp(prefix="tongban-desk-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    if not (args.keep and (data_dir / "portal.db").exists()):
        build(data_dir)
    os.environ["PORTAL_DATA_DIR"] = str(data_dir)
    config = ("{'RATELIMIT_ENABLED': False, 'SESSION_COOKIE_SECURE': False, "
              f"'PORTAL_DATA_DIR': {str(data_dir)!r}" +
              (f", 'DATABASE_URL': {args.database!r}" if args.database else "") + "}")
    (data_dir / "hello.py").write_text(HELLO)
    (data_dir / "report.lua").write_text(WRK_SCRIPT)
    servers = [Gunicorn(f"portal:create_app({config})", 5111, data_dir),
               Gunicorn("hello:app", 5112, data_dir)]
    try:
        client = signed_in(5111)
        for _ in range(20):  # warm up both workers
            timed(client, "/desk/")
        full = [timed(client, "/desk/") for _ in range(timed_requests)]
        part = [timed(client, "/desk/", POLLED) for _ in range(timed_requests)]
        print("\none client (gunicorn, 2 workers)             median ms   p95 ms")
        print(f"/desk/ full page (204 today)                  {statistics.median(full):8.2f} {pct(full, .95):8.2f}")
        print(f"/desk/ polled fragment                        {statistics.median(part):8.2f} {pct(part, .95):8.2f}")
        if args.smoke or not shutil.which("wrk"):
            print("(no wrk: the 16-client figures need it: apt-get install wrk)")
        else:
            script = data_dir / "report.lua"
            print("\n16 clients at once (wrk -t2 -c16)       req/s   share of hello   median ms   "
                  "p95 ms   errors")
            for name, headers in (("full page", {}), ("polled fragment", POLLED)):
                before = wrk(5112, "/hello", args.seconds, None, {}, script)
                figures = wrk(5111, "/desk/", args.seconds, client.cookie, headers, script)
                after = wrk(5112, "/hello", args.seconds, None, {}, script)
                hello = (before["rps"] + after["rps"]) / 2
                print(f"/desk/ {name:<30}{figures['rps']:8.0f} {figures['rps'] / hello:14.0%} "
                      f"{figures['p50']:11.1f} {figures['p95']:8.1f} {figures['errors']:8d}")
            print(f"(bare Flask: {hello:.0f} req/s)")
        _display(args, config, data_dir, servers)
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def _display(args, config: str, data_dir: Path, servers: list) -> None:
    """The calling screens: polling against server-sent events (section 3 of the docstring)."""
    from sqlalchemy import select

    from portal import create_app
    from portal.accounts.models import User
    from portal.extensions import db
    app = create_app()
    with app.app_context():
        if "hall.display" not in app.view_functions:
            print("\n(no calling screen in this version)")
            return
        station_id = db.session.scalar(select(User.station_id).where(User.phone == CLERK))
    # Both ways on the same server, as deployed (gunicorn 2 workers x 4 threads, keep-alive);
    # the clerk on the other one, so the screens' cost is all that is counted. SSE holds a
    # thread per screen: 2 workers x 4 threads hold at most 8 screens, and only 4 for sure
    # (a worker may take in more streams than it has threads: those screens stay blank).
    hall = Gunicorn(f"bench.desk:sse_app({config})", 5113, data_dir, threads=4)
    hello = Gunicorn("hello:app", 5114, data_dir, threads=4)
    servers += [hall, hello]
    seconds = max(args.seconds * 3, 3)
    held = min(args.screens, 4)
    rows = [("bare Flask, the same polls (/hello)", args.screens,
             screens(5114, station_id, args.screens, seconds, hello.proc.pid, 5111, "hello",
                     data_dir),
             "none between polls"),
            ("htmx poll every 1 s (204 unchanged)", args.screens,
             screens(5113, station_id, args.screens, seconds, hall.proc.pid, 5111, "poll",
                     data_dir),
             "none between polls"),
            ("htmx poll, as many as SSE can hold", held,
             screens(5113, station_id, held, seconds, hall.proc.pid, 5111, "poll", data_dir),
             "none between polls"),
            ("server-sent events (a read / 0.5 s)", held,
             screens(5113, station_id, held, seconds, hall.proc.pid, 5111, "sse", data_dir),
             "one per screen")]
    if args.smoke:
        print("\n(smoke: the calling screens ran in every way; too short for figures)")
        return
    print("\ncalling screens, a call every 10 s     screens   server CPU ms/screen/s   "
          "slowest call→screen s   threads held")
    for name, count, (cpu, delay), threads in rows:
        print(f"{name:<38}{count:8d} {cpu:24.3f} {delay:23.2f}   {threads}")


if __name__ == "__main__":
    main()
