"""What the dashboard shows, as plain rows: service and 好差评 per station from the rollups,
the stations right now, civility and volunteer figures for the period.

**Small numbers are not published.** A figure built on fewer than `MIN_SAMPLE` people (a
count of 1–4, a share or an average over fewer than 5) is `FEW` ("样本不足") — in the page, the
CSV and the JSON alike. A zero is shown: it says nothing about anyone.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from types import SimpleNamespace
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from portal.booking import service as booking_service
from portal.booking.models import Booking
from portal.civility.models import Appeal, Department, Report, ReportCategory
from portal.dashboard.models import COUNTS, WAIT_EDGES, WAIT_BUCKETS, StationDay, StationMonth
from portal.desk import tickets
from portal.extensions import db
from portal.places.models import Station, Town
from portal.timeutil import local_now, to_local, to_utc
from portal.volunteer.models import (Activity, HourRecord, ServiceOrder, Team, Volunteer,
                                     Wish)

MIN_SAMPLE = 5
PERIODS = {"week": _l("周"), "month": _l("月"), "quarter": _l("季度"), "year": _l("年")}


class _Few:
    """A figure held back: built on fewer than MIN_SAMPLE people."""

    def __repr__(self):
        return "FEW"

    def __bool__(self):
        return False


FEW = _Few()


def counted(n: int):
    return FEW if 0 < n < MIN_SAMPLE else n


def share(part: float, whole: int):
    """part / whole; None (nothing to show) when whole is 0."""
    return None if not whole else FEW if whole < MIN_SAMPLE else part / whole


def averaged(total: float, n: int):
    return None if not n else FEW if n < MIN_SAMPLE else total / n


# -- the period ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    kind: str  # week, month, quarter, year
    first: date
    last: date  # the period's last day, or yesterday if it is still running


def default_day(today: date, kind: str = "month") -> date:
    """Without a chosen day: yesterday, or the day before its period's first when that
    period has less than a week behind it (the page opens on a period with something in it)."""
    yesterday = today - timedelta(days=1)
    running = period(kind, yesterday, today)
    return yesterday if (running.last - running.first).days >= 6 else \
        running.first - timedelta(days=1)


def period(kind: str, day: date, today: date | None) -> Period:
    """The calendar week, month, quarter or year holding `day`, up to yesterday."""
    if kind == "week":
        first = day - timedelta(days=day.weekday())
        end = first + timedelta(days=6)
    elif kind == "year":
        first, end = date(day.year, 1, 1), date(day.year, 12, 31)
    else:
        months = 3 if kind == "quarter" else 1
        start_month = (day.month - 1) // months * months + 1
        first = date(day.year, start_month, 1)
        following = date(day.year + (start_month + months - 1) // 12,
                         (start_month + months - 1) % 12 + 1, 1)
        end = following - timedelta(days=1)
    if today is not None:
        end = min(end, today - timedelta(days=1))
    return Period(kind, first, end)


# -- places ---------------------------------------------------------------------------------------

def towns() -> list[Town]:
    return list(db.session.scalars(select(Town).order_by(Town.id)))


def chosen(town_id: int | None, station_id: int | None):
    """The active stations chosen, as a statement (the sums filter on it in the database)."""
    query = select(Station.id).where(Station.active.is_(True))
    if station_id is not None:
        return query.where(Station.id == station_id)
    return query if town_id is None else query.where(Station.town_id == town_id)


def stations(town_id: int | None, station_id: int | None) -> list[Station]:
    ids = chosen(town_id, station_id)
    return list(db.session.scalars(select(Station).where(Station.id.in_(ids)).order_by(
        Station.town_id, Station.position, Station.id)))


# -- service, from the rollups ----------------------------------------------------------------------

def _summed(model):
    sums = [func.coalesce(func.sum(getattr(model, name)), 0).label(name) for name in COUNTS]
    return [*sums, func.coalesce(func.sum(model.wait_minutes), 0.0).label("wait_minutes")]


_SUMS = _summed(StationDay)
_MONTH_SUMS = _summed(StationMonth)


def _sums(ids, p: Period, by: str, only: tuple[str, ...] | None = None):
    """The sums per station (`by` "station") or per day or month ("time") over the period:
    from the monthly rows for a month, quarter or year (whole months: a running month's row
    holds its days up to yesterday, as the period does), from the daily rows for a week.
    `only`: just these columns (each SUM costs on every row)."""
    if p.kind == "week":
        model, when, sums = StationDay, StationDay.day, _SUMS
    else:
        model, when, sums = StationMonth, StationMonth.month, _MONTH_SUMS
    if only:
        sums = [column for column in sums if column.name in only]
    group = {"station": model.station_id, "time": when, "town": Station.town_id}[by]
    query = select(group.label("key"), *sums).where(model.station_id.in_(ids),
                                                    when >= p.first, when <= p.last)
    if by == "town":
        query = query.join(Station, Station.id == model.station_id)
    return db.session.execute(query.group_by(group)).all()


def _daily(ids, p: Period):
    """Bookings and walk-ins per day of the period (the trend by week)."""
    return db.session.execute(
        select(StationDay.day, func.sum(StationDay.booked), func.sum(StationDay.walk_ins))
        .where(StationDay.station_id.in_(ids), StationDay.day >= p.first,
               StationDay.day <= p.last).group_by(StationDay.day)).all()


def wait_p90(row) -> object:
    """The upper edge (minutes) of the bucket the 90th percentile waits in; "more than the
    last edge" as its negative; FEW under MIN_SAMPLE waits."""
    if row.waits < MIN_SAMPLE:
        return FEW if row.waits else None
    need, seen = 0.9 * row.waits, 0
    for index, bucket in enumerate(WAIT_BUCKETS):
        seen += getattr(row, bucket)
        if seen >= need:
            return WAIT_EDGES[index] if index < len(WAIT_EDGES) else -WAIT_EDGES[-1]
    return -WAIT_EDGES[-1]


