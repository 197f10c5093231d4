"""`/dashboard/`: the portal's figures for anyone, no sign-in; every table also as CSV and JSON
at a stable URL (`/dashboard/<table>.csv?period=month&date=2026-11-01`)."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime

from cachetools import LRUCache
from flask import Blueprint, current_app, jsonify, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from portal import exports
from portal.dashboard import figures, rollup
from portal.dashboard.columns import COLUMNS, TABLES
from portal.dashboard.figures import FEW, Line
from portal.dashboard.forms import DashboardForm
from portal.page_cache import stamp
from portal.params import arg_id
from portal.timeutil import local_now, local_today
from portal.web import form_status, render

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@bp.app_template_test("few")
def is_few(value) -> bool:
    """`{% if value is few %}`: a figure held back (fewer than five people)."""
    return value is FEW


_KEPT: LRUCache = LRUCache(maxsize=256)
_LOCK = threading.Lock()


@dataclass
class Choice:
    """What the visitor asked for, read once a request: the form, the period, the town and
    station (ids), every town, and the stations of the town asked for."""

    form: DashboardForm
    period: figures.Period
    town_id: int | None
    station_id: int | None
    towns: list
    stations: list

    @property
    def now(self) -> list[Line] | None:
        """The stations right now; None for a county's overview (a town is to be chosen
        first: nobody walks to a station in another town)."""
        if self.town_id is None and self.station_id is None and len(self.towns) > 1:
            return None
        return figures.now([s for s in self.stations
                            if self.station_id is None or s.id == self.station_id])


def _choice() -> Choice:
    towns = figures.towns()
    # The station list of the town asked for (of the only town; none for a whole county):
    # the form's choices, so a station chosen is always one of these.
    town_asked = arg_id("town") if len(towns) > 1 else (towns[0].id if towns else None)
    stations = figures.stations(town_asked, None) if town_asked else []
    form = DashboardForm(request.args, towns, stations)
    form.validate()
    p, town_id, station_id = form.chosen(local_today())
    return Choice(form, p, town_id, station_id, towns, stations)


def _kept(areas: tuple[str, ...], key: tuple, make):
    """`make()`, kept per worker until a stamp of `areas` moves (the figures are the same for
    everyone): the service tables until the rollup, civility's and volunteering's until a
    change of theirs — a new report does not make the county's service tables again."""
    key = (areas, *(stamp(area) for area in areas), *key, str(get_locale()))
    with _LOCK:
        kept = _KEPT.get(key)
    if kept is None:
        kept = make()
        with _LOCK:
            _KEPT[key] = kept
    return kept


def _service(p, town_id, station_id, towns) -> dict:
    overview = towns if town_id is None and station_id is None and len(towns) > 1 else None
    places = [] if overview else figures.stations(town_id, station_id)
    scope = figures.chosen(town_id, station_id)
    service, ratings, service_total, ratings_total = figures.service(places, p, overview, scope)
    return {"service": service + [service_total], "ratings": ratings + [ratings_total],
            "trend": figures.trend(scope, p), "through": rollup.summed_through(),
            "by_town": overview is not None}


def _civility(p) -> dict:
    categories, departments, appeals = figures.civility(p)
    return {"categories": categories, "departments": departments, "appeals": [appeals]}


def _volunteering(p) -> dict:
    volunteering = figures.volunteers(p)
    return {"teams": volunteering["teams"], "stars": volunteering["stars"],
            "volunteering": [volunteering["summary"]]}


def _report(choice: Choice) -> dict:
    """Every table of the period."""
    p, town_id, station_id = choice.period, choice.town_id, choice.station_id
    return {**_kept(("figures",), (p, town_id, station_id),
                    lambda: _service(p, town_id, station_id, choice.towns)),
            **_kept(("civility",), (p,), lambda: _civility(p)),
            **_kept(("volunteer",), (p,), lambda: _volunteering(p))}


def _query(p, town_id, station_id) -> dict:
    """The query that names this period and place (the tables' download links)."""
    return {k: v for k, v in (("period", p.kind), ("date", p.first.isoformat()),
                              ("town", town_id), ("station", station_id)) if v is not None}


def _tables(p, town_id, station_id, report: dict) -> Markup:
    """The tables as HTML, rendered once per worker for each period, place and language:
    they are most of the page's work (a few hundred cells through the macros)."""
    def make():
        # Template.render, not render_template: no context processors, nothing about the
        # visitor can reach what is shared.
        return Markup(current_app.jinja_env.get_template("dashboard/_tables.html").render(
            report=report, columns=COLUMNS, period=p, query=_query(p, town_id, station_id)))
    return _kept(("figures", "civility", "volunteer"), ("html", p, town_id, station_id), make)


@bp.route("/")
def index():
    """The whole dashboard: the stations now, service and ratings, civility, volunteers."""
    choice = _choice()
    report = _report(choice)
    return render("dashboard/index.html", form=choice.form, period=choice.period, report=report,
                  tables=_tables(choice.period, choice.town_id, choice.station_id, report),
                  now=choice.now, moment=local_now(), towns=choice.towns,
                  town_id=choice.town_id, station_id=choice.station_id, printed=local_today(),
                  periods=figures.PERIODS), form_status(choice.form)


@bp.route("/now")
def now():
    """Only the stations right now (the dashboard's part that refreshes itself every 30 s)."""
    choice = _choice()
    return render("dashboard/now.html", "dashboard/_now.html", now=choice.now,
                  moment=local_now(), town_id=choice.town_id, station_id=choice.station_id,
                  towns=choice.towns)


def _plain(value):
    if value is FEW:
        return None
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


@bp.route("/<any(" + ", ".join(TABLES) + "):table>.<any(csv, json):kind>")
def table(table: str, kind: str):
    """One table as open data. JSON: `{"period", "first", "last", "columns", "rows"}`, null
    where the figure is held back (fewer than 5 people) or has no value; CSV: 样本不足 there."""
    choice = _choice()
    p = choice.period
    lines = (choice.now or []) if table == "now" else _report(choice)[table]
    columns = COLUMNS[table]
    if kind == "json":
        response = jsonify({
            "table": table, "period": p.kind, "first": p.first.isoformat(),
            "last": p.last.isoformat(), "few_below": figures.MIN_SAMPLE,
            "columns": {"label": str(_l("名称")), **{k: str(v) for k, v in columns.items()}},
            "rows": [{"label": line.label, "station_id": line.station_id, "town_id": line.town_id,
                      **{k: _plain(line.cells.get(k)) for k in columns}} for line in lines]})
    else:
        few = str(_l("样本不足"))
        rows = [[str(_l("名称")), *[str(v) for v in columns.values()]]] + [
            [line.label, *[few if line.cells.get(k) is FEW else
                           ("" if line.cells.get(k) is None else _plain(line.cells.get(k)))
                           for k in columns]] for line in lines]
        response = exports.download(rows, "csv", f"tongban-{table}-{p.kind}-{p.first:%Y%m%d}",
                                    title=table)
    response.headers["Cache-Control"] = "public, max-age=60"
    return response
