"""Opening-hour rules, as plain functions the booking and admin code share."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time

Period = tuple[time, time]


def overlapping(periods: Iterable[Period]) -> bool:
    """True when two periods of the same day overlap or touch out of order."""
    ordered = sorted(periods)
    return any(a[1] > b[0] for a, b in zip(ordered, ordered[1:]))


@dataclass(frozen=True)
class Week:
    """A station's opening rules read once, to ask about many days cheaply."""

    active: bool
    closed: frozenset[date]
    days: tuple[tuple[Period, ...], ...]  # Monday first

    @classmethod
    def of(cls, station) -> Week:
        return cls(station.active, frozenset(c.day for c in station.closed_days),
                   tuple(tuple(day) for day in weekly(station)))

    def periods_on(self, day: date) -> list[Period]:
        if not self.active or day in self.closed:
            return []
        return list(self.days[day.weekday()])


def periods_on(station, day: date) -> list[Period]:
    """The station's opening periods on `day`: none when inactive or on a closed day."""
    return Week.of(station).periods_on(day)


def weekly(station) -> list[list[Period]]:
    """Seven lists (Monday first) of the station's periods, for display and the admin form."""
    week: list[list[Period]] = [[] for _ in range(7)]
    for p in station.periods:
        week[p.weekday].append((p.opens, p.closes))
    return [sorted(day) for day in week]

