"""Demo bookings in every state, so the desk and the status pages have something to show."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update

from portal.accounts.models import User
from portal.booking import service
from portal.booking.models import OPEN_STATUSES, Booking, OpenBookingCount, ServiceItem, SlotUsage
from portal.booking.slots import slot_times
from portal.extensions import db
from portal.places.hours import periods_on
from portal.timeutil import local_now

# How a finished or in-hand booking got where it is (the desk work records these steps).
PATHS = {
    "checked_in": ["checked_in"],
    "accepted": ["checked_in", "accepted"],
    "in_progress": ["checked_in", "accepted", "in_progress"],
    "forwarded": ["checked_in", "accepted", "in_progress", "forwarded"],
    "completed": ["checked_in", "accepted", "in_progress", "completed"],
    "returned": ["checked_in", "accepted", "returned"],
    "rejected": ["checked_in", "accepted", "rejected"],
    "no_show": ["no_show"],
}
WALK_INS = [("赵大爷", "13700000011"), ("钱阿姨", "13700000012"), ("孙师傅", "13700000013"),
            ("李大姐", "13700000014"), ("周先生", "13700000015"), ("吴女士", "13700000016"),
            ("郑大叔", "13700000017"), ("王奶奶", "13700000018")]


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
        _walk_in(first, items[10 + n], name, phone, status,
                 _a_day_with_hours(first, now.date(), back=past))
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(Booking))


def _a_day_with_hours(station, today: date, back: bool) -> date:
    day = today - timedelta(days=1) if back else today
    while not periods_on(station, day):
        day -= timedelta(days=1)
    return day


def _walk_in(station, item, name, phone, status, day) -> None:
    starts, ends = slot_times(periods_on(station, day), station.slot_minutes)[0]
    service._insert_ignore(SlotUsage, station_id=station.id, day=day, starts=starts,
                           pool="walkin", taken=0)
    db.session.execute(update(SlotUsage).where(
        SlotUsage.station_id == station.id, SlotUsage.day == day, SlotUsage.starts == starts,
        SlotUsage.pool == "walkin").values(taken=SlotUsage.taken + 1))
    booking = Booking(ref=service.new_ref(), item=item, station=station, day=day, starts=starts,
                      ends=ends, channel="walkin", name=name, phone=phone, status=status,
                      created_at=datetime.combine(day, starts) - timedelta(hours=8))
    db.session.add(booking)
    service._event(booking, "book", None, "booked", None, "walkin")
    previous = "booked"
    for step in PATHS[status]:
        service._event(booking, step, previous, step, None, "演示数据")
        previous = step
    if status in OPEN_STATUSES:
        service._insert_ignore(OpenBookingCount, phone=phone, open_count=0)
        db.session.execute(update(OpenBookingCount).where(OpenBookingCount.phone == phone)
                           .values(open_count=OpenBookingCount.open_count + 1))
