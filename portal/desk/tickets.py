"""The station hall (取号/叫号): taking a ticket, who is called next, calling, and the wait.

Who is called next. A station has one line for the day; every window calls from it. Each
waiting ticket has a place in line (`order_at`), fixed when it is taken:

- a walk-in: the moment the ticket was taken;
- a booked resident who came on time (by the slot's start + ON_TIME): the slot's start
  − ON_TIME, so they go before walk-ins who came after that moment and after those who were
  already waiting; one who came early waits for that moment unless the line is empty;
- a booked resident who came later than that: like a walk-in, the moment they came;
- a priority ticket (绿色通道: the elderly, disabled and pregnant): the same − PRIORITY_LEAD,
  i.e. ahead of everyone who came up to half an hour before them;
- a skipped ticket (过号) whose person came back: the moment they came back (− PRIORITY_LEAD
  for a priority ticket).

叫号 calls the waiting ticket with the earliest place in line (ties: the lower id). No one
is starved: a later ticket's place is at most PRIORITY_LEAD + 2 × ON_TIME before the moment
it was taken, so a ticket can only be passed by tickets taken before its own place +
PRIORITY_LEAD + 2 × ON_TIME — a finite number — and is called after them.

Every step is one conditional UPDATE from the state it comes from: two clerks pressing 叫号
at the same instant call two different people; each step is an event on the booking's
timeline and an audit entry, in the same transaction.
"""
from __future__ import annotations

import time as clock
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from portal import audit, refs
from portal.booking import service
from portal.booking.models import Booking
from portal.database import insert_ignore, raw_read, write_transaction
from portal.desk.models import PREFIXES, Ticket, TicketCounter
from portal.desk.queue import changed
from portal.desk.stats import CALL_EVENTS, called_at, served_from
from portal.extensions import db
from portal.places.models import Station
from portal.refused import Refused
from portal.timeutil import to_utc, utcnow
from portal.transitions import advance

ON_TIME = timedelta(minutes=10)  # a booked resident is on time until the slot's start + this
PRIORITY_LEAD = timedelta(minutes=30)  # how far ahead of the others a priority ticket goes
# Handling minutes assumed for an item the station has not handled in the last weeks.
DEFAULT_HANDLING_MINUTES = 10.0
HANDLING_DAYS = 28  # the recent handling times an estimate is made from


class TicketRefused(Refused):
    """A hall rule said no; the message is shown to the clerk or at the kiosk."""


# -- the line ------------------------------------------------------------------------------------

def place_in_line(*, taken_at: datetime, slot_start: datetime | None,
                  priority: bool) -> datetime:
    """A ticket's place in line (module docstring). Naive UTC moments; `slot_start` None for
    a walk-in or a person coming back after being skipped."""
    at = taken_at
    if slot_start is not None and taken_at <= slot_start + ON_TIME:
        at = slot_start - ON_TIME
    return at - PRIORITY_LEAD if priority else at


def _next_number(station_id: int, day: date, prefix: str) -> int:
    """The next number of the day at a station: one conditional UPDATE of its counter row."""
    insert_ignore(TicketCounter, station_id=station_id, day=day, prefix=prefix, last=0)
    return db.session.execute(
        update(TicketCounter).where(TicketCounter.station_id == station_id,
                                    TicketCounter.day == day, TicketCounter.prefix == prefix)
        .values(last=TicketCounter.last + 1).returning(TicketCounter.last)).scalar_one()


def issue(booking: Booking, *, priority: bool, actor_id: int | None,
          now: datetime | None = None) -> Ticket:
    """Give a booking just checked in its ticket, in the caller's transaction."""
    now = now or utcnow()
    walk_in = booking.channel == "walkin"
    prefix = PREFIXES["priority" if priority else "walkin" if walk_in else "booked"]
    slot = None if walk_in else to_utc(datetime.combine(booking.day, booking.starts))
    ticket = Ticket(code=refs.new_code(), booking=booking, station_id=booking.station_id,
                    day=booking.day, prefix=prefix,
                    number=_next_number(booking.station_id, booking.day, prefix),
                    priority=priority, taken_at=now,
                    order_at=place_in_line(taken_at=now, slot_start=slot, priority=priority))
    db.session.add(ticket)
    service.record_event(booking, "ticket", booking.status, booking.status, actor_id,
                         ticket.label)
    changed(booking.station_id)
    return ticket


