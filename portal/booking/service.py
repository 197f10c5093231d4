"""Booking, cancelling and moving, with the guarantees the portal promises.

- No slot is overbooked: a place is taken by one conditional UPDATE of its `SlotUsage` row.
- A double-submitted confirm makes one booking: the form's idempotency key is unique.
- One person (phone number) holds at most MAX_OPEN_BOOKINGS open bookings (a counter row,
  same technique) and at most one per item (a partial unique index).
Every change is a `BookingEvent` and a message to the resident, in the same transaction.
"""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError

from portal.booking.models import (MATERIAL_FORM_LABELS, OPEN_STATUSES, POOL_OF_CHANNEL,
                                   Booking, BookingEvent, MaterialCheck, OpenBookingCount, ServiceItem, SlotUsage)
from portal.booking.slots import (BOOKING_HORIZON_DAYS, MIN_LEAD, Slot, bookable_days,
                                  day_slots)
from portal.database import insert_ignore, write_transaction
from portal.extensions import db
from portal.notifications import When, notify
from portal.places.hours import cached_week
from portal.places.models import Station, new_version
from portal import calendars, deliveries, refs
from portal.refused import Refused
from portal.timeutil import utcnow
from portal.transitions import advance


class BookingRefused(Refused):
    """A booking rule said no (a slot full, the window closed …)."""


def by_ref(raw: str | None, *options) -> Booking | None:
    """The booking with the code a person typed, scanned or followed a link with."""
    return db.session.scalar(select(Booking).options(*options)
                             .where(Booking.ref == refs.normalise(raw)))


def taken(station_id: int, pool: str, first: date, last: date) -> dict[date, dict[time, int]]:
    """Places taken per day and slot start, for one station and pool, in one query."""
    rows = db.session.execute(select(SlotUsage.day, SlotUsage.starts, SlotUsage.taken).where(
        SlotUsage.station_id == station_id, SlotUsage.pool == pool,
        SlotUsage.day >= first, SlotUsage.day <= last))
    result: dict[date, dict[time, int]] = defaultdict(dict)
    for day, starts, count in rows:
        result[day][starts] = count
    return result


_WINDOWS: dict[tuple[int, str], tuple[tuple, dict[date, list[Slot]]]] = {}


def _window(station: Station, pool: str, today: date) -> dict[date, tuple[list[Slot], int]]:
    """Every slot of the bookable days from `today` with the places taken, and each day's
    places left.

    Kept per worker until something it is made of moves: the station's usage version (any
    booking, cancellation or move there), its hours version, slot length, capacity or state.
    The station row is read anyway, so a page that finds the window current costs no query.
    """
    version = (today, station.usage_version, station.hours_version, station.active,
               station.slot_minutes, station.capacity(pool))
    cached = _WINDOWS.get((station.id, pool))
    if cached is None or cached[0] != version:
        days = bookable_days(today)
        usage = taken(station.id, pool, days[0], days[-1])
        week = cached_week(station)
        window = {}
        for d in days:
            slots = day_slots(station, d, pool, usage.get(d, {}), None, week)
            window[d] = (slots, sum(s.left for s in slots))
        cached = _WINDOWS[(station.id, pool)] = (version, window)
    return cached[1]


def availability(station: Station, pool: str, now: datetime,
                 days: list[date] | None = None,
                 lead: timedelta = MIN_LEAD) -> list[tuple[date, list[Slot]]]:
    """Each bookable day (or each of `days`) with its slots from `now + lead` on.

    An empty list: closed that day, or the day is outside the booking window.
    """
    earliest = now + lead
    window = _window(station, pool, now.date())
    result = []
    for day in days or list(window):
        slots = window.get(day, ([], 0))[0]
        result.append((day, _not_before(earliest, day, slots)))
    return result


def days_left(station: Station, pool: str, now: datetime) -> list[tuple[date, bool, int]]:
    """Each bookable day: whether it has slots from `now + MIN_LEAD` on, and places left."""
    earliest = now + MIN_LEAD
    result = []
    for day, (slots, left) in _window(station, pool, now.date()).items():
        if day <= earliest.date():
            slots = _not_before(earliest, day, slots)
            left = sum(s.left for s in slots)
        result.append((day, bool(slots), left))
    return result


def _not_before(earliest: datetime, day: date, slots: list[Slot]) -> list[Slot]:
    """The day's slots that start at `earliest` or later (all of them on a later day)."""
    if day > earliest.date():
        return slots
    return [s for s in slots if datetime.combine(day, s.starts) >= earliest]


def first_free(station: Station, pool: str, now: datetime) -> tuple[date, Slot] | None:
    for day, slots in availability(station, pool, now):
        for slot in slots:
            if slot.left:
                return day, slot
    return None