@dataclass
class Line:
    """One station's, town's or other thing's line of a table (or the total): its label and
    its cells."""

    label: str
    cells: dict
    station_id: int | None = None
    town_id: int | None = None
    total: bool = False


def _service_cells(row) -> dict:
    decided = row.completed + row.forwarded + row.returned + row.rejected
    return {
        "booked": counted(row.booked), "walk_ins": counted(row.walk_ins),
        "no_show": counted(row.no_show),
        "on_the_spot": share(row.on_the_spot, decided), "forwarded": share(row.forwarded, decided),
        "returned": share(row.returned, decided),
        "wait_mean": averaged(row.wait_minutes, row.waits), "wait_p90": wait_p90(row),
    }


def _rating_cells(row) -> dict:
    total = row.l1 + row.l2 + row.l3 + row.l4 + row.l5
    few = 0 < total < MIN_SAMPLE
    cells = {f"l{level}": FEW if few else getattr(row, f"l{level}") for level in (5, 4, 3, 2, 1)}
    cells.update(
        ratings=counted(total), satisfied=share(row.l3 + row.l4 + row.l5, total),
        callback_on_time=FEW if few else row.callback_on_time,
        callback_late=FEW if few else row.callback_late,
        rectify_on_time=FEW if few else row.rectify_on_time,
        rectify_late=FEW if few else row.rectify_late)
    return cells


class _Zero:
    def __getattr__(self, name):
        return 0


_NAMES = (*COUNTS, "wait_minutes")


def _total(rows):
    """The rows of `_sums` added up column by column (zip: a county's 400 rows in 0.1 ms)."""
    if not rows:
        return _Zero()
    return SimpleNamespace(**dict(zip(_NAMES, (sum(column) for column in
                                               zip(*(row[1:] for row in rows))))))