def waiting(station_id: int, day: date, limit: int | None = None) -> list[Ticket]:
    """The station's waiting tickets of the day, in calling order."""
    return db.session.scalars(select(Ticket).where(
        Ticket.station_id == station_id, Ticket.day == day, Ticket.status == "waiting")
        .order_by(Ticket.order_at, Ticket.id).limit(limit)).all()


def ahead_of(ticket: Ticket) -> int:
    """How many waiting tickets will be called before this one (0 when it is not waiting)."""
    if ticket.status != "waiting":
        return 0
    return db.session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.station_id == ticket.station_id, Ticket.day == ticket.day,
        Ticket.status == "waiting",
        (Ticket.order_at < ticket.order_at)
        | ((Ticket.order_at == ticket.order_at) & (Ticket.id < ticket.id))))


def by_code(raw: str | None) -> Ticket | None:
    return db.session.scalar(select(Ticket).options(joinedload(Ticket.booking))
                             .where(Ticket.code == refs.normalise(raw)))


def of_booking(booking_id: int) -> Ticket | None:
    return db.session.scalar(select(Ticket).where(Ticket.booking_id == booking_id))


# -- calling -------------------------------------------------------------------------------------

def check_window(station: Station, window) -> int:
    """The window number a clerk gave, if the station has it (a forged one is refused)."""
    if not isinstance(window, int) or isinstance(window, bool) or \
            not 1 <= window <= station.windows:
        raise TicketRefused("window", _l("请选择本站的窗口号（1–%(n)d）。", n=station.windows))
    return window


def at_window(station_id: int, day: date, window: int) -> Ticket | None:
    """The ticket being called to this window now, if any."""
    return db.session.scalar(select(Ticket).where(
        Ticket.station_id == station_id, Ticket.day == day, Ticket.status == "called",
        Ticket.window == window).order_by(Ticket.called_at.desc()).limit(1))


def _record(ticket: Ticket, action: str, actor) -> None:
    """The step on the booking's timeline (its note the number and the window, in no
    language: "B007 → 2"), the audit entry, and the station's queue moved on."""
    booking = ticket.booking
    note = f"{ticket.label} → {ticket.window}" if action in CALL_EVENTS else ticket.label
    service.record_event(booking, action, booking.status, booking.status,
                         actor.id if actor else None, note)
    audit.record(f"ticket.{action}", ticket, ticket=ticket.label, window=ticket.window)
    changed(ticket.station_id)


def call_next(station: Station, window, actor, day: date, now: datetime | None = None) -> Ticket:
    """叫号: call the first ticket in line to `window`. Refused while this window is still
    calling someone (受理, 过号 or 转窗 first: nobody is lost) and when nobody waits."""
    window = check_window(station, window)
    now = now or utcnow()
    with write_transaction():
        if (current := at_window(station.id, day, window)) is not None:
            raise TicketRefused("busy", _l(
                "%(window)d号窗口正在呼叫%(ticket)s：请先受理、过号或转窗。",
                window=window, ticket=current.label))
        for ticket in waiting(station.id, day, limit=20):
            # Conditional on still waiting: of two windows calling at once, each gets its own.
            if db.session.execute(update(Ticket).where(
                    Ticket.id == ticket.id, Ticket.status == "waiting").values(
                    status="called", window=window, called_at=now,
                    calls=Ticket.calls + 1)).rowcount:
                db.session.refresh(ticket)
                _record(ticket, "call", actor)
                db.session.commit()
                return ticket
        raise TicketRefused("nobody", _l("现在没有人在等候。"))


def _at_my_window(ticket: Ticket, station: Station, window) -> int:
    window = check_window(station, window)
    if ticket.station_id != station.id:
        raise TicketRefused("other_station", _l("这张号不是本站的。"))
    if ticket.status != "called" or ticket.window != window:
        raise TicketRefused("not_called", _l("%(ticket)s 现在没有在%(window)d号窗口呼叫，请刷新后再看。",
                                             ticket=ticket.label, window=window))
    return window


def recall(ticket: Ticket, station: Station, window, actor, now: datetime | None = None) -> None:
    """重呼: call the same number to the same window again."""
    window = _at_my_window(ticket, station, window)
    with write_transaction():
        advance(ticket, Ticket.status == "called", Ticket.window == window, refused=_stale(ticket),
                called_at=now or utcnow(), calls=Ticket.calls + 1)
        _record(ticket, "recall", actor)
        db.session.commit()


