"""Every public page against bare Flask, with wrk: new visitors, returning ones, one client.

Builds the demo town on SQLite (or, with --county, the county-scale data on top of it: 20 towns
x 19 stations with a year of bookings, 20,000 notices, 5,000 public reports, 10,000
activities), starts the portal and a bare Flask "hello" app under the same gunicorn settings
(2 sync workers, loopback), and for each page, taking turns with hello in the same minute:

- new visitors: `wrk -t2 -c16`, no cookie (a first visit from a phone);
- returning visitors: the same with the cookies of a signed-in resident;
- one client: `wrk -t1 -c1`, median and p95 of a new visitor.

It prints requests/s, the share of hello's requests/s measured next to it, one-client median and
p95, and any errors (answers ≥ 400 or socket errors: the run fails if there are any).

Run: .venv/bin/python bench/pages.py [--seconds 4] [--county] [--only /search]
     --smoke: tiny run (the suite's check that the bench still works): no wrk needed.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.booking import HELLO, Client, Gunicorn, demo_in  # noqa: E402

# wrk's Lua hooks: every request from another client address (X-Forwarded-For, which the
# portal believes from one proxy, as behind nginx), so the rate limits stay on as in production
# without one bench client hitting them; print the figures as one JSON
# line at the end.
WRK_SCRIPT = """
local n = 0
request = function()
  n = n + 1
  wrk.headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.random(0, 255),
                                                 math.floor(n / 256) % 256, n % 256)
  return wrk.format(nil)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "p50": %f, "p95": %f, "errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def public_pages(data_dir: Path) -> dict[str, str]:
    """The public pages, with ids taken from the data."""
    os.environ["PORTAL_DATA_DIR"] = str(data_dir)
    from sqlalchemy import select

    from portal import create_app
    from portal.booking import service
    from portal.booking.models import ServiceItem
    from portal.civility.models import Issue
    from portal.desk.models import Ticket
    from portal.extensions import db
    from portal.notices.models import Notice
    from portal.places.models import Station
    from portal.timeutil import local_now, utcnow
    from portal.volunteer.models import Activity

    with create_app().app_context():
        item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == "SB-001"))
        station = db.session.scalar(select(Station).where(Station.kind == "village")
                                    .order_by(Station.id))
        day, _slot = service.first_free(station, "online", local_now())
        notice = db.session.scalar(select(Notice).where(Notice.publish_at <= utcnow())
                                   .order_by(Notice.publish_at.desc()))
        issue = db.session.scalar(select(Issue).where(Issue.published_at.is_not(None))
                                  .order_by(Issue.number.desc()))
        activity = db.session.scalar(select(Activity).order_by(Activity.id.desc()))
        ticket = db.session.scalar(select(Ticket.code).order_by(Ticket.id))
        pages = {
            "hub /": "/",
            "/healthz": "/healthz",
            "catalogue": "/services/",
            "service guide": f"/services/{item.code}",
            "station choice": f"/services/{item.code}/book",
            "booking day page": f"/services/{item.code}/book/{station.id}/{day.isoformat()}",
            "notices list": "/notices/",
            "a notice": f"/notices/{notice.id}",
            "search 社保卡": "/search?q=" + urllib.parse.quote("社保卡"),
            "civility board": "/civility/",
            "a civility issue": f"/civility/issues/{issue.number}",
            "volunteer list": "/volunteer/",
            "an activity": f"/volunteer/activities/{activity.id}",
            "micro-wishes": "/volunteer/wishes/",
            "points and rewards": "/points/",
            "dashboard": "/dashboard/",
            "dashboard now (htmx)": "/dashboard/now",
            "kiosk": "/kiosk/",
            "calling screen": f"/stations/{station.id}/display",
        }
        if ticket:  # the demo's tickets are today's, on a day the first station is open
            pages["a ticket"] = f"/tickets/{ticket}"
        return pages


