"""Summing bookings, ratings and follow-ups into `station_days`.

The jobs worker re-sums the last `RECENT_DAYS` days every night (a booking's day keeps
changing after it: the rating comes later, a follow-up is called back within a working day
and rectified within fifteen); `flask dashboard rollup --since DAY` sums any stretch, e.g. the
whole history after a restore. A day's rows are replaced in one transaction, so the dashboard
sees the old sums or the new ones, never half.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import delete, func, insert, select

from portal.booking.models import Booking
from portal.dashboard.models import COUNTS, WAIT_EDGES, StationDay, StationMonth
from portal.desk.stats import Figures, called_at, count
from portal.extensions import db
from portal.ratings.models import FollowUp, Rating
from portal.timeutil import to_local, utcnow

RECENT_DAYS = 40  # longer than fifteen working days with the longest holiday in them

_ROWS = (select(Booking.station_id, Booking.day, Booking.starts, Booking.channel, Booking.status,
                Booking.checked_in_at, Booking.accepted_at, Booking.finished_at,
                Booking.forwarded_at, Booking.returned_at, Rating.level, FollowUp.callback_due,
                FollowUp.called_back_at, FollowUp.rectify_due, FollowUp.rectified_at,
                called_at())
         .outerjoin(Rating, Rating.booking_id == Booking.id)
         .outerjoin(FollowUp, FollowUp.rating_id == Rating.id))


def _step(done_at, due: date, today: date) -> str | None:
    """A follow-up step: on time, late (done after its day, or not done and its day passed),
    or None while it still has time."""
    if done_at is not None:
        return "on_time" if to_local(done_at).date() <= due else "late"
    return "late" if today > due else None


def _row(station_id: int, day: date, figures: Figures, extra: dict[str, int]) -> dict:
    row = dict.fromkeys(COUNTS, 0)
    row.update(station_id=station_id, day=day, booked=figures.booked,
               accepted=figures.accepted, completed=figures.completed,
               on_the_spot=figures.on_the_spot, forwarded=figures.forwarded,
               returned=figures.returned, rejected=figures.rejected, no_show=figures.no_show,
               waits=len(figures.waits), wait_minutes=float(sum(figures.waits)),
               computed_at=utcnow(), **extra)
    for wait in figures.waits:
        row[f"w{bisect_right(WAIT_EDGES, wait)}"] += 1  # [edge before, edge)
    for level in figures.levels:
        row[f"l{level}"] += 1
    return row


def rollup(first: date, last: date, today: date) -> int:
    """Replace the sums of `first`…`last` (booked days) with fresh ones; commits. Returns the
    number of station-days written."""
    figures: dict[tuple[int, date], Figures] = defaultdict(lambda: Figures(None))
    extra: dict[tuple[int, date], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in db.session.execute(_ROWS.where(Booking.day >= first, Booking.day <= last)):
        key = (row.station_id, row.day)
        count(figures[key], row, row.level, row.called_at)
        if row.channel == "walkin" and row.status != "cancelled":
            extra[key]["walk_ins"] += 1
        if row.callback_due is not None:
            for step, done, due in (("callback", row.called_back_at, row.callback_due),
                                    ("rectify", row.rectified_at, row.rectify_due)):
                outcome = _step(done, due, today)
                if outcome:
                    extra[key][f"{step}_{outcome}"] += 1
    rows = [_row(station_id, day, f, dict(extra.get((station_id, day), {})))
            for (station_id, day), f in figures.items()]
    db.session.execute(delete(StationDay).where(StationDay.day >= first, StationDay.day <= last))
    _insert(StationDay, rows)
    _months(first, last)
    db.session.commit()
    return len(rows)


def _insert(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), 2000):
        db.session.execute(insert(model), rows[start:start + 2000])


def _months(first: date, last: date) -> None:
    """Re-sum every month that `first`…`last` touches from its days."""
    month_first = first.replace(day=1)
    month_last = last.replace(day=1)
    following = (month_last + timedelta(days=32)).replace(day=1)
    sums: dict[tuple[int, date], dict] = {}
    now = utcnow()
    names = (*COUNTS, "wait_minutes")
    for row in db.session.execute(select(StationDay.station_id, StationDay.day, *(
            getattr(StationDay, n) for n in names)).where(StationDay.day >= month_first,
                                                           StationDay.day < following)):
        key = (row.station_id, row.day.replace(day=1))
        total = sums.get(key)
        if total is None:
            total = sums[key] = {"station_id": key[0], "month": key[1], "computed_at": now,
                                 **dict.fromkeys(names, 0)}
        for name in names:
            total[name] += getattr(row, name)
    db.session.execute(delete(StationMonth).where(StationMonth.month >= month_first,
                                                  StationMonth.month <= month_last))
    _insert(StationMonth, list(sums.values()))


def nightly(today: date) -> int:
    """The worker's run: the recent days up to yesterday (today is still happening)."""
    return rollup(today - timedelta(days=RECENT_DAYS), today - timedelta(days=1), today)


def everything(today: date) -> int:
    """Every day that has bookings, up to yesterday."""
    first = db.session.scalar(select(func.min(Booking.day)))
    if first is None or first >= today:
        return 0
    return rollup(first, today - timedelta(days=1), today)


def summed_through() -> date | None:
    """The last day the rollup has summed (None before its first run)."""
    return db.session.scalar(select(func.max(StationDay.day)))