def skip(ticket: Ticket, station: Station, window, actor) -> None:
    """过号: nobody answered; the person can come back and be put in line again."""
    window = _at_my_window(ticket, station, window)
    with write_transaction():
        advance(ticket, Ticket.status == "called", Ticket.window == window, refused=_stale(ticket),
                status="skipped")
        _record(ticket, "skip", actor)
        db.session.commit()


def transfer(ticket: Ticket, station: Station, window, to_window, actor,
             now: datetime | None = None) -> None:
    """转窗: hand the person to another window of the station (called there at once)."""
    window = _at_my_window(ticket, station, window)
    to_window = check_window(station, to_window)
    if to_window == window:
        raise TicketRefused("same_window", _l("请选择另一个窗口。"))
    with write_transaction():
        advance(ticket, Ticket.status == "called", Ticket.window == window, refused=_stale(ticket),
                window=to_window, called_at=now or utcnow(), calls=Ticket.calls + 1)
        _record(ticket, "transfer", actor)
        db.session.commit()


def requeue(ticket: Ticket, actor, day: date, now: datetime | None = None) -> None:
    """The skipped person came back (at the kiosk or the window): in line again, from now."""
    if ticket.day != day:
        raise TicketRefused("old", _l("这是以前的号，请重新取号。"))
    if ticket.status != "skipped":
        raise TicketRefused("not_skipped", _l("这张号没有过号，不用重新排队。"))
    now = now or utcnow()
    with write_transaction():  # (its last call, window and time, stays on the screens' list)
        advance(ticket, Ticket.status == "skipped", refused=_stale(ticket), status="waiting",
                order_at=place_in_line(taken_at=now, slot_start=None, priority=ticket.priority))
        _record(ticket, "requeue", actor)
        db.session.commit()


def served(booking: Booking) -> None:
    """The clerk accepted the case: its ticket is done (in the caller's transaction)."""
    db.session.execute(update(Ticket).where(
        Ticket.booking_id == booking.id, Ticket.status.in_(("waiting", "called", "skipped")))
        .values(status="served"))


def _stale(ticket: Ticket) -> TicketRefused:
    return TicketRefused("conflict", _l("%(ticket)s 刚刚被其他窗口处理过，请刷新后再看。",
                                        ticket=ticket.label))


# -- the screens ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    label: str
    window: int
    at: datetime


def recent_calls(station_id: int, day: date, limit: int = 8) -> list[Call]:
    """The latest calls of the day at a station (numbers and windows only: no names)."""
    rows = db.session.execute(select(Ticket.prefix, Ticket.number, Ticket.window,
                                     Ticket.called_at).where(
        Ticket.station_id == station_id, Ticket.day == day, Ticket.called_at.is_not(None),
        Ticket.window.is_not(None)).order_by(Ticket.called_at.desc(), Ticket.id.desc())
        .limit(limit))
    return [Call(f"{p}{n:03d}", w, at) for p, n, w, at in rows]


def screen_state(station_id: int, day: date) -> str | None:
    """A token for what a station's calling screen shows — the day's latest call (a call, a
    call again, a hand-over to another window) and how many wait — which changes exactly
    when the screen would. One small read on a pooled connection, no session: every screen
    asks every second. None: no such station."""
    rows = raw_read(
        "SELECT s.id, max(t.called_at), sum(CASE WHEN t.status = 'waiting' THEN 1 ELSE 0 END) "
        f"FROM stations s LEFT JOIN tickets t ON t.station_id = s.id AND t.day = '{day:%Y-%m-%d}' "
        f"WHERE s.id = {int(station_id)} GROUP BY s.id")
    if not rows:
        return None
    _id, latest, waiting = rows[0]
    return hashlib.blake2s(f"{day}|{latest}|{waiting or 0}".encode(), digest_size=8).hexdigest()


def waiting_count(station_id: int, day: date) -> int:
    return db.session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.station_id == station_id, Ticket.day == day, Ticket.status == "waiting"))


# -- estimated waiting -----------------------------------------------------------------------------