def resident_cookie(port: int) -> str:
    """The cookies of a demo resident who signed in (a returning visitor)."""
    client = Client(port)
    status, html = client.request("GET", "/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html.decode()).group(1)
    status, _ = client.request("POST", "/login", {"csrf_token": token, "phone": "13800000001",
                                                   "password": "demo-2026"})
    assert status == 302, f"the demo resident could not sign in ({status})"
    return client.cookie


def wrk(port: int, path: str, seconds: float, threads: int, connections: int,
        cookie: str | None, script: Path) -> dict:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
               "-s", str(script)]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(command + [f"http://127.0.0.1:{port}{path}"], capture_output=True,
                         text=True, check=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / figures["seconds"]
    return figures


def smoke(port: int, pages: dict[str, str], cookie: str) -> None:
    """Each page answers 200 for a new and a returning visitor (no wrk, a second or two)."""
    for name, path in pages.items():
        for headers in ({}, {"Cookie": cookie}):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, (name, path, response.status)
    print(f"smoke: {len(pages)} pages answered 200 to new and returning visitors")


def measure(port: int, hello_port: int, pages: dict[str, str], cookie: str, seconds: float,
            script: Path) -> list[str]:
    rows, failed = [], []
    header = (f"{'page':<20}{'new req/s':>10}{'share':>7}{'returning':>11}{'share':>7}"
              f"{'1-client median':>17}{'p95 ms':>8}{'errors':>8}")
    print(header)
    for name, path in pages.items():
        # hello, the page, hello again: the share is against the mean of the two around it.
        before = wrk(hello_port, "/hello", seconds, 2, 16, None, script)
        new = wrk(port, path, seconds, 2, 16, None, script)
        returning = wrk(port, path, seconds, 2, 16, cookie, script)
        after = wrk(hello_port, "/hello", seconds, 2, 16, None, script)
        one = wrk(port, path, seconds, 1, 1, None, script)
        hello = (before["rps"] + after["rps"]) / 2
        errors = new["errors"] + returning["errors"] + one["errors"]
        row = (f"{name:<20}{new['rps']:>10.0f}{new['rps'] / hello:>7.0%}{returning['rps']:>11.0f}"
               f"{returning['rps'] / hello:>7.0%}{one['p50']:>17.1f}{one['p95']:>8.1f}"
               f"{errors:>8}")
        print(row, flush=True)
        rows.append(row)
        if errors:
            failed.append(name)
    print(f"(hello: {hello:.0f} req/s in the last pair; shares are against the hello runs "
          "just before and after each page)")
    if failed:
        raise SystemExit(f"errors on: {', '.join(failed)}")
    return rows


def county(data_dir: Path, smoke: bool = False) -> None:
    """The county-scale data on top of the demo town, by the other benches' builders: 20
    towns x 19 stations with a year of bookings (bench/booking.py), 20,000 notices
    (bench/search.py), 5,000 public reports (bench/civility.py), 10,000 activities
    (bench/volunteer.py). With `smoke`, each at its smoke size."""
    from bench import booking, civility, search, volunteer
    if smoke:
        booking.smoke_sizes()
        civility.PUBLISHED, civility.ISSUES, civility.PENDING, civility.EXPIRED = 20, 2, 5, 5
        volunteer.ACTIVITIES, volunteer.VOLUNTEERS = 40, 20
    booking.build(data_dir)
    search.build(data_dir, 100 if smoke else 20_000)
    civility.build(data_dir, seeded=True)
    volunteer.build(data_dir, seeded=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4, help="each wrk run")
    parser.add_argument("--county", action="store_true", help="county-scale data")
    parser.add_argument("--only", action="append", help="only pages whose name or path has this")
    parser.add_argument("--keep", help="build the data in this folder and keep it (reused "
                                       "when it already holds a database)")
    parser.add_argument("--smoke", action="store_true", help="every page once, no wrk")
    args = parser.parse_args()
    if not args.smoke and not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    data_dir = Path(args.keep or tempfile.mkdtemp(prefix="tongban-pages-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    reuse = args.keep and (data_dir / "portal.db").exists()
    servers = []
    try:
        if not reuse:
            demo_in(data_dir)
            if args.county:
                county(data_dir, smoke=args.smoke)
        pages = public_pages(data_dir)
        if args.only:
            pages = {k: v for k, v in pages.items() if any(o in k or o in v for o in args.only)}
        (data_dir / "hello.py").write_text(HELLO)
        script = data_dir / "figures.lua"
        script.write_text(WRK_SCRIPT)
        env = {"PORTAL_TRUSTED_PROXIES": "1"}
        portal = Gunicorn("wsgi:app", 5111, data_dir, env)
        servers.append(portal)
        cookie = resident_cookie(5111)
        if args.smoke:
            smoke(5111, pages, cookie)
            return
        hello = Gunicorn("hello:app", 5112, data_dir)
        servers.append(hello)
        for path in pages.values():  # warm both workers' caches
            for _ in range(6):
                Client(5111).request("GET", path)
        print(f"{'county-scale' if args.county else 'demo'} data, gunicorn 2 sync workers, "
              f"wrk {args.seconds:.0f} s per run")
        measure(5111, 5112, pages, cookie, args.seconds, script)
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
