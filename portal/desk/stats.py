"""A station's figures by day: items handled, waiting and handling times, the share
completed on the spot, ratings — and the same as a table for CSV and Excel files.

Both come from the booking's timeline. Waiting is from check-in (or the booked time, for
someone who came early) to the call that brought the person to a window (叫号, 重呼 or 转窗:
the last call event), or to the acceptance for a case never called; handling is from that
moment until the case left the desk (completed, rejected, returned or forwarded). "On the
spot" (当场办结) means completed at the station, never forwarded or returned.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from statistics import mean, median

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.booking.models import Booking, BookingEvent
from portal.extensions import db
from portal.ratings.models import BAD_LEVELS, Rating
from portal.timeutil import to_utc

DECIDED = ("completed", "rejected", "returned", "forwarded")
CALL_EVENTS = ("call", "recall", "transfer")  # the timeline's events that call a number


def called_at():
    """The booking's last call to a window, from its timeline, as a column of a query."""
    return (select(func.max(BookingEvent.at))
            .where(BookingEvent.booking_id == Booking.id, BookingEvent.action.in_(CALL_EVENTS))
            .correlate(Booking).scalar_subquery().label("called_at"))


@dataclass
class Figures:
    """One day's figures (or a whole period's, for the totals row)."""

    day: date | None
    booked: int = 0
    accepted: int = 0
    completed: int = 0
    on_the_spot: int = 0
    forwarded: int = 0
    returned: int = 0
    rejected: int = 0
    no_show: int = 0
    waits: list[float] = field(default_factory=list)
    handlings: list[float] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return self.completed + self.forwarded + self.returned + self.rejected

    @property
    def on_the_spot_share(self) -> float | None:
        return self.on_the_spot / self.decided if self.decided else None

    @property
    def wait_median(self) -> float | None:
        return median(self.waits) if self.waits else None

    @property
    def handling_median(self) -> float | None:
        return median(self.handlings) if self.handlings else None

    @property
    def rating_mean(self) -> float | None:
        return mean(self.levels) if self.levels else None

    @property
    def bad_ratings(self) -> int:
        return sum(level in BAD_LEVELS for level in self.levels)

    def add(self, other: Figures) -> None:
        for name in ("booked", "accepted", "completed", "on_the_spot", "forwarded", "returned",
                     "rejected", "no_show"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.waits += other.waits
        self.handlings += other.handlings
        self.levels += other.levels


def _minutes(a: datetime, b: datetime) -> float:
    return max(0.0, (b - a).total_seconds() / 60)


def served_from(b, called: datetime | None) -> datetime:
    """When the person came to the window: the last call, or the acceptance (never called)."""
    return called if called is not None and called <= b.accepted_at else b.accepted_at


def count(figures: Figures, b, level: int | None, called: datetime | None = None) -> None:
    """Add booking `b` (a Booking or a row with its columns), its rating level and its last
    call (`called_at()`)."""
    if b.status != "cancelled":
        figures.booked += 1
    if b.accepted_at is not None:
        figures.accepted += 1
        began = served_from(b, called)
        if b.checked_in_at is not None:
            booked_time = to_utc(datetime.combine(b.day, b.starts))
            came = b.checked_in_at if b.channel == "walkin" else max(b.checked_in_at, booked_time)
            figures.waits.append(_minutes(came, began))
        left = b.forwarded_at or b.finished_at
        if left is not None:
            figures.handlings.append(_minutes(began, left))
    if b.forwarded_at is not None:
        figures.forwarded += 1
    elif b.status in DECIDED:
        setattr(figures, b.status, getattr(figures, b.status) + 1)
    if b.status == "completed" and b.forwarded_at is None and b.returned_at is None:
        figures.on_the_spot += 1
    if b.status == "no_show":
        figures.no_show += 1
    if level is not None:
        figures.levels.append(level)


def figures(station_ids: list[int] | None, first: date, last: date) -> tuple[list[Figures], Figures]:
    """Each day from `first` to `last` that had bookings (by the booked day), and the totals.

    `station_ids` None: every station (town staff's view of the town).
    """
    query = (select(Booking, Rating.level, called_at())
             .outerjoin(Rating, Rating.booking_id == Booking.id)
             .where(Booking.day >= first, Booking.day <= last))
    if station_ids is not None:
        query = query.where(Booking.station_id.in_(station_ids))
    days: dict[date, Figures] = defaultdict(lambda: Figures(None))
    for booking, level, called in db.session.execute(query):
        count(days[booking.day], booking, level, called)
    total = Figures(None)
    rows = []
    for day in sorted(days):
        row = days[day]
        row.day = day
        total.add(row)
        rows.append(row)
    return rows, total


COLUMNS = (
    (_l("日期"), lambda f: f.day.isoformat() if f.day else str(_l("合计"))),
    (_l("预约和登记"), lambda f: f.booked),
    (_l("已受理"), lambda f: f.accepted),
    (_l("办结"), lambda f: f.completed),
    (_l("当场办结"), lambda f: f.on_the_spot),
    (_l("当场办结率"), lambda f: _round(f.on_the_spot_share, 3)),
    (_l("转镇中心"), lambda f: f.forwarded),
    (_l("退回补正"), lambda f: f.returned),
    (_l("不予办理"), lambda f: f.rejected),
    (_l("未到场"), lambda f: f.no_show),
    (_l("等候时间中位数（分钟）"), lambda f: _round(f.wait_median, 1)),
    (_l("办理时间中位数（分钟）"), lambda f: _round(f.handling_median, 1)),
    (_l("评价数"), lambda f: len(f.levels)),
    (_l("平均评价（5分制）"), lambda f: _round(f.rating_mean, 2)),
    (_l("不满意评价"), lambda f: f.bad_ratings),
)


def _round(value: float | None, digits: int):
    return "" if value is None else round(value, digits)


def table(rows: list[Figures], total: Figures) -> list[list]:
    """Header and rows as plain values, for both file formats."""
    return [[str(title) for title, _ in COLUMNS]] + [
        [get(f) for _, get in COLUMNS] for f in [*rows, total]]
