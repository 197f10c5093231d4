"""Working days: Monday to Friday, minus public holidays, plus make-up days (调休).

Plain functions over a `Calendar` (the exceptions), so deadlines can be tested with any
dates; `calendar()` reads the exceptions from the database.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from portal.extensions import db


@dataclass(frozen=True)
class Calendar:
    holidays: frozenset[date] = field(default_factory=frozenset)  # weekdays off
    workdays: frozenset[date] = field(default_factory=frozenset)  # weekend days worked

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


def add_working_days(start: date, n: int, cal: Calendar) -> date:
    """The n-th working day after `start` (`start` itself does not count).

    "Call back within 1 working day" of a rating given on a Friday means by the end of
    Monday (or of the first working day after a holiday).
    """
    day = start
    while n > 0:
        day += timedelta(days=1)
        if cal.is_workday(day):
            n -= 1
    return day


def working_days_between(first: date, last: date, cal: Calendar) -> int:
    """Working days after `first` up to and including `last` (0 when last <= first)."""
    count, day = 0, first
    while day < last:
        day += timedelta(days=1)
        count += cal.is_workday(day)
    return count


def calendar() -> Calendar:
    from portal.places.models import CalendarDay
    rows = db.session.execute(select(CalendarDay.day, CalendarDay.workday)).all()
    return Calendar(holidays=frozenset(d for d, w in rows if not w),
                    workdays=frozenset(d for d, w in rows if w))
