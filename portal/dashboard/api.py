"""The read-only JSON API (`/api/v1/…`): the catalogue, the stations and the published notices,
for the county's other systems and anyone who reuses them (documented at /open-data).

Pages of `per_page` (default 50, at most 200) rows with `page`, `pages`, `total` and `next`;
an ETag made from the stamps of what the answer shows (portal/page_cache.py: it moves with
every change of those rows) and the query, so `If-None-Match` gets a 304 without a body.
No personal data: staff names, phones of people and drafts never appear.
"""
from __future__ import annotations

import hashlib
from flask import Blueprint, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.booking.models import ServiceItem
from portal.dashboard import figures
from portal.extensions import db
from portal.notices.models import Notice
from portal.notices.workflow import live_query
from portal.page_cache import stamp
from portal.params import to_int
from portal.places.hours import cached_week
from portal.places.models import Station
from portal.timeutil import local_now
from portal.web import public_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PER_PAGE, MAX_PER_PAGE = 50, 200
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _etag(*areas: str, minute: bool = False) -> str:
    key = "|".join([request.full_path, *(str(stamp(a)) for a in areas),
                    f"{local_now():%Y%m%d%H%M}" if minute else ""])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _page(query, serialise, etag: str, max_age: int = 300):
    """One page of `query`'s rows, through `serialise` (the page's rows → their dicts)."""
    response = jsonify({})
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    if request.if_none_match.contains(etag):
        response.status_code, response.data = 304, b""
        return response
    per_page = to_int(request.args.get("per_page"), 1, MAX_PER_PAGE) or PER_PAGE
    page = db.paginate(query, page=to_int(request.args.get("page"), 1, 100_000) or 1,
                       per_page=per_page, error_out=False, count=True)
    args = {k: v for k, v in request.args.items() if k != "page"}
    body = {"page": page.page, "per_page": per_page, "pages": page.pages, "total": page.total,
            "next": public_url(request.endpoint, **args, page=page.next_num)
            if page.has_next else None,
            "items": serialise(page.items)}
    response.set_data(jsonify(body).get_data())
    return response


def _item(item: ServiceItem) -> dict:
    return {"code": item.code, "name": item.name, "category": item.category.name,
            "standard": item.standard, "handling": item.handling,
            "time_limit_days": item.time_limit_days, "fee": item.fee,
            "conditions": item.conditions, "legal_basis": item.legal_basis,
            "home_visit": item.home_visit, "proxy_allowed": item.proxy_allowed,
            "materials": [{"name": m.name, "form": m.form, "copies": m.copies, "note": m.note}
                          for m in item.materials],
            "guide": public_url("booking.guide", code=item.code)}


@bp.route("/catalogue")
def catalogue():
    """Every active item of the "47+N" list with its guide and materials."""
    query = select(ServiceItem).where(ServiceItem.active.is_(True)).options(
        selectinload(ServiceItem.category), selectinload(ServiceItem.materials)).order_by(
        ServiceItem.position, ServiceItem.id)
    return _page(query, lambda items: [_item(i) for i in items], _etag("catalogue"))


def _stations(stations: list[Station]) -> list[dict]:
    """A page of stations with today's load (people waiting and in hand now, the next free
    online slot: the dashboard's "right now", one query for the page)."""
    load = {line.station_id: line.cells for line in figures.now(stations)}
    return [_station(station, load[station.id]) for station in stations]


def _station(station: Station, load: dict) -> dict:
    free = load["next_free"]
    return {"id": station.id, "name": station.name, "kind": station.kind,
            "town": station.town.name, "address": station.address, "phone": station.phone,
            "latitude": station.latitude, "longitude": station.longitude,
            "hours": {day: [[f"{a:%H:%M}", f"{b:%H:%M}"] for a, b in periods]
                      for day, periods in zip(WEEKDAYS, cached_week(station).days)},
            "waiting": load["waiting"], "in_hand": load["in_hand"],
            "wait_minutes": load["wait"], "next_free": free.isoformat() if free else None}


@bp.route("/stations")
def stations():
    """Every active station: address, weekly hours, coordinates, and today's load: people
    waiting and in hand now, the next free online slot."""
    query = select(Station).where(Station.active.is_(True)).options(
        selectinload(Station.town)).order_by(Station.town_id, Station.position, Station.id)
    town = to_int(request.args.get("town"), 1, 2**31)
    if town:
        query = query.where(Station.town_id == town)
    return _page(query, _stations, _etag("places", minute=True), max_age=60)


def _notice(notice: Notice) -> dict:
    return {"id": notice.id, "title": notice.title, "doc_number": notice.doc_number,
            "agency": notice.agency, "category": notice.category,
            "written_on": notice.written_on.isoformat() if notice.written_on else None,
            "published_on": notice.published_on.isoformat() if notice.published_on else None,
            "validity": notice.validity, "revision": notice.revision,
            "body": notice.body, "body_format": notice.body_format,
            "url": public_url("notices.show", notice_id=notice.id)}


@bp.route("/notices")
def notices():
    """Published notices whose time has come, the newest first (the policy library's fields)."""
    query = live_query().order_by(Notice.published_on.desc(), Notice.id.desc())
    return _page(query, lambda notices: [_notice(n) for n in notices],
                 _etag("notices", minute=True))
