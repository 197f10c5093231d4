"""`/dashboard/`: the portal's figures for anyone, no sign-in; every table also as CSV and JSON
at a stable URL (`/dashboard/<table>.csv?period=month&date=2026-11-01`)."""
from __future__ import annotations

import threading
from datetime import date, datetime

from cachetools import LRUCache
from flask import Blueprint, jsonify, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from portal import exports
from portal.dashboard import figures, rollup
from portal.dashboard.figures import FEW, Line
from portal.dashboard.forms import DashboardForm
from portal.page_cache import stamp
from portal.timeutil import local_now, local_today
from portal.web import form_status, render

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

# What each table's columns are called, in order; the page, the CSV and the JSON share them.
SERVICE = {"booked": _l("预约和登记"), "walk_ins": _l("其中现场登记"), "no_show": _l("未到场"),
           "on_the_spot": _l("当场办结率"), "forwarded": _l("转镇中心比例"),
           "returned": _l("退回补正比例"), "wait_mean": _l("平均等候（分钟）"),
           "wait_p90": _l("九成人等候不超过（分钟）")}
RATINGS = {"ratings": _l("评价数"), "l5": _l("非常满意"), "l4": _l("满意"), "l3": _l("基本满意"),
           "l2": _l("不满意"), "l1": _l("非常不满意"), "satisfied": _l("满意率"),
           "callback_on_time": _l("差评1个工作日内回访"), "callback_late": _l("回访超时"),
           "rectify_on_time": _l("15个工作日内整改"), "rectify_late": _l("整改超时")}
TREND = {"booked": _l("预约"), "walk_ins": _l("现场登记")}
NOW = {"waiting": _l("正在等候"), "in_hand": _l("正在办理"), "next_free": _l("最早可约时间"),
       "address": _l("地址")}
CATEGORIES = {"reports": _l("报告数"), "verified": _l("核实比例")}
DEPARTMENTS = {"due": _l("到期整改"), "on_time": _l("按期整改率"), "late": _l("逾期完成"),
               "overdue": _l("逾期未完成")}
APPEALS = {"open": _l("处理中"), "upheld": _l("维持"), "corrected": _l("已更正"),
           "withdrawn": _l("已撤下")}
TEAMS = {"hours": _l("认定服务时长（小时）"), "volunteers": _l("参与志愿者")}
STARS = {"volunteers": _l("志愿者人数")}
VOLUNTEERING = {"activities": _l("活动"), "places": _l("名额"), "filled": _l("已报名"),
                "wishes": _l("实现微心愿"), "wish_value": _l("微心愿总价值（元）"),
                "orders_done": _l("完成的服务订单"), "orders_rated": _l("已评价订单"),
                "order_rating": _l("订单平均评分")}
TABLES = ("service", "ratings", "trend", "now", "categories", "departments", "appeals",
          "teams", "stars", "volunteering")



@bp.app_template_test("few")
def is_few(value) -> bool:
    """`{% if value is few %}`: a figure held back (fewer than five people)."""
    return value is FEW


_KEPT: LRUCache = LRUCache(maxsize=256)
_LOCK = threading.Lock()


def _choice():
    form = DashboardForm(request.args, figures.towns(), figures.stations(None, None))
    form.validate()
    p, town_id, station_id = form.chosen(local_today())
    return form, p, town_id, station_id


def _report(p, town_id, station_id) -> dict:
    """Every table of the period, kept per worker until the rollup, a civility or a volunteer
    change moves its stamp (the figures are the same for everyone)."""
    key = (stamp("figures"), stamp("civility"), stamp("volunteer"), p, town_id, station_id,
           str(get_locale()))
    with _LOCK:
        kept = _KEPT.get(key)
    if kept is not None:
        return kept
    places = figures.stations(town_id, station_id)
    towns = figures.towns()
    overview = towns if town_id is None and station_id is None and len(towns) > 1 else None
    service, ratings, service_total, ratings_total = figures.service(places, p, overview)
    categories, departments, appeals = figures.civility(p)
    volunteering = figures.volunteers(p)
    report = {
        "service": service + [service_total], "ratings": ratings + [ratings_total],
        "trend": figures.trend(places, p), "categories": categories,
        "departments": departments, "appeals": [appeals], "teams": volunteering["teams"],
        "stars": volunteering["stars"], "volunteering": [volunteering["summary"]],
        "through": rollup.summed_through(), "by_town": overview is not None,
    }
    with _LOCK:
        _KEPT[key] = report
    return report


def _now_lines(town_id, station_id) -> list[Line] | None:
    """The stations right now; None for a county's overview (a town is to be chosen first:
    nobody walks to a station in another town)."""
    if town_id is None and station_id is None and len(figures.towns()) > 1:
        return None
    return figures.now(figures.stations(town_id, station_id))


@bp.route("/")
def index():
    """The whole dashboard: the stations now, service and ratings, civility, volunteers."""
    form, p, town_id, station_id = _choice()
    return render("dashboard/index.html", form=form, period=p, report=_report(p, town_id, station_id),
                  now=_now_lines(town_id, station_id), columns=COLUMNS, moment=local_now(),
                  towns=figures.towns(),
                  town_id=town_id, station_id=station_id, printed=local_today(),
                  periods=figures.PERIODS), form_status(form)


@bp.route("/now")
def now():
    """Only the stations right now (the dashboard's part that refreshes itself every 30 s)."""
    _form, _p, town_id, station_id = _choice()
    return render("dashboard/now.html", "dashboard/_now.html", now=_now_lines(town_id, station_id),
                  moment=local_now(), town_id=town_id, station_id=station_id,
                  towns=figures.towns())


COLUMNS = {"service": SERVICE, "ratings": RATINGS, "trend": TREND, "now": NOW,
           "categories": CATEGORIES, "departments": DEPARTMENTS, "appeals": APPEALS,
           "teams": TEAMS, "stars": STARS, "volunteering": VOLUNTEERING}


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
    _form, p, town_id, station_id = _choice()
    lines = (_now_lines(town_id, station_id) or []) if table == "now" else \
        _report(p, town_id, station_id)[table]
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