def estimate_minutes(ahead: list[float], in_hand: list[float], windows: int) -> int:
    """Minutes until a ticket is called: the handling minutes still to come of everyone in
    hand and of everyone ahead in line, shared among the windows calling (rounded up)."""
    work = sum(ahead) + sum(in_hand)
    return int(-(-work // max(windows, 1)))


HANDLING_KEPT_SECONDS = 600  # a worker recomputes a station's handling times this often


def handling_minutes(station_id: int, today: date) -> tuple[dict[int, float], float]:
    """The station's median handling minutes per item over the last HANDLING_DAYS days, and
    over every item (what an item seldom handled there is assumed to take).

    Handling runs from the call that brought the person to the window (or the acceptance,
    for a case never called) until the case left the desk. Kept per worker for ten minutes:
    the last weeks' medians hardly move in that time.
    """
    kept_here = current_app.extensions.setdefault("tongban.handling", {})
    kept = kept_here.get((station_id, today))
    if kept is not None and clock.monotonic() - kept[0] < HANDLING_KEPT_SECONDS:
        return kept[1]
    since = today - timedelta(days=HANDLING_DAYS)
    rows = db.session.execute(
        select(Booking.item_id, called_at(), Booking.accepted_at,
               func.coalesce(Booking.forwarded_at, Booking.finished_at).label("left"))
        .where(Booking.station_id == station_id, Booking.day >= since, Booking.day <= today,
               Booking.accepted_at.is_not(None),
               func.coalesce(Booking.forwarded_at, Booking.finished_at).is_not(None)))
    per_item: dict[int, list[float]] = defaultdict(list)
    for row in rows:
        began = served_from(row, row.called_at)
        per_item[row.item_id].append(max(0.0, (row.left - began).total_seconds() / 60))
    everything = [m for minutes in per_item.values() for m in minutes]
    result = ({item: median(m) for item, m in per_item.items()},
              median(everything) if everything else DEFAULT_HANDLING_MINUTES)
    kept_here[(station_id, today)] = (clock.monotonic(), result)  # one dict entry: atomic
    return result


@dataclass(frozen=True)
class Outlook:
    """What a waiting person is told: how many are ahead and about how long it takes."""
    ahead: int
    minutes: int


def outlook(ticket: Ticket, station: Station, now: datetime | None = None) -> Outlook:
    """The people ahead of `ticket` and its estimated wait (`now`: naive UTC)."""
    if ticket.status != "waiting":
        return Outlook(0, 0)
    return _outlooks([station], ticket.day, now or utcnow(), before=ticket.id)[station.id]


def newcomer_outlooks(stations: list[Station], day: date,
                      now: datetime | None = None) -> dict[int, Outlook]:
    """What someone taking a ticket now would be told at each station (the dashboard's
    "right now"), in three queries for all of them."""
    return _outlooks(stations, day, now or utcnow())


def _outlooks(stations: list[Station], day: date, now: datetime,
              before: int | None = None) -> dict[int, Outlook]:
    """Per station: the waiting tickets ahead (up to ticket `before`, else all of them), and
    the minutes until the next is called — the handling minutes still to come of each case
    at a window and of each ticket ahead, from the station's own recent handling times per
    item, shared among the windows that called in the last hour."""
    ids = [s.id for s in stations]
    lines: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for station_id, ticket_id, item_id in db.session.execute(
            select(Ticket.station_id, Ticket.id, Booking.item_id).join(Booking).where(
                Ticket.station_id.in_(ids), Ticket.day == day, Ticket.status == "waiting")
            .order_by(Ticket.order_at, Ticket.id)):
        lines[station_id].append((ticket_id, item_id))
    at_windows: dict[int, list[tuple[int, datetime | None]]] = defaultdict(list)
    for station_id, item_id, began in db.session.execute(
            select(Ticket.station_id, Booking.item_id,
                   func.coalesce(Ticket.called_at, Booking.accepted_at))
            .join(Ticket, Ticket.booking_id == Booking.id)
            .where(Ticket.station_id.in_(ids), Ticket.day == day,
                   Ticket.status.in_(("called", "served")),
                   Booking.status.in_(("checked_in", "accepted", "in_progress")))):
        at_windows[station_id].append((item_id, began))
    calling = dict(db.session.execute(
        select(Ticket.station_id, func.count(func.distinct(Ticket.window))).where(
            Ticket.station_id.in_(ids), Ticket.day == day,
            Ticket.called_at >= now - timedelta(hours=1)).group_by(Ticket.station_id)).all())
    result = {}
    for station in stations:
        medians, default = handling_minutes(station.id, day)
        ahead = []
        for ticket_id, item_id in lines[station.id]:
            if ticket_id == before:
                break
            ahead.append(medians.get(item_id, default))
        left = [max(0.0, medians.get(item_id, default)
                    - ((now - began).total_seconds() / 60 if began else 0.0))
                for item_id, began in at_windows[station.id]]
        windows = min(max(calling.get(station.id, 1), 1), station.windows)
        result[station.id] = Outlook(len(ahead), estimate_minutes(ahead, left, windows))
    return result
