"""The jobs worker: each run once however many workers race for it (real processes), the
schedule and its window, errors kept, and a real `flask jobs run` sending a booking's SMS
within seconds of the commit."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from portal import jobs
from portal.booking.models import ServiceItem
from portal.booking import service
from portal.database import write_transaction
from portal.deliveries import Delivery
from portal.extensions import db
from portal.jobs import JOBS, JobRun
from portal.notifications import Message
from portal.timeutil import local_now, local_today, to_utc
from tests.conftest import make_app

ROOT = Path(__file__).resolve().parent.parent


def _book(town, phone, days=1):
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == "SB-001"))
    station = town.villages[2].station
    # From the start of that day, so every booking of a test lands on the same day whatever the
    # hour the suite runs (late in the afternoon, "a day from now" has few slots left that day).
    from_midnight = datetime.combine(local_today() + timedelta(days=days), datetime.min.time())
    day, slot = service.first_free(station, "online", from_midnight)
    return service.book(item=item, station=station, day=day, starts=slot.starts,
                        channel="online", name="居民", phone=phone, user_id=None,
                        idempotency_key=None, now=local_now())


def test_a_daily_task_runs_once_in_its_window_and_not_outside(app, town):
    job = JOBS["reminders"]  # daily at 18:00
    at_six = to_utc(datetime(2026, 12, 1, 18, 3))
    assert job.slot(at_six) == "2026-12-01"
    assert job.slot(to_utc(datetime(2026, 12, 1, 18, 20))) is None
    assert job.slot(to_utc(datetime(2026, 12, 1, 9, 0))) is None
    assert job.next_run(to_utc(datetime(2026, 12, 1, 19, 0))) == to_utc(datetime(2026, 12, 2, 18, 0))
    assert JOBS["deliveries"].slot(at_six) == "2026-12-01T18:03"
    first = jobs.run("reminders", at_six)
    assert first.status == "ok" and "reminded" in first.result
    assert jobs.run("reminders", at_six + timedelta(minutes=5)) is None  # the same day's slot


def test_a_failing_task_keeps_its_error_and_the_next_slot_runs_again(app, monkeypatch):
    def broken(now):
        raise RuntimeError("disk full")
    monkeypatch.setitem(JOBS, "purge", jobs.Job("purge", "x", broken, at=JOBS["purge"].at))
    at = to_utc(datetime(2026, 12, 1, 3, 0))
    record = jobs.run("purge", at)
    assert record.status == "error" and "disk full" in record.result
    [row] = [r for r in jobs.overview(at) if r["job"].name == "purge"]
    assert row["error"].id == record.id and row["next"] == to_utc(datetime(2026, 12, 2, 3, 0))
    assert jobs.run("purge", at + timedelta(days=1)).status == "error"  # tried again next day


RACER = textwrap.dedent("""
    import sys, time
    from datetime import datetime
    from portal import create_app, jobs
    from portal.extensions import db
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "PORTAL_DATA_DIR": sys.argv[1],
                      "DATABASE_URL": sys.argv[2], "JOBS_QUEUE": ""})
    with app.app_context():
        while time.time() < float(sys.argv[3]):
            time.sleep(0.005)
        record = jobs.run("reminders", datetime.fromisoformat(sys.argv[4]))
        print("ran" if record else "skipped")
