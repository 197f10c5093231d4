"""Writes per second under a mixed write load on the embedded default (SQLite).

Demo data, gunicorn with 2 worker processes on loopback. Each simulated person repeats one of
five submissions, each a GET of the form (its CSRF token) and the POST: registering an
account, signing in, an editor saving a draft notice, a coordinator adding a service-menu
entry, a guest asking for a home visit. One client, then 16 at once. SQLite has one writer at
a time: the figure that matters is that writers wait their turn (0 responses >= 500) and how
many submissions per second that turn-taking allows. Rate limits are off (one bench client is
many people). Passwords use the real hash (scrypt), as a login costs in production.

Run: .venv/bin/python bench/writes.py [--seconds 10] [--clients 16]
"""
from __future__ import annotations

import argparse
import itertools
import re
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.booking import Client, Gunicorn, demo_in, pct  # noqa: E402

PASSWORD = "demo-2026"
_serial = itertools.count(1)


def _token(client: Client, path: str) -> str:
    status, body = client.request("GET", path)
    assert status == 200, (path, status)
    return re.search(rb'name="csrf_token"[^>]*value="([^"]*)"', body).group(1).decode()


def _signed_in(port: int, phone: str) -> Client:
    client = Client(port)
    status, _ = client.request("POST", "/login", {"csrf_token": _token(client, "/login"),
                                                  "phone": phone, "password": PASSWORD})
    assert status == 302, ("login", phone, status)
    return client


def register(client: Client, _people) -> int:
    n = next(_serial)
    client = Client(client.conn.port)  # a new visitor (a registration signs in)
    return client.request("POST", "/register", {
        "csrf_token": _token(client, "/register"), "phone": f"1590{n:07d}", "name": f"压测{n}",
        "village": "2", "id_card": "", "password": "mountain-river-77",
        "password_again": "mountain-river-77", "consent": "y"})[0]


def login(client: Client, _people) -> int:
    fresh = Client(client.conn.port)
    return fresh.request("POST", "/login", {"csrf_token": _token(fresh, "/login"),
                                            "phone": "13800000001", "password": PASSWORD})[0]


def notice(_client: Client, people) -> int:
    editor = people["editor"]
    n = next(_serial)
    return editor.request("POST", "/editor/notices/new", {
        "csrf_token": _token(editor, "/editor/notices/new"), "title": f"压测通知{n}",
        "doc_number": f"压测〔2026〕{n}号", "agency": "青禾镇人民政府", "category": "应急管理",
        "written_on": "2026-11-20", "validity": "valid", "body": "压测正文。",
        "body_format": "plain"})[0]


def offer(_client: Client, people) -> int:
    coordinator = people["coordinator"]
    n = next(_serial)
    return coordinator.request("POST", "/volunteer/manage/offers", {
        "csrf_token": _token(coordinator, "/volunteer/manage/offers"),
        "name": f"压测服务{n}", "description": "", "team": str(people["team"])})[0]


def home_visit(client: Client, people) -> int:
    n = next(_serial)
    path = f"/services/{people['visit_item']}/home-visit"
    return client.request("POST", path, {
        "csrf_token": _token(client, path), "name": f"上门{n}", "phone": f"1591{n:07d}",
        "address": "东岭村3组", "reason": "elderly", "station": str(people["station"]),
        "preferred_days": "", "note": ""})[0]


WRITES = [register, login, notice, offer, home_visit]
OK = {200, 302}


def run(port: int, people_for, clients: int, seconds: float) -> dict:
    """Each client its own people (their own sessions), round-robin over WRITES."""
    stop = time.monotonic() + seconds
    times, statuses, lock = [], {}, threading.Lock()

    def work(k):
        people, client = people_for(k), Client(port)
        for write in itertools.cycle(WRITES[k % len(WRITES):] + WRITES[:k % len(WRITES)]):
            if time.monotonic() >= stop:
                return
            start = time.perf_counter()
            status = write(client, people)
            with lock:
                times.append((time.perf_counter() - start) * 1000)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"count": len(times), "times": times, "statuses": statuses}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="tongban-writes-"))
    try:
        demo_in(data_dir)
        database = data_dir / "portal.db"
        with sqlite3.connect(database) as conn:
            team = conn.execute("SELECT min(id) FROM volunteer_teams").fetchone()[0]
            item = conn.execute("SELECT code FROM service_items WHERE home_visit "
                                "ORDER BY id").fetchone()[0]
            station = conn.execute("SELECT min(id) FROM stations WHERE kind = 'village'"
                                   ).fetchone()[0]
        port = _free_port()
        app = ("portal:create_app({'RATELIMIT_ENABLED': False, 'SESSION_COOKIE_SECURE': False, "
               f"'PORTAL_DATA_DIR': {str(data_dir)!r}}})")
        server = Gunicorn(app, port, data_dir)
        try:
            cache: dict[int, dict] = {}

            def people_for(k: int) -> dict:
                if k not in cache:
                    cache[k] = {"editor": _signed_in(port, "13800000301"),
                                "coordinator": _signed_in(port, "13800000501"),
                                "team": team, "visit_item": item, "station": station}
                return cache[k]

            print(f"mixed writes (register, login, notice, service menu, home visit), "
                  f"gunicorn 2 workers, SQLite, {args.seconds:.0f} s each")
            print("clients   writes/s   median ms   p95 ms   statuses")
            for clients in (1, args.clients):
                for k in range(clients):
                    people_for(k)  # signed in before the clock starts
                result = run(port, people_for, clients, args.seconds)
                times = result["times"]
                print(f"{clients:7d} {result['count'] / args.seconds:10.1f} "
                      f"{statistics.median(times):11.1f} {pct(times, .95):8.1f}   "
                      f"{dict(sorted(result['statuses'].items()))}")
                bad = {s: n for s, n in result["statuses"].items() if s not in OK}
                if bad:
                    raise SystemExit(f"not every write was accepted: {bad}")
        finally:
            server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
