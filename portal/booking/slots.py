"""Slot rules: which start times a station offers on a day, and how many places are left.

Plain functions of a station's settings, the day and the places already taken, so the
rules can be tested directly (tests/test_slots.py uses hypothesis).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from portal.places.hours import Period, Week

BOOKING_HORIZON_DAYS = 14
MIN_LEAD = timedelta(minutes=30)  # online bookings start at least this far ahead


@dataclass(frozen=True, slots=True)
class Slot:
    starts: time
    ends: time
    capacity: int
    taken: int

    @property
    def left(self) -> int:
        return max(0, self.capacity - self.taken)


def slot_times(periods: list[Period], minutes: int) -> list[tuple[time, time]]:
    """Start and end of every whole slot inside the opening periods."""
    step = timedelta(minutes=minutes)
    slots = []
    for opens, closes in periods:
        start = datetime.combine(date.min, opens)
        end = datetime.combine(date.min, closes)
        while start + step <= end:
            slots.append((start.time(), (start + step).time()))
            start += step
    return slots


def day_slots(station, day: date, pool: str, taken: Mapping[time, int],
              now: datetime | None = None, week: Week | None = None,
              lead: timedelta = MIN_LEAD) -> list[Slot]:
    """The station's slots on `day` for one capacity pool, with places taken and left.

    Slots that start before `now + lead` are left out (pass `now` as local time; the desk
    passes a negative lead for walk-ins, who are served in the slot under way).
    Pass `week` (Week.of or hours.cached_week) when asking about many days.
    """
    if not station.active:
        return []
    capacity = station.capacity(pool)
    earliest = (now + lead) if now else None
    periods = (week or Week.of(station)).periods_on(day)
    return [
        Slot(a, b, capacity, taken.get(a, 0))
        for a, b in slot_times(periods, station.slot_minutes)
        if earliest is None or datetime.combine(day, a) >= earliest
    ]


def bookable_days(today: date, horizon: int = BOOKING_HORIZON_DAYS) -> list[date]:
    return [today + timedelta(days=n) for n in range(horizon)]