def distance_km(a: Station, b: Station) -> float:
    """Great-circle distance; stations without coordinates sort last."""
    if None in (a.latitude, a.longitude, b.latitude, b.longitude):
        return math.inf
    la1, lo1, la2, lo2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 6371 * 2 * math.asin(math.sqrt(h))


def stations_by_nearness(stations: list[Station], home: Station | None) -> list[Station]:
    """The home station first, then the others by distance from it (else in list order)."""
    if home is None:
        return list(stations)
    return sorted(stations, key=lambda s: (s.id != home.id, distance_km(home, s), s.position))


# Lock order, so two transactions never wait on each other in a circle (PostgreSQL would
# abort one): the booking row, then the phone's counter, then slot rows in (station, day,
# start) order, each followed by its station row (the usage version).

def _used(station_id: int) -> None:
    """The places taken at a station changed in this transaction: workers' windows are stale."""
    db.session.execute(update(Station).where(Station.id == station_id)
                       .values(usage_version=new_version()))


def _take_place(station: Station, day: date, starts: time, pool: str) -> bool:
    take = update(SlotUsage).where(
        SlotUsage.station_id == station.id, SlotUsage.day == day, SlotUsage.starts == starts,
        SlotUsage.pool == pool, SlotUsage.taken < station.capacity(pool),
    ).values(taken=SlotUsage.taken + 1)
    if db.session.execute(take).rowcount != 1:  # full, or nobody has booked this slot yet
        insert_ignore(SlotUsage, station_id=station.id, day=day, starts=starts, pool=pool,
                       taken=0)
        if db.session.execute(take).rowcount != 1:
            return False
    _used(station.id)
    return True


def _release_place(station_id: int, day: date, starts: time, pool: str) -> None:
    result = db.session.execute(update(SlotUsage).where(
        SlotUsage.station_id == station_id, SlotUsage.day == day, SlotUsage.starts == starts,
        SlotUsage.pool == pool, SlotUsage.taken > 0).values(taken=SlotUsage.taken - 1))
    if result.rowcount:
        _used(station_id)


def _hold_for(phone: str) -> bool:
    hold = update(OpenBookingCount).where(
        OpenBookingCount.phone == phone,
        OpenBookingCount.open_count < current_app.config["MAX_OPEN_BOOKINGS"],
    ).values(open_count=OpenBookingCount.open_count + 1)
    if db.session.execute(hold).rowcount == 1:
        return True
    insert_ignore(OpenBookingCount, phone=phone, open_count=0)  # a first booking
    return db.session.execute(hold).rowcount == 1


def release_hold(phone: str) -> None:
    """A booking left the open states (cancelled, completed, no-show …)."""
    db.session.execute(update(OpenBookingCount).where(
        OpenBookingCount.phone == phone, OpenBookingCount.open_count > 0,
    ).values(open_count=OpenBookingCount.open_count - 1))


def _check_slot(station: Station, day: date, starts: time, pool: str, now: datetime,
                lead: timedelta = MIN_LEAD) -> time:
    """The slot's end time, or BookingRefused when the station does not offer it."""
    if not station.active:
        raise BookingRefused("station_closed", _l("这个服务站暂停预约，请选择其他服务站。"))
    if day > bookable_days(now.date())[-1]:  # past days and times: the check below
        raise BookingRefused("out_of_window", _l(
            "只能预约今天起%(n)d天内的时段，请重新选择。", n=BOOKING_HORIZON_DAYS))
    for slot in day_slots(station, day, pool, {}, now, cached_week(station), lead):
        if slot.starts == starts:
            return slot.ends
    raise BookingRefused("no_such_slot", _l("这个时段不能预约（已过去、不在开放时间或当天休息），请重新选择。"))


def _existing(key: str | None) -> Booking | None:
    return db.session.scalar(select(Booking).where(Booking.idempotency_key == key)) if key else None


