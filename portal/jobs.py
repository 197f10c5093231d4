"""The jobs worker: every periodic task on its schedule, each run once however many workers.

`flask --app wsgi jobs run` starts a Huey consumer (Huey: a small, long-kept task queue that
stores its queue in a SQLite file by default and in Redis when machines share one; its
scheduler, worker threads, retries and signal handling are what a hand-written loop would
have to grow). The tasks' truth stays in the portal's own database:

- **a lease per run**: a task's run inserts `job_runs(task, slot)` first; the slot is the
  minute (tasks run every minute) or the town's day (daily tasks). Whoever inserts it runs the
  task; another worker or machine that tries the same slot gets the unique-key conflict and
  skips. A daily task may start in any minute of its 15-minute window, so a stalled scheduler
  does not miss a day.
- **the rows are the queue**: deliveries and the search outbox are rows; the worker's queue is
  only a nudge (sent after each commit that made deliveries) to send them within seconds.
  Lose the queue and the once-a-minute sweep still sends everything.
"""
from __future__ import annotations

import logging
import os
import socket
import traceback
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Callable

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, Text, UniqueConstraint, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from flask_sqlalchemy.session import Session as FlaskSession

from portal.database import write_transaction
from portal.extensions import db
from portal.timeutil import to_local, to_utc, utcnow

log = logging.getLogger(__name__)
STATUS_LABELS = {"running": _l("运行中"), "ok": _l("完成"), "error": _l("出错")}
WINDOW = timedelta(minutes=15)  # a daily task starts at its time or within this window


class JobRun(db.Model):
    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("task", "slot", name="uq_job_runs_task_slot"),
                      db.Index("ix_job_runs_task", "task", "started_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(40))
    slot: Mapped[str] = mapped_column(String(20))  # the minute or day this run is for (local)
    worker: Mapped[str] = mapped_column(String(80))  # host:pid
    status: Mapped[str] = mapped_column(String(8))  # running, ok, error
    result: Mapped[str] = mapped_column(Text, default="")  # what it did, or the traceback
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


@dataclass(frozen=True)
class Job:
    name: str
    label: object
    run: Callable[[datetime], str]  # does the work at `now` (UTC); says what it did
    at: time | None = None  # daily at this local time; None: every minute

    def slot(self, now: datetime, any_hour: bool = False) -> str | None:
        """The slot `now` falls in, or None outside a daily task's window (unless
        `any_hour`: today's slot, whatever the hour)."""
        local = to_local(now)
        if self.at is None:
            return f"{local:%Y-%m-%dT%H:%M}"
        start = datetime.combine(local.date(), self.at)
        return f"{local:%Y-%m-%d}" if any_hour or start <= local < start + WINDOW else None

    def next_run(self, now: datetime) -> datetime:
        """The next start (UTC) after `now`."""
        local = to_local(now)
        if self.at is None:
            return to_utc(local.replace(second=0, microsecond=0) + timedelta(minutes=1))
        start = datetime.combine(local.date(), self.at)
        return to_utc(start if start > local else start + timedelta(days=1))


# -- the tasks ---------------------------------------------------------------------------------

def _deliveries(now: datetime) -> str:
    from portal import deliveries
    sent = deliveries.send_due()
    return f"sent {sent}, {deliveries.due_count()} due"


def _search(now: datetime) -> str:
    from portal.search import service
    return f"applied {service.drain()}, {service.pending()} queued"


def _reminders(now: datetime) -> str:
    from portal.booking.service import send_reminders
    tomorrow = to_local(now).date() + timedelta(days=1)
    return f"reminded {send_reminders(tomorrow)} bookings for {tomorrow}"


def _activity_reminders(now: datetime) -> str:
    from portal.volunteer.signups import send_reminders
    tomorrow = to_local(now).date() + timedelta(days=1)
    return f"reminded {send_reminders(tomorrow)} volunteers for {tomorrow}"


def _purge(now: datetime) -> str:
    from portal.civility.workflow import purge
    return f"purged the photos of {purge(now)} reports"


def _overdue(now: datetime) -> str:
    from portal.ratings.rules import tell_overdue
    return f"{tell_overdue(to_local(now).date())} follow-ups newly overdue, stations told"


def _points(now: datetime) -> str:
    from portal.points.rewards import expire_due
    return f"{expire_due(now)} redemption codes expired, their points given back"


def _faces(now: datetime) -> str:
    from portal.civility.workflow import propose_pending
    photos, boxes = propose_pending()
    return f"looked for faces and plates in {photos} photos, proposed {boxes} boxes"


def _dashboard(now: datetime) -> str:
    from portal.dashboard import rollup
    return f"summed {rollup.nightly(to_local(now).date())} station-days for the dashboard"


def _backup(now: datetime) -> str:
    from portal import backup
    made = backup.daily()
    return f"backup {made.name}: {made.summary}"


def _prune(now: datetime) -> str:
    """Keep a week of the record of minute runs (the daily ones stay)."""
    gone = db.session.execute(db.delete(JobRun).where(
        JobRun.started_at < now - timedelta(days=7), JobRun.slot.like("%T%"))).rowcount
    db.session.commit()
    return f"removed {gone} old records of minute runs"


JOBS = {job.name: job for job in (
    Job("deliveries", _l("发送短信和邮件"), _deliveries),
    Job("search", _l("更新搜索索引"), _search),
    Job("points", _l("过期兑换码退回积分"), _points),
    Job("faces", _l("查找随手拍照片里的人脸和车牌"), _faces),
    Job("reminders", _l("预约前一天提醒"), _reminders, at=time(18, 0)),
    Job("activity_reminders", _l("志愿活动前一天提醒"), _activity_reminders, at=time(18, 5)),
    Job("overdue", _l("差评整改逾期提醒"), _overdue, at=time(8, 30)),
    Job("purge", _l("清除到期照片"), _purge, at=time(3, 0)),
    Job("dashboard", _l("汇总公开数据"), _dashboard, at=time(1, 0)),
    Job("backup", _l("每日备份"), _backup, at=time(2, 0)),
    Job("prune", _l("清理运行记录"), _prune, at=time(4, 0)),
)}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run(name: str, now: datetime | None = None, *, any_hour: bool = False) -> JobRun | None:
    """Run a task for the slot `now` falls in, unless another worker has that slot (or `now`
    is outside a daily task's window and not `any_hour`): then None."""
    job = JOBS[name]
    now = now or utcnow()
    slot = job.slot(now, any_hour)
    if slot is None:
        return None
    record = JobRun(task=name, slot=slot, worker=worker_name(), status="running")
    db.session.add(record)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    try:
        record.result, record.status = job.run(now), "ok"
    except Exception:
        db.session.rollback()
        log.exception("job %s", name)
        record.result, record.status = traceback.format_exc()[-4000:], "error"
    record.finished_at = utcnow()
    db.session.commit()
    return record


def overview(now: datetime | None = None) -> list[dict]:
    """Each task with its last run, next run and last error (for /admin/jobs)."""
    now = now or utcnow()
    rows = []
    for job in JOBS.values():
        last = db.session.scalar(select(JobRun).where(JobRun.task == job.name)
                                 .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1))
        error = db.session.scalar(select(JobRun).where(JobRun.task == job.name,
                                                       JobRun.status == "error")
                                  .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1))
        rows.append(dict(job=job, last=last, error=error, next=job.next_run(now)))
    return rows


