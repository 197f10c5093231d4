"""What the desk shows: a station's queue today, the town centre's forwarded cases, and the
load at every station. Plain reads; `desk.access` decides who may see which."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from portal.booking.models import Booking
from portal.desk.models import Ticket
from portal.extensions import db
from portal.places.models import Station, new_version
from portal.places.workdays import Calendar, add_working_days
from portal.timeutil import to_local

FINISHED = ("completed", "rejected", "returned", "no_show", "cancelled", "forwarded")
RECENT_DAYS = 30  # returned and forwarded cases stay on the station's desk this long


def changed(station_id: int) -> None:
    """Something the station's queue shows changed (a case's step, a ticket): desks render
    its rows afresh. The station row is the last one a transaction takes (no lock cycles)."""
    db.session.execute(update(Station).where(Station.id == station_id)
                       .values(queue_version=new_version()))


def version(station: Station) -> tuple[str, str]:
    """What the station's queue is made of: its bookings (booked, cancelled and moved ones
    move the usage version) and its cases' and tickets' steps (the queue version)."""
    return station.usage_version, station.queue_version


@dataclass
class Queue:
    expected: list[Booking] = field(default_factory=list)   # booked, not here yet
    waiting: list[Booking] = field(default_factory=list)    # checked in, in calling order
    called: list[Booking] = field(default_factory=list)     # called to a window, not yet there
    skipped: list[Booking] = field(default_factory=list)    # called, no answer (过号)
    serving: list[Booking] = field(default_factory=list)    # accepted or in progress
    finished: list[Booking] = field(default_factory=list)   # today's, whatever the outcome
    returned: list[Booking] = field(default_factory=list)   # waiting for missing materials
    forwarded: list[Booking] = field(default_factory=list)  # sent to the centre, and back
    tickets: dict[int, Ticket] = field(default_factory=dict)  # booking id → today's ticket


def _with_people(query):
    # selectinload, not joinedload: a page shows a few hundred cases of a few dozen items,
    # and a join would repeat each item's long guide texts on every row.
    return query.options(selectinload(Booking.item), selectinload(Booking.responsible),
                         selectinload(Booking.station))


def station_queue(station: Station, today: date, now_utc: datetime) -> Queue:
    """Today's cases at `station` by where they stand, plus its returned and forwarded ones."""
    queue = Queue()
    todays = db.session.scalars(_with_people(select(Booking)).where(
        Booking.station_id == station.id, Booking.day == today)
        .order_by(Booking.starts, Booking.checked_in_at, Booking.id)).all()
    queue.tickets = {t.booking_id: t for t in db.session.scalars(select(Ticket).where(
        Ticket.station_id == station.id, Ticket.day == today))}
    for b in todays:
        if b.status == "booked":
            queue.expected.append(b)
        elif b.status == "checked_in":
            ticket = queue.tickets.get(b.id)
            line = {"skipped": queue.skipped, "called": queue.called}
            line.get(ticket.status if ticket else "", queue.waiting).append(b)
        elif b.status in ("accepted", "in_progress"):
            queue.serving.append(b)
        else:
            queue.finished.append(b)

    def in_line(b: Booking):  # the calling order; a case checked in without a ticket last
        ticket = queue.tickets.get(b.id)
        return (ticket is None, ticket.order_at if ticket else b.checked_in_at or now_utc,
                ticket.id if ticket else b.id)

    queue.waiting.sort(key=in_line)
    since = now_utc - timedelta(days=RECENT_DAYS)
    queue.returned = db.session.scalars(_with_people(select(Booking)).where(
        Booking.station_id == station.id, Booking.status == "returned",
        Booking.returned_at >= since, Booking.day != today)
        .order_by(Booking.returned_at.desc())).all()
    queue.forwarded = db.session.scalars(_with_people(select(Booking)).where(
        Booking.station_id == station.id, Booking.forwarded_at >= since)
        .order_by(Booking.forwarded_at.desc())).all()
    return queue


@dataclass(frozen=True)
class ForwardedCase:
    booking: Booking
    due: date  # the item's time limit, in working days from the day it was forwarded
    overdue: bool


def centre_queue(today: date, cal: Calendar) -> list[ForwardedCase]:
    """Every case forwarded to the town centre and not finished there, oldest first."""
    cases = db.session.scalars(_with_people(select(Booking)).where(Booking.status == "forwarded")
                               .order_by(Booking.forwarded_at)).all()
    result = []
    for b in cases:
        due = add_working_days(to_local(b.forwarded_at or b.created_at).date(), max(b.item.time_limit_days, 1), cal)
        result.append(ForwardedCase(b, due, today > due))
    return result


@dataclass(frozen=True)
class Load:
    station: Station
    expected: int
    waiting: int
    serving: int
    finished: int


def town_load(stations: list[Station], today: date) -> list[Load]:
    """Today's cases per station by where they stand, in one query."""
    counts: dict[tuple[int, str], int] = {
        (sid, status): n for sid, status, n in db.session.execute(
            select(Booking.station_id, Booking.status, func.count()).where(Booking.day == today)
            .group_by(Booking.station_id, Booking.status))}

    def n(station, *statuses):
        return sum(counts.get((station.id, s), 0) for s in statuses)

    return [Load(s, n(s, "booked"), n(s, "checked_in"), n(s, "accepted", "in_progress"),
                 n(s, *FINISHED)) for s in stations]