def book(*, item: ServiceItem, station: Station, day: date, starts: time, channel: str,
         name: str, phone: str, user_id: int | None, idempotency_key: str | None,
         now: datetime, actor_id: int | None = None, lead: timedelta = MIN_LEAD) -> Booking:
    """Book a place, or raise BookingRefused. Returns the earlier booking for a repeated key.

    `lead`: how far ahead of `now` the slot must start (the desk books walk-ins into the
    slot under way with a negative lead).
    """
    if not item.active:
        raise BookingRefused("item_inactive", _l("这个事项暂不接受预约。"))
    pool = POOL_OF_CHANNEL[channel]
    ends = _check_slot(station, day, starts, pool, now, lead)
    try:
        with write_transaction():
            if (earlier := _existing(idempotency_key)) is not None:
                return earlier
            if db.session.scalar(select(Booking.id).where(
                    Booking.phone == phone, Booking.item_id == item.id,
                    Booking.status.in_(OPEN_STATUSES))):
                raise BookingRefused("same_item", _l("您已经预约了这个事项，可以在“我的”里查看或改期。"))
            if not _hold_for(phone):
                raise BookingRefused("too_many", _l(
                    "每人最多同时保留%(n)d个未办结的预约。请先办结或取消一个。",
                    n=current_app.config["MAX_OPEN_BOOKINGS"]))
            if not _take_place(station, day, starts, pool):
                raise BookingRefused("full", _l("这个时段刚刚约满了，请选择其他时段。"))
            booking = Booking(ref=refs.new_code(), item=item, station=station, day=day, starts=starts,
                              ends=ends, channel=channel, name=name, phone=phone,
                              user_id=user_id, idempotency_key=idempotency_key)
            db.session.add(booking)
            record_event(booking, "book", None, "booked", actor_id, channel)
            tell(booking, "booked", _l("您已预约 %(when)s 在%(station)s办理“%(item)s”，预约编号 "
                                       "%(ref)s。请按办事指南带齐材料。", when=_when(booking),
                                       station=station.name, item=item.name, ref=booking.ref))
            db.session.commit()
            return booking
    except IntegrityError:
        # A twin of this request (same key) or of this person (same item) won the race.
        if (earlier := _existing(idempotency_key)) is not None:
            return earlier
        raise BookingRefused("same_item", _l("您已经预约了这个事项，可以在“我的”里查看或改期。")) from None


def cutoff_passed(booking: Booking, now: datetime) -> bool:
    minutes = current_app.config["BOOKING_CUTOFF_MINUTES"]
    return datetime.combine(booking.day, booking.starts) - timedelta(minutes=minutes) < now


def slot_begun(booking: Booking, now: datetime) -> bool:
    return datetime.combine(booking.day, booking.starts) <= now


