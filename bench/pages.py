"""Latency of the foundation's pages, with the demo data, on SQLite.

1. In process (Flask test client, one client): median and p95 per page.
2. Over HTTP: gunicorn with 2 workers on loopback, 8 client threads for a few seconds:
   requests/s, median and p95, and errors.

Run: .venv/bin/python bench/pages.py [--requests 300] [--seconds 5]
"""
from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = ["/", "/login", "/register", "/kiosk/", "/privacy", "/healthz"]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def prepare(data_dir: Path) -> None:
    env = {**os.environ, "PORTAL_DATA_DIR": str(data_dir), "FLASK_APP": "wsgi"}
    flask = str(ROOT / ".venv/bin/flask")
    for args in (["db", "upgrade"], ["seed", "demo"]):
        subprocess.run([flask, *args], env=env, cwd=ROOT, check=True, capture_output=True)


def in_process(data_dir: Path, n: int) -> None:
    os.environ["PORTAL_DATA_DIR"] = str(data_dir)
    from portal import create_app
    app = create_app()
    anonymous, resident = app.test_client(), app.test_client()
    login_page = resident.get("/login").get_data(as_text=True)
    token = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    resident.post("/login", data={"csrf_token": token, "phone": "13800000001",
                                  "password": "demo-2026"})
    print(f"in process, {n} requests each (/me/ signed in as a resident)")
    print(f"{'page':<12}{'median ms':>11}{'p95 ms':>9}")
    for url in PAGES + ["/me/"]:
        client = resident if url == "/me/" else anonymous
        times = []
        for _ in range(n):
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        print(f"{url:<12}{statistics.median(times):>11.2f}{percentile(times, 0.95):>9.2f}")


def over_http(data_dir: Path, seconds: float, threads: int = 8) -> None:
    port = 5099
    env = {**os.environ, "PORTAL_DATA_DIR": str(data_dir)}
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                probe.request("GET", "/healthz")
                if probe.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("gunicorn did not come up on port %d" % port)
        print(f"\nover HTTP: gunicorn 2 workers, {threads} client threads, {seconds:.0f} s per page")
        print(f"{'page':<12}{'req/s':>8}{'median ms':>11}{'p95 ms':>9}{'errors':>8}")
        for url in ("/", "/login", "/healthz"):
            times, errors = [], [0]
            stop = time.monotonic() + seconds

            def worker():
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                while time.monotonic() < stop:
                    start = time.perf_counter()
                    try:
                        conn.request("GET", url)
                        response = conn.getresponse()
                        response.read()
                        ok = response.status == 200
                    except OSError:
                        ok = False
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    times.append((time.perf_counter() - start) * 1000)
                    if not ok:
                        errors[0] += 1

            pool = [threading.Thread(target=worker) for _ in range(threads)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            print(f"{url:<12}{len(times) / seconds:>8.0f}{statistics.median(times):>11.2f}"
                  f"{percentile(times, 0.95):>9.2f}{errors[0]:>8}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="tongban-bench-"))
    try:
        prepare(data_dir)
        in_process(data_dir, args.requests)
        over_http(data_dir, args.seconds)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