""")


def test_two_worker_processes_racing_for_the_same_run_run_it_once(app, town, tmp_path):
    booked = [_book(town, f"1396666000{n}") for n in range(4)]
    day = booked[0].day
    # The run "the evening before" the bookings' day, as both workers see it.
    evening = to_utc(datetime.combine(day - timedelta(days=1), JOBS["reminders"].at))
    db.session.commit()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    start = time.time() + 3
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(tmp_path), url, str(start),
                                evening.isoformat()], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = sorted(r.communicate(timeout=120)[0].strip() for r in racers)
    assert outcomes == ["ran", "skipped"]
    assert db.session.scalar(select(func.count()).select_from(JobRun).where(
        JobRun.task == "reminders")) == 1
    for booking in booked:
        assert db.session.scalar(select(func.count()).select_from(Message).where(
            Message.booking_id == booking.id, Message.kind == "reminder")) == 1


def test_admin_sees_each_tasks_last_and_next_run(app, town, client, auth, page):
    jobs.run("search")
    auth.login(role="admin")
    p = page(client.get("/admin/jobs"))
    assert p.status == 200
    rows = {r.select_one("th").get_text(" ", strip=True): r.get_text(" ", strip=True)
            for r in p.soup.select("tbody tr")}
    assert len(rows) == len(JOBS)
    assert "applied" in rows["更新搜索索引"]


def test_staff_see_deliveries_and_resend_a_failed_one(app, town, client, auth, page, forms):
    booking = _book(town, "13966661111")
    sms = db.session.scalar(select(Delivery).join(Message).where(
        Message.booking_id == booking.id))
    sms.status, sms.last_error = "failed", "isv.MOBILE_NUMBER_ILLEGAL: 非法手机号"
    db.session.commit()
    auth.login(role="clerk", station=town.villages[0].station)
    assert client.get("/admin/deliveries").status_code == 403
    auth.logout()
    auth.login(role="admin")
    p = page(client.get("/admin/deliveries?status=failed"))
    assert p.status == 200 and "非法手机号" in p.text() and "139****1111" in p.text()
    response = forms.post(f"/admin/deliveries/{sms.id}/resend", {},
                          token_from="/admin/deliveries?status=failed")
    assert response.status_code == 302
    db.session.refresh(sms)
    assert sms.status == "queued"
    again = forms.post(f"/admin/deliveries/{sms.id}/resend", {}, token_from="/admin/deliveries")
    assert again.status_code == 302
    assert "只有发送失败" in page(client.get("/admin/deliveries")).text()


def test_the_worker_sends_a_bookings_sms_within_seconds_and_stops_on_ctrl_c(tmp_path,
                                                                           sqlite_template):
    """`flask jobs run` as scripts/serve starts it: a booking made by the web app (another
    process) is sent, and logged, a few seconds after its commit."""
    import shutil
    shutil.copy(sqlite_template, tmp_path / "portal.db")
    env = {**os.environ, "PORTAL_DATA_DIR": str(tmp_path), "FLASK_APP": "wsgi",
           "SECRET_KEY": "x", "PORTAL_SMS_PROVIDER": "log", "PORTAL_JOBS_QUEUE": "sqlite"}
    env.pop("DATABASE_URL", None)
    worker = subprocess.Popen([sys.executable, "-m", "flask", "jobs", "run"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        app = make_app(tmp_path, f"sqlite:///{tmp_path / 'portal.db'}", JOBS_QUEUE="sqlite",
                       SMS_QUIET_HOURS=(24, 0))
        with app.app_context():
            from portal.seed import seed_demo
            from portal.places.models import Town
            # Writes as the web app's POSTs make them: the worker (another process) commits
            # between our reads, so a deferred transaction's upgrade would fail (seen in CI).
            with write_transaction():
                seed_demo()
                db.session.execute(db.delete(Delivery))
                db.session.commit()
                booking = _book(db.session.scalar(select(Town)), "13966662222")
                db.session.commit()
            log = tmp_path / "messages.log"
            deadline = time.time() + 30
            while time.time() < deadline and booking.ref not in (
                    log.read_text() if log.exists() else ""):
                time.sleep(0.2)
            assert booking.ref in log.read_text(), "the worker did not send within 30 s"
            db.session.commit()
            sent = db.session.scalar(select(Delivery).where(Delivery.address == "13966662222"))
            assert sent.status == "sent"
            db.engine.dispose()
    finally:
        worker.send_signal(signal.SIGINT)
        output = worker.communicate(timeout=30)[0]
    assert worker.returncode == 0, output[-2000:]


def test_jobs_once_runs_todays_slot_at_any_hour_and_only_once(app, town):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["jobs", "once", "purge"])
    assert first.exit_code == 0 and "purge [ok] purged the photos of" in first.output
    again = runner.invoke(args=["jobs", "once", "purge"])
    assert "already been run" in again.output
    assert runner.invoke(args=["jobs", "once", "nonsense"]).exit_code != 0
