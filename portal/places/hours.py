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
    """A station's weekly periods and closed days, read once to ask about many days."""

    closed: frozenset[date]
    days: tuple[tuple[Period, ...], ...]  # Monday first

    @classmethod
    def of(cls, station) -> Week:
        return cls(frozenset(c.day for c in station.closed_days),
                   tuple(tuple(day) for day in weekly(station)))

    def periods_on(self, day: date) -> list[Period]:
        return [] if day in self.closed else list(self.days[day.weekday()])


_WEEKS: dict[int, tuple[str, Week]] = {}


def cached_week(station) -> Week:
    """`Week.of(station)`, kept per process until the station's `hours_version` moves.

    As current as the station row it is given: pass one read in this request.
    """
    cached = _WEEKS.get(station.id)
    if cached is None or cached[0] != station.hours_version:
        cached = _WEEKS[station.id] = (station.hours_version, Week.of(station))
    return cached[1]


def periods_on(station, day: date) -> list[Period]:
    """The station's opening periods on `day`: none when inactive or on a closed day."""
    return Week.of(station).periods_on(day) if station.active else []


def weekly(station) -> list[list[Period]]:
    """Seven lists (Monday first) of the station's periods, for display and the admin form."""
    week: list[list[Period]] = [[] for _ in range(7)]
    for p in station.periods:
        week[p.weekday].append((p.opens, p.closes))
    return [sorted(day) for day in week]