def service(places: list[Station], p: Period, by_town: list[Town] | None = None, scope=None
            ) -> tuple[list[Line], list[Line], Line, Line]:
    """Per station of `places` (or, given `by_town`, per town: a county's overview, summed
    in the database) the service lines and the 好差评 lines, then their totals. `scope`:
    the stations as a statement (`chosen`), else `places`."""
    ids = scope if scope is not None else [s.id for s in places]
    rows = {row.key: row for row in _sums(ids, p, "town" if by_town is not None else "station")}
    service_lines, rating_lines = [], []
    zero = _Zero()
    if by_town is not None:
        for town in by_town:
            row = rows.get(town.id, zero)
            service_lines.append(Line(town.name, _service_cells(row), town_id=town.id))
            rating_lines.append(Line(town.name, _rating_cells(row), town_id=town.id))
    else:
        for station in places:
            row = rows.get(station.id, zero)
            service_lines.append(Line(station.name, _service_cells(row), station.id,
                                      station.town_id))
            rating_lines.append(Line(station.name, _rating_cells(row), station.id,
                                     station.town_id))
    total = _total(list(rows.values()))
    label = str(_l("合计"))
    return service_lines, rating_lines, Line(label, _service_cells(total), total=True), \
        Line(label, _rating_cells(total), total=True)


def trend(ids, p: Period) -> list[Line]:
    """Bookings and walk-ins per week (Monday first) of a week or a month, per month of a
    quarter or a year; the stations `ids` (a statement: `chosen`) summed."""
    by_month = p.kind in ("quarter", "year")

    def start(day: date) -> date:
        return day.replace(day=1) if by_month else day - timedelta(days=day.weekday())

    buckets: dict[date, list[int]] = {}
    day = start(p.first)
    while day <= p.last:
        buckets[day] = [0, 0]
        day = (day + timedelta(days=32)).replace(day=1) if by_month else day + timedelta(days=7)
    if by_month:
        points = [(row.key, row.booked, row.walk_ins)
                  for row in _sums(ids, p, "time", only=("booked", "walk_ins"))]
    else:
        points = _daily(ids, p)
    for when, booked, walk_ins in points:
        bucket = buckets[start(when)]
        bucket[0] += booked - walk_ins
        bucket[1] += walk_ins
    return [Line(when.strftime("%Y-%m") if by_month else when.isoformat(),
                 {"booked": counted(b), "walk_ins": counted(w)})
            for when, (b, w) in buckets.items()]


# -- right now -----------------------------------------------------------------------------------

def now(places: list[Station]) -> list[Line]:
    """Each station: people waiting (checked in) and in hand (accepted or in progress) today,
    the wait a walk-in taking a ticket now is told (the hall's estimate), and its next free
    online slot; the least busy first. Live, not rolled up. Counts under MIN_SAMPLE are shown
    here: they are the room right now, not a record of people."""
    moment = local_now()
    waits = tickets.newcomer_outlooks(places, moment.date())
    ids = [s.id for s in places]
    counts = {sid: (waiting, in_hand) for sid, waiting, in_hand in db.session.execute(
        select(Booking.station_id,
               func.sum(case((Booking.status == "checked_in", 1), else_=0)),
               func.sum(case((Booking.status.in_(("accepted", "in_progress")), 1), else_=0)))
        .where(Booking.day == moment.date(), Booking.station_id.in_(ids),
               Booking.status.in_(("checked_in", "accepted", "in_progress")))
        .group_by(Booking.station_id))}
    lines = []
    for station in places:
        waiting, in_hand = counts.get(station.id, (0, 0))
        free = booking_service.first_free(station, "online", moment)
        lines.append(Line(station.name, {
            "waiting": int(waiting or 0), "in_hand": int(in_hand or 0),
            "wait": waits[station.id].minutes,
            "next_free": datetime.combine(free[0], free[1].starts) if free else None,
            "address": station.address}, station.id))
    lines.sort(key=lambda line: (line.cells["waiting"] + line.cells["in_hand"],
                                 line.cells["next_free"] or datetime.max))
    return lines


# -- civility and volunteers (live: these tables are small) ------------------------------------------

def _moments(p: Period) -> tuple[datetime, datetime]:
    return to_utc(datetime.combine(p.first, time.min)), \
        to_utc(datetime.combine(p.last + timedelta(days=1), time.min))


