"""Running by itself, measured: deliveries per second the worker sustains, and how long a
backup and a restore of the county take.

1. Builds the county of bench/booking.py on SQLite (380 stations, ~380,000 past bookings,
   50,000 open ones) in a temporary data dir (or --keep DIR).
2. `flask backup` of it, timed, with its size; then `flask restore` into a fresh data dir,
   timed (database copy, migrations check, uploads, search index rebuild).
3. Queues --messages deliveries and lets 1, then 2, sender processes (what `jobs run` does per
   worker thread) send them through the `log` provider and through the Alibaba provider
   against a local stub (the signed HTTP request, a loopback round trip): deliveries/s.

Run: .venv/bin/python bench/operations.py [--messages 3000] [--keep DIR]
On PostgreSQL: DATABASE_URL=postgresql://…/county .venv/bin/python bench/operations.py
     --fresh-database postgresql://…/empty
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
FLASK = str(ROOT / ".venv/bin/flask")


def flask(data_dir: Path, *args: str, database: str | None = None) -> float:
    env = {**os.environ, "PORTAL_DATA_DIR": str(data_dir), "FLASK_APP": "wsgi"}
    if database:
        env["DATABASE_URL"] = database
    started = time.perf_counter()
    done = subprocess.run([FLASK, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    print("   ", done.stdout.strip().splitlines()[-1])
    return time.perf_counter() - started


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Stub(BaseHTTPRequestHandler):
    """Answers SendSms like Alibaba does (no signature check here: the tests do that)."""

    def do_GET(self):
        body = json.dumps({"Code": "OK", "Message": "OK", "BizId": "1^0",
                           "RequestId": "R"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


QUEUE = textwrap.dedent("""
    import sys
    from sqlalchemy import delete, insert
    from portal import create_app
    from portal.deliveries import Delivery
    from portal.extensions import db
    from portal.notifications import Message
    from portal.timeutil import utcnow
    app = create_app({"JOBS_QUEUE": ""})
    with app.app_context():
        db.session.execute(delete(Delivery))
        n = int(sys.argv[1])
        first = (db.session.query(db.func.max(Message.id)).scalar() or 0) + 1
        db.session.execute(insert(Message.__table__), [
            dict(id=first + k, phone=f"135{k:08d}", kind="status", body="测试", essential=True,
                 created_at=utcnow()) for k in range(n)])
        db.session.execute(insert(Delivery.__table__), [
            dict(message_id=first + k, channel="sms", address=f"135{k:08d}", template="brief",
                 params={"code": f"C{k}", "station": "站"}, locale="zh", status="queued",
                 attempts=0, due_at=utcnow(), last_error="", created_at=utcnow())
            for k in range(n)])
        db.session.commit()
""")

SEND = textwrap.dedent("""
    import sys, time
    from portal import create_app, deliveries
    app = create_app({"JOBS_QUEUE": "", "SMS_PROVIDER": sys.argv[1],
                      "ALIYUN_SMS_ENDPOINT": sys.argv[2], "ALIYUN_ACCESS_KEY_ID": "id",
                      "ALIYUN_ACCESS_KEY_SECRET": "secret"})
    with app.app_context():
        while time.time() < float(sys.argv[3]):
            time.sleep(0.005)
        total = 0
        while True:
            sent = deliveries.send_due(limit=50)
            total += sent
            if not sent and not deliveries.due_count():
                break
        print(total, time.time())
""")


def deliveries_per_second(data_dir: Path, messages: int, provider: str, endpoint: str,
                          senders: int, database: str | None) -> float:
    env = {**os.environ, "PORTAL_DATA_DIR": str(data_dir)}
    if database:
        env["DATABASE_URL"] = database
    subprocess.run([sys.executable, "-c", QUEUE, str(messages)], env=env, cwd=ROOT, check=True)
    start = time.time() + 2
    procs = [subprocess.Popen([sys.executable, "-c", SEND, provider, endpoint, str(start)],
                              env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
             for _ in range(senders)]
    results = [p.communicate()[0].split() for p in procs]
    sent = sum(int(r[0]) for r in results)
    ended = max(float(r[1]) for r in results)
    assert sent == messages, (sent, messages)
    return sent / (ended - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--keep", help="build the county in this folder and keep it")
    parser.add_argument("--fresh-database", help="with DATABASE_URL on PostgreSQL: an empty "
                        "database to restore into (the county is built in DATABASE_URL)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny data and a second of load: the suite's check that it runs")
    args = parser.parse_args()
    if args.smoke:
        import booking
        booking.smoke_sizes()
        args.messages = 40
    if os.environ.get("DATABASE_URL", "").startswith("postgres") and not args.fresh_database:
        parser.error("on PostgreSQL, give --fresh-database (an empty database to restore into)")
    work = Path(tempfile.mkdtemp(prefix="tongban-ops-"))
    county = Path(args.keep) if args.keep else work / "county"
    try:
        if not (county / "built").exists():
            import booking
            print("== building the county (bench/booking.py)")
            booking.build(county)
            flask(county, "search", "reindex")
            (county / "built").touch()
        print(f"== backup of the county ({os.environ.get('DATABASE_URL', 'SQLite')[:10]}…)")
        seconds = flask(county, "backup", str(work / "backup"))
        print(f"   backup: {seconds:.1f} s, {size(work / 'backup') / 2**20:.0f} MiB")
        fresh = work / "fresh"
        fresh.mkdir()
        seconds = flask(fresh, "restore", str(work / "backup"), database=args.fresh_database)
        print(f"   restore into an empty data dir (with the index rebuild): {seconds:.1f} s")
        server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        endpoint = f"http://127.0.0.1:{server.server_port}/"
        print(f"== deliveries/s ({args.messages} queued SMS each run, county database)")
        for provider in ("log", "aliyun"):
            for senders in (1, 2):
                rate = deliveries_per_second(fresh, args.messages, provider, endpoint, senders,
                                             args.fresh_database)
                print(f"   {provider:7} provider, {senders} sender(s): {rate:7.0f} deliveries/s")
        server.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
