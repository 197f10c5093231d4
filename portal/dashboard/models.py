"""One row per station and day, and per station and month: the service figures, summed by the
nightly rollup so the dashboard adds up a few hundred rows instead of scanning a year of
bookings."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Float, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.timeutil import utcnow

# Waiting times are kept as a histogram: the upper edges (minutes) of the first nine buckets;
# the tenth is everything longer. Enough for a 90th percentile "at most N minutes".
WAIT_EDGES = (5, 10, 15, 20, 30, 45, 60, 90, 120)
WAIT_BUCKETS = tuple(f"w{i}" for i in range(len(WAIT_EDGES) + 1))
LEVEL_COLUMNS = ("l1", "l2", "l3", "l4", "l5")
COUNTS = ("booked", "walk_ins", "accepted", "completed", "on_the_spot", "forwarded", "returned",
          "rejected", "no_show", "waits", *WAIT_BUCKETS, *LEVEL_COLUMNS, "callback_on_time",
          "callback_late", "rectify_on_time", "rectify_late")


class _Figures:
    """The summed columns, the same in the daily and the monthly rows."""

    booked: Mapped[int] = mapped_column(default=0)  # every booking and walk-in not cancelled
    walk_ins: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    completed: Mapped[int] = mapped_column(default=0)
    on_the_spot: Mapped[int] = mapped_column(default=0)
    forwarded: Mapped[int] = mapped_column(default=0)
    returned: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    no_show: Mapped[int] = mapped_column(default=0)
    waits: Mapped[int] = mapped_column(default=0)  # people whose wait is known
    wait_minutes: Mapped[float] = mapped_column(Float, default=0.0)  # their waits summed
    w0: Mapped[int] = mapped_column(default=0)
    w1: Mapped[int] = mapped_column(default=0)
    w2: Mapped[int] = mapped_column(default=0)
    w3: Mapped[int] = mapped_column(default=0)
    w4: Mapped[int] = mapped_column(default=0)
    w5: Mapped[int] = mapped_column(default=0)
    w6: Mapped[int] = mapped_column(default=0)
    w7: Mapped[int] = mapped_column(default=0)
    w8: Mapped[int] = mapped_column(default=0)
    w9: Mapped[int] = mapped_column(default=0)
    l1: Mapped[int] = mapped_column(default=0)  # ratings at each level, 1 非常不满意 … 5 非常满意
    l2: Mapped[int] = mapped_column(default=0)
    l3: Mapped[int] = mapped_column(default=0)
    l4: Mapped[int] = mapped_column(default=0)
    l5: Mapped[int] = mapped_column(default=0)
    callback_on_time: Mapped[int] = mapped_column(default=0)  # bad ratings called back in time
    callback_late: Mapped[int] = mapped_column(default=0)  # … late, or not yet and overdue
    rectify_on_time: Mapped[int] = mapped_column(default=0)
    rectify_late: Mapped[int] = mapped_column(default=0)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class StationDay(_Figures, db.Model):
    """The figures of the bookings *for* `day` at `station_id` (by the booked day), as they
    stood when the rollup last ran; ratings and follow-ups count on their booking's day."""

    __tablename__ = "station_days"

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True, index=True)


class StationMonth(_Figures, db.Model):
    """The same sums per station and month (`month`: its first day), re-summed from
    `station_days` whenever a day of it is: a quarter or a year adds up 12 rows a station,
    not 365."""

    __tablename__ = "station_months"

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True, index=True)