# -- the queue (Huey) --------------------------------------------------------------------------

def make_queue(app: Flask):
    """The Huey instance for this app's configuration, its tasks bound to the app."""
    from huey import MemoryHuey, RedisHuey, SqliteHuey
    setting = app.config["JOBS_QUEUE"]
    if setting == "sqlite":
        queue = SqliteHuey("tongban", filename=os.path.join(app.config["PORTAL_DATA_DIR"],
                                                            "jobs-queue.sqlite3"), results=False)
    elif setting.startswith("redis://"):
        queue = RedisHuey("tongban", url=setting, results=False)
    elif setting == "memory":
        queue = MemoryHuey("tongban", results=False)
    else:
        return None

    def in_app(name):
        def task():
            # A worker thread has no request or command around it: its transactions take
            # SQLite's write lock up front, as a `flask` command's do (portal/database.py).
            with app.app_context(), write_transaction():
                try:
                    run(name)
                finally:
                    db.session.remove()
        task.__name__ = f"job_{name}"
        return task

    for name, job in JOBS.items():
        queue.periodic_task(lambda utc_now, job=job: job.slot(utc_now) is not None,
                            name=f"job_{name}")(in_app(name))

    @queue.task(name="deliver_now")
    def deliver_now():
        with app.app_context(), write_transaction():
            try:
                from portal import deliveries
                deliveries.send_due()
            finally:
                db.session.remove()

    queue.deliver_now = deliver_now
    return queue


def init_app(app: Flask) -> None:
    """Nudge the worker after a commit that made deliveries (best effort: the sweep is the
    guarantee). The queue itself is made when first needed."""
    if not event.contains(FlaskSession, "after_commit", nudge):
        event.listen(FlaskSession, "after_commit", nudge)


def nudge(session) -> None:
    if not session.info.pop("deliveries", False):
        return
    try:
        app = current_app._get_current_object()
    except RuntimeError:
        return
    queue = queue_of(app)
    if queue is not None:
        try:
            queue.deliver_now()
        except Exception:  # the queue is down: the minute sweep sends them
            log.warning("could not nudge the jobs worker", exc_info=True)


def queue_of(app: Flask):
    if "jobs_queue" not in app.extensions:
        app.extensions["jobs_queue"] = make_queue(app)
    return app.extensions["jobs_queue"]
