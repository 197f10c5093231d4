"""The volunteer activity list with 10,000 activities and 50,000 sign-ups.

Activities spread over half a year behind and ahead of today across 5 teams and 20 stations,
a fifth of them full with a waitlist; 5,000 volunteers with 10 sign-ups each. Against
gunicorn with 2 workers on loopback: one client, then 16 at once, on the first page of
/volunteer/, a station filter, a skill-and-date filter, a deep page, and one activity —
median, p95, req/s.

Run: .venv/bin/python bench/volunteer.py [--seconds 8]
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import booking  # noqa: E402
from bench.booking import Gunicorn, demo_in, measure_pages  # noqa: E402

ACTIVITIES, VOLUNTEERS, PER_VOLUNTEER = 10_000, 5_000, 10
SKILLS = ("health", "legal", "digital", "culture", "environment")


def _id_card(n: int) -> str:
    """A distinct, valid ID number per volunteer (the column is unique)."""
    from portal.accounts.validation import id_card_check_char
    born = date(1960, 1, 1) + timedelta(days=n // 900)
    first17 = f"110101{born:%Y%m%d}{100 + n % 900:03d}"
    return first17 + id_card_check_char(first17)


def build(data_dir: Path, seeded: bool = False) -> dict:
    """The activities on top of the demo town (which `seeded` says is there already)."""
    if not seeded:
        demo_in(data_dir)
    from sqlalchemy import bindparam, func, insert, select, update

    from portal import create_app
    from portal.accounts.models import User
    from portal.extensions import db
    from portal.timeutil import local_today, utcnow
    from portal.volunteer.models import Activity, SignUp, Team, Volunteer, VolunteerStation
    from portal.volunteer.signups import new_code

    rng = random.Random(11)
    started = time.perf_counter()
    with create_app().app_context():
        teams = db.session.scalars(select(Team.id)).all()
        db.session.execute(insert(VolunteerStation), [
            dict(name=f"第{n}村志愿服务驿站", address=f"第{n}村村委会", active=True)
            for n in range(17)])
        stations = db.session.scalars(select(VolunteerStation.id)).all()
        today, now = local_today(), utcnow()
        activities = []
        for n in range(ACTIVITIES):
            starts = clock(rng.choice((8, 9, 14, 15, 18)), rng.choice((0, 30)))
            activities.append(dict(
                team_id=rng.choice(teams), station_id=rng.choice(stations),
                title=f"{rng.choice(('义诊进村', '河道巡查', '手机课堂', '法律讲座', '文艺排练'))}第{n}场",
                description="请提前10分钟到达，穿志愿者马甲。" * 3, place="村委会广场",
                bring="身份证，水杯", skill=rng.choice(SKILLS),
                day=today + timedelta(days=rng.randint(-180, 180)), starts=starts,
                ends=clock(starts.hour + 2, starts.minute),
                # a fifth are small and fill up, with people waiting
                capacity=rng.randint(2, 4) if n % 5 == 0 else rng.randint(8, 30),
                taken=0, waiting=0, status="open", cancel_reason="", created_at=now))
        before = db.session.scalar(select(func.max(Activity.id))) or 0  # the demo's stay as they are
        db.session.execute(insert(Activity), activities)
        activity_ids = db.session.scalars(select(Activity.id).where(Activity.id > before)
                                          .order_by(Activity.id)).all()
        capacity = dict(db.session.execute(select(Activity.id, Activity.capacity)).all())
        password = db.session.scalar(select(User.password_hash).limit(1))
        db.session.execute(insert(User), [
            dict(phone=f"136{n:08d}", name=f"志愿者{n}", password_hash=password, active=True,
                 created_at=now, password_changed_at=now) for n in range(VOLUNTEERS)])
        users = db.session.scalars(select(User.id).where(User.phone.like("136%"))).all()
        db.session.execute(insert(Volunteer), [
            dict(user_id=u, real_name=f"志愿者{u}", id_card=_id_card(u), gender="male",
                 skills="digital", availability="weekend", note="", star_level=0,
                 registered_at=now) for u in users])
        volunteers = db.session.scalars(select(Volunteer.id).where(Volunteer.user_id.in_(users))).all()
        taken = dict.fromkeys(activity_ids, 0)
        waiting = dict.fromkeys(activity_ids, 0)
        rows = []
        for volunteer in volunteers:
            for activity in rng.sample(activity_ids, PER_VOLUNTEER):
                status = "confirmed" if taken[activity] < capacity[activity] else "waitlisted"
                (taken if status == "confirmed" else waiting)[activity] += 1
                rows.append(dict(activity_id=activity, volunteer_id=volunteer, status=status,
                                 code=new_code(), queued_at=now))
        db.session.execute(insert(SignUp), rows)
        table = Activity.__table__
        db.session.execute(update(table).where(table.c.id == bindparam("aid")).values(
            taken=bindparam("tk"), waiting=bindparam("wt")), [
            dict(aid=a, tk=taken[a], wt=waiting[a]) for a in activity_ids])
        db.session.commit()
        counts = (db.session.scalar(select(func.count()).select_from(Activity)),
                  db.session.scalar(select(func.count()).select_from(SignUp)))
        upcoming = db.session.scalar(select(Activity.id).where(Activity.day > today)
                                     .order_by(Activity.taken.desc()))
        station = stations[3]
    print(f"built in {time.perf_counter() - started:.0f} s: {counts[0]:,} activities, "
          f"{counts[1]:,} sign-ups")
    return {"first page /volunteer/": "/volunteer/",
            "one station": f"/volunteer/?station={station}",
            "skill and date": f"/volunteer/?skill=health&day={today + timedelta(days=30)}",
            "page 200": "/volunteer/?page=200",
            "one activity": f"/volunteer/activities/{upcoming}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny data and a second of load: the suite's check that it runs")
    args = parser.parse_args()
    if args.smoke:
        global ACTIVITIES, VOLUNTEERS
        ACTIVITIES, VOLUNTEERS, args.seconds = 40, 20, 0.5
        booking.TIMED = 20
    data_dir = Path(tempfile.mkdtemp(prefix="tongban-volunteer-"))
    try:
        pages = build(data_dir)
        app = ("portal:create_app({'RATELIMIT_ENABLED': False, 'SESSION_COOKIE_SECURE': False, "
               f"'PORTAL_DATA_DIR': {str(data_dir)!r}}})")
        server = Gunicorn(app, 5122, data_dir)
        try:
            measure_pages(5122, pages, args.seconds)
        finally:
            server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
