"""Demo bookings in every state, so the desk and the status pages have something to show:
upcoming bookings, walk-ins at the first station moving through the desk today, a week of
handled cases with ratings (for the figures), and a bad rating's follow-up case."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from portal import refs
from portal.accounts.models import User
from portal.booking import service
from portal.booking.models import OPEN_STATUSES, Booking, ServiceItem
from portal.booking.slots import slot_times
from portal.extensions import db
from portal.places.hours import periods_on
from portal.places.workdays import calendar
from portal.ratings.models import FollowUp, Rating
from portal.ratings.rules import deadlines
from portal.timeutil import local_now, to_utc

# How a finished or in-hand booking got where it is (the desk records these steps).
PATHS = {
    "checked_in": ["check_in"],
    "accepted": ["check_in", "accept"],
    "in_progress": ["check_in", "accept", "start"],
    "forwarded": ["check_in", "accept", "start", "forward"],
    "completed": ["check_in", "accept", "start", "complete"],
    "returned": ["check_in", "accept", "return"],
    "rejected": ["check_in", "accept", "reject"],
    "no_show": ["no_show"],
}
STATUS_AFTER = {"check_in": "checked_in", "accept": "accepted", "start": "in_progress",
                "forward": "forwarded", "complete": "completed", "return": "returned",
                "reject": "rejected", "no_show": "no_show"}
NOTES = {"return": "缺少户口簿复印件（演示数据）", "reject": "不符合申请条件（演示数据）",
         "forward": "需镇民政办审核（演示数据）"}
WALK_INS = [("赵大爷", "13700000011"), ("钱阿姨", "13700000012"), ("孙师傅", "13700000013"),
            ("李大姐", "13700000014"), ("周先生", "13700000015"), ("吴女士", "13700000016"),
            ("郑大叔", "13700000017"), ("王奶奶", "13700000018")]
HISTORY_DAYS = 7  # past opening days of handled cases at the first station


def seed_bookings(town) -> int:
    """Add the demo bookings once; returns how many bookings there are."""
    existing = db.session.scalar(select(func.count()).select_from(Booking))
    if existing:
        return existing
    now = local_now()
    items = db.session.scalars(select(ServiceItem).order_by(ServiceItem.position)).all()
    first, second = [s for s in town.stations if s.kind == "village"][:2]
    residents = [db.session.scalar(select(User).where(User.phone == p))
                 for p in ("13800000001", "13800000002")]
    clerk = db.session.scalar(select(User).where(User.station_id == first.id))
    # Upcoming, booked online by the two demo residents; one of them cancelled.
    for n, (user, station) in enumerate(zip(residents, (first, second), strict=True)):
        day, slot = service.first_free(station, "online", now + timedelta(days=1))
        service.book(item=items[n], station=station, day=day, starts=slot.starts,
                     channel="online", name=user.name, phone=user.phone, user_id=user.id,
                     idempotency_key=None, now=now)
    day, slot = service.first_free(second, "online", now + timedelta(days=2))
    cancelled = service.book(item=items[5], station=second, day=day, starts=slot.starts,
                             channel="online", name=residents[1].name,
                             phone=residents[1].phone, user_id=residents[1].id,
                             idempotency_key=None, now=now)
    service.cancel(cancelled, now=now, actor_id=residents[1].id, note="demo")
    # Walk-ins at the first station, in the states the desk moves bookings through.
    for n, (status, (name, phone)) in enumerate(zip(PATHS, WALK_INS, strict=True)):
        past = status in ("completed", "returned", "rejected", "no_show")
        day = _a_day_with_hours(first, now.date(), back=past)
        _walk_in(first, items[10 + n], name, phone, status, day, 0, clerk)
    _history(first, items, clerk, now.date())
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(Booking))


def _a_day_with_hours(station, today: date, back: bool) -> date:
    day = today - timedelta(days=1) if back else today
    while not periods_on(station, day):
        day -= timedelta(days=1)
    return day


def _history(station, items, clerk, today: date) -> None:
    """A week of handled cases with ratings, so the figures have something to show, and one
    bad rating whose follow-up is overdue."""
    rng = random.Random(2026)  # the same demo every time
    day, cal = today, calendar()
    people = [(f"演示居民{n:02d}", f"1330000{n:04d}") for n in range(1, 60)]
    for _ in range(HISTORY_DAYS):
        day = _a_day_with_hours(station, day, back=True)
        for slot_index in range(1, rng.randint(4, 7)):  # slot 0 holds the walk-ins above
            name, phone = people.pop()
            status = rng.choice(("completed",) * 5 + ("forwarded", "returned"))
            booking = _walk_in(station, rng.choice(items[20:40]), name, phone, status, day,
                               slot_index, clerk, wait=rng.randint(2, 25),
                               handle=rng.randint(5, 30))
            if status == "completed":
                level = rng.choice((5, 5, 5, 4, 4, 3))
                db.session.add(Rating(booking_id=booking.id, station_id=station.id,
                                      responsible_id=clerk.id, level=level, channel="kiosk",
                                      created_at=booking.finished_at))
    name, phone = people.pop()
    booking = _walk_in(station, items[41], name, phone, "completed", day, 7, clerk)
    rating = Rating(booking_id=booking.id, station_id=station.id, responsible_id=clerk.id,
                    level=2, comment="等了很久，窗口只开了一个（演示数据）", channel="online",
                    created_at=booking.finished_at)
    callback_due, rectify_due = deadlines(day, cal)
    db.session.add(FollowUp(rating=rating, station_id=station.id, opened_at=booking.finished_at,
                            callback_due=callback_due, rectify_due=rectify_due))


def _walk_in(station, item, name, phone, status, day, slot_index, clerk, wait=8,
             handle=12) -> Booking:
    """A walk-in at `station` on `day` that went through the desk steps to `status`, with
    the times and the responsible clerk the desk would have recorded. It takes its place
    from the walk-in reserve by the booking rules' own conditional update: in slot
    `slot_index`, or the next one with room (demo data never overbooks)."""
    slots = slot_times(periods_on(station, day), station.slot_minutes)[slot_index:]
    starts, ends = next(((a, b) for a, b in slots
                         if service._take_place(station, day, a, "walkin")), (None, None))
    if starts is None:
        raise RuntimeError(f"demo: no walk-in place left at {station.name} on {day}")
    came = to_utc(datetime.combine(day, starts))
    booking = Booking(ref=refs.new_code(), item=item, station=station, day=day, starts=starts,
                      ends=ends, channel="walkin", name=name, phone=phone, status=status,
                      created_at=came)
    db.session.add(booking)
    service.record_event(booking, "book", None, "booked", clerk.id, "walkin")
    booking.events[-1].at = came
    at, previous = came, "booked"
    for step in PATHS[status]:
        at += timedelta(minutes={"check_in": 0, "accept": wait, "start": 1}.get(step, handle))
        service.record_event(booking, step, previous, STATUS_AFTER[step],
                       None if step == "no_show" else clerk.id, NOTES.get(step, "演示数据"))
        booking.events[-1].at = at
        _stamp(booking, step, at, clerk)
        previous = STATUS_AFTER[step]
    if status in OPEN_STATUSES:
        if not service._hold_for(phone):
            raise RuntimeError("demo: a walk-in's phone holds too many open bookings")
    db.session.flush()
    return booking


def _stamp(booking: Booking, step: str, at: datetime, clerk) -> None:
    if step == "check_in":
        booking.checked_in_at = at
    elif step == "accept":
        booking.accepted_at, booking.responsible_id = at, clerk.id
    elif step == "forward":
        booking.forwarded_at = at
    elif step in ("complete", "reject", "return"):
        booking.finished_at = at
        if step == "return":
            booking.returned_at = at
