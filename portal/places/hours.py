"""Opening-hour rules, as plain functions the booking and admin code share."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, time

Period = tuple[time, time]


def overlapping(periods: Iterable[Period]) -> bool:
    """True when two periods of the same day overlap or touch out of order."""
    ordered = sorted(periods)
    return any(a[1] > b[0] for a, b in zip(ordered, ordered[1:]))


def periods_on(station, day: date) -> list[Period]:
    """The station's opening periods on `day`: none when inactive or on a closed day."""
    if not station.active or any(c.day == day for c in station.closed_days):
        return []
    return [(p.opens, p.closes) for p in station.periods if p.weekday == day.weekday()]


def weekly(station) -> list[list[Period]]:
    """Seven lists (Monday first) of the station's periods, for display and the admin form."""
    week: list[list[Period]] = [[] for _ in range(7)]
    for p in station.periods:
        week[p.weekday].append((p.opens, p.closes))
    return [sorted(day) for day in week]