def _check_changeable(booking: Booking, now: datetime, *, at_desk: bool = False) -> None:
    if booking.status != "booked":
        raise BookingRefused("not_changeable", _l("这个预约已经在办理或已结束，不能再取消或改期。"))
    if at_desk:  # the station was called: until the slot begins
        if slot_begun(booking, now):
            raise BookingRefused("started", _l("预约时间已到，不能再取消；时段过后可以标记未到场。"))
        return
    if cutoff_passed(booking, now):
        raise BookingRefused("cutoff", _l(
            "距预约时间已不足%(h)d小时，不能在网上取消或改期，请致电服务站。",
            h=current_app.config["BOOKING_CUTOFF_MINUTES"] // 60))


def cancel(booking: Booking, *, now: datetime, actor_id: int | None, note: str = "",
           at_desk: bool = False) -> None:
    """Cancel a booked appointment before the cut-off; its place becomes free at once.

    `at_desk`: the station's clerk cancels for a resident who called, up to the slot itself.
    """
    _check_changeable(booking, now, at_desk=at_desk)
    with write_transaction():
        advance(booking, Booking.status == "booked", status="cancelled",  # or another tab won
                refused=BookingRefused("not_changeable", _l("这个预约已经取消或在办理中。")))
        release_hold(booking.phone)
        _release_place(booking.station_id, booking.day, booking.starts, booking.pool)
        record_event(booking, "cancel", "booked", "cancelled", actor_id, note)
        tell(booking, "cancelled", _l("您在%(station)s%(when)s办理“%(item)s”的预约（%(ref)s）已取消。",
                                      station=booking.station.name, when=_when(booking),
                                      item=booking.item.name, ref=booking.ref))
        db.session.commit()


def move(booking: Booking, *, station: Station, day: date, starts: time, now: datetime,
         actor_id: int | None) -> None:
    """Move a booking to another slot (any station); the reference code stays the same."""
    _check_changeable(booking, now)
    if (station.id, day, starts) == (booking.station_id, booking.day, booking.starts):
        raise BookingRefused("same_slot", _l("这就是您现在的预约时间。"))
    ends = _check_slot(station, day, starts, booking.pool, now)
    old = f"{booking.station.name} {booking.day:%m-%d} {booking.starts:%H:%M}"
    with write_transaction():
        was = (booking.station_id, booking.day, booking.starts)
        # Conditional on the slot it had: a move or cancel in another tab wins, not both.
        advance(booking, Booking.status == "booked", Booking.station_id == was[0],
                Booking.day == was[1], Booking.starts == was[2],
                station_id=station.id, day=day, starts=starts, ends=ends, reminded_at=None,
                refused=BookingRefused("not_changeable",
                                       _l("这个预约刚刚被取消、改期或开始办理，请刷新后再看。")))

        def take() -> None:
            if not _take_place(station, day, starts, booking.pool):
                raise BookingRefused("full", _l("这个时段刚刚约满了，请选择其他时段。"))

        def release() -> None:
            _release_place(*was, booking.pool)

        for step in ((release, take) if was < (station.id, day, starts) else (take, release)):
            step()
        record_event(booking, "move", "booked", "booked", actor_id,
                     f"{old} → {station.name} {booking.day:%m-%d} {booking.starts:%H:%M}")
        tell(booking, "moved", _l("您的预约（%(ref)s）已改到 %(when)s，%(station)s。",
                                  ref=booking.ref, when=_when(booking), station=station.name))
        db.session.commit()


def _when(booking: Booking) -> When:
    return When(booking.day, booking.starts)


def record_event(booking: Booking, action: str, from_status, to_status, actor_id,
                 note="") -> None:
    """A step on the booking's timeline (the desk's and the ratings' steps too)."""
    booking.events.append(BookingEvent(action=action, from_status=from_status,
                                       to_status=to_status, actor_id=actor_id, note=note or ""))


def tell(booking: Booking, kind: str, body) -> None:
    """A message to the booking's person (by account and phone), in this transaction."""
    db.session.flush()
    notify(phone=booking.phone, user_id=booking.user_id, kind=kind, body=body,
           booking_id=booking.id, code=booking.ref, station=booking.station.name,
           when=_when(booking), day=booking.day)


def of_user(user_id: int) -> tuple[list[Booking], list[Booking], list]:
    """A resident's open bookings (soonest first), earlier ones, and home-visit requests."""
    from portal.booking.models import HomeVisitRequest
    bookings = db.session.scalars(select(Booking).where(Booking.user_id == user_id)
                                  .order_by(Booking.day.desc(), Booking.starts.desc())).all()
    visits = db.session.scalars(select(HomeVisitRequest).where(
        HomeVisitRequest.user_id == user_id).order_by(HomeVisitRequest.id.desc())).all()
    current = sorted((b for b in bookings if b.is_open), key=lambda b: (b.day, b.starts))
    return current, [b for b in bookings if not b.is_open], visits


def send_reminders(day: date) -> int:
    """Remind everyone booked on `day` (run the day before); each booking is reminded once."""
    count = 0
    for booking in db.session.scalars(select(Booking).where(and_(
            Booking.day == day, Booking.status == "booked", Booking.reminded_at.is_(None)))):
        tell(booking, "reminder", _l("提醒：明天 %(at)s 请到%(station)s（%(address)s）办理“%(item)s”，"
                                     "预约编号 %(ref)s。", at=f"{booking.starts:%H:%M}",
                                     station=booking.station.name,
                                     address=booking.station.address, item=booking.item.name,
                                     ref=booking.ref))
        booking.reminded_at = utcnow()
        count += 1
    db.session.commit()
    return count


# -- what was brought ------------------------------------------------------------------------

def material_checks(booking: Booking) -> dict[int, str]:
    """Material id → what was found (brought, missing, not needed), for those checked."""
    rows = db.session.execute(select(MaterialCheck.material_id, MaterialCheck.state)
                              .where(MaterialCheck.booking_id == booking.id))
    return dict(rows.all())


def missing_materials(booking: Booking) -> list:
    """The item's materials neither brought nor marked as not needed (unchecked = missing)."""
    checks = material_checks(booking)
    return [m for m in booking.item.materials
            if checks.get(m.id, "missing") == "missing"]


def calendar_file(booking: Booking, status_url: str) -> bytes:
    """The booking as a calendar event (.ics): where and when, what to bring, the code."""
    item, station = booking.item, booking.station
    bring = "\n".join(
        f"- {m.name}（{MATERIAL_FORM_LABELS.get(m.form, m.form)}"
        f"{f' × {m.copies}' if m.copies > 1 else ''}）" for m in item.materials)
    description = "\n".join([
        _("预约编号：%(ref)s", ref=booking.ref), _("办理事项：%(item)s", item=item.name),
        _("请带上这些材料："), bring, _("服务站电话：%(phone)s", phone=station.phone or "—"),
        _("查询、改期或取消：%(url)s", url=status_url)])
    return calendars.event_file(
        uid=f"booking-{booking.ref}@tongban", summary=_("办事预约：%(item)s", item=item.name),
        starts=datetime.combine(booking.day, booking.starts),
        ends=datetime.combine(booking.day, booking.ends),
        location=f"{station.name}，{station.address}" if station.address else station.name,
        description=description, url=status_url)


def _calendar_attachment(message):
    """The e-mail of a new or moved booking carries its calendar file."""
    booking = db.session.get(Booking, message.booking_id) if message.booking_id else None
    if booking is None or booking.status != "booked":
        return None
    url = f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/bookings/{booking.ref}"
    return (f"tongban-{booking.ref}.ics", "text", "calendar", calendar_file(booking, url))


deliveries.attach(("booked", "moved"), _calendar_attachment)