def civility(p: Period) -> tuple[list[Line], list[Line], Line]:
    """Reports per category (made in the period) and the share verified; rectification per
    department (items due in the period); appeals made in the period by outcome."""
    start, end = _moments(p)
    verified = Report.status.in_(("verified", "published"))
    categories = [Line(name, {"reports": counted(n), "verified": share(v or 0, n)})
                  for name, n, v in db.session.execute(
                      select(ReportCategory.name, func.count(Report.id),
                             func.sum(case((verified, 1), else_=0)))
                      .join(Report, Report.category_id == ReportCategory.id)
                      .where(Report.created_at >= start, Report.created_at < end)
                      .group_by(ReportCategory.id, ReportCategory.name, ReportCategory.position)
                      .order_by(ReportCategory.position))]
    rows = db.session.execute(
        select(Department.name, Report.rectify_due, Report.rectified_at)
        .join(Report, Report.department_id == Department.id)
        .where(Report.rectify_due >= p.first, Report.rectify_due <= p.last)).all()
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for name, due, done in rows:
        if done is not None:
            per[name][0 if to_local(done).date() <= due else 1] += 1
        else:
            per[name][2] += 1  # due in the period and not done: overdue (yesterday at the latest)
    departments = [Line(name, {"due": counted(sum(n)), "on_time": share(n[0], sum(n)),
                               "late": counted(n[1]), "overdue": counted(n[2])})
                   for name, n in sorted(per.items())]
    outcomes = dict(db.session.execute(
        select(Appeal.status, func.count(Appeal.id))
        .where(Appeal.created_at >= start, Appeal.created_at < end).group_by(Appeal.status)).all())
    appeals = Line(str(_l("申诉")), {status: counted(outcomes.get(status, 0))
                                    for status in ("open", "upheld", "corrected", "withdrawn")})
    return categories, departments, appeals


def volunteers(p: Period) -> dict:
    """Approved hours per team, volunteers per star level (now), activities and places,
    micro-wishes fulfilled (count and value) and service orders, for the period."""
    start, end = _moments(p)
    teams = [Line(name, {"hours": FEW if 0 < people < MIN_SAMPLE else round(minutes / 60, 1),
                         "volunteers": counted(people)})
             for name, minutes, people in db.session.execute(
                 select(Team.name, func.sum(HourRecord.minutes),
                        func.count(func.distinct(HourRecord.volunteer_id)))
                 .join(HourRecord, HourRecord.team_id == Team.id)
                 .where(HourRecord.status == "approved", HourRecord.served_on >= p.first,
                        HourRecord.served_on <= p.last)
                 .group_by(Team.id, Team.name).order_by(Team.name))]
    stars = dict(db.session.execute(select(Volunteer.star_level, func.count(Volunteer.id))
                                    .group_by(Volunteer.star_level)).all())
    star_lines = [Line(str(level), {"volunteers": counted(stars.get(level, 0))})
                  for level in range(0, 6)]
    activities, capacity, taken = db.session.execute(
        select(func.count(Activity.id), func.coalesce(func.sum(Activity.capacity), 0),
               func.coalesce(func.sum(Activity.taken), 0))
        .where(Activity.day >= p.first, Activity.day <= p.last,
               Activity.status != "cancelled")).one()
    wishes, value = db.session.execute(
        select(func.count(Wish.id), func.coalesce(func.sum(Wish.value_yuan), 0))
        .where(Wish.fulfilled_at >= start, Wish.fulfilled_at < end)).one()
    done, rated, rating_sum = db.session.execute(
        select(func.sum(case((ServiceOrder.status.in_(("done", "rated")), 1), else_=0)),
               func.count(ServiceOrder.rating), func.coalesce(func.sum(ServiceOrder.rating), 0))
        .where(ServiceOrder.created_at >= start, ServiceOrder.created_at < end)).one()
    return {
        "teams": teams, "stars": star_lines,
        "summary": Line(str(_l("合计")), {
            "activities": activities, "places": capacity, "filled": counted(taken),
            "wishes": counted(wishes), "wish_value": FEW if 0 < wishes < MIN_SAMPLE else value,
            "orders_done": counted(done or 0), "orders_rated": counted(rated),
            "order_rating": averaged(rating_sum, rated)}),
    }
