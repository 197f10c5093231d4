"""Public pages kept per worker, under the version of what they show.

One mechanism for every public page (instead of a cache per page). A view marked
`@cached_page("notices", "places")` is rendered once per worker for each distinct

    (path and query, language, elder mode, kiosk, the stamps of its areas, the minute)

and served from memory after that to everyone who is not signed in — the new visitor from a
phone, the kiosk. What is personal never enters: a signed-in person, a pending flash message,
an htmx request and any answer but a plain 200 without cookies of its own pass by the cache;
this visitor's CSRF token is put in at the end (the stored page has a stand-in).

Stamps: every table belongs to an area (AREAS). A transaction that writes rows of an area
gives that area a new random stamp in `content_stamps`, in the same transaction, as its last
statement (the before-commit hook), whether it wrote through the ORM's flush or with a bulk
UPDATE/INSERT/DELETE through the session. A page's key holds the stamps it read at the start
of the request, before the view read anything, so a page is never stored under a stamp newer
than its content: the next request after any change, on any worker or machine, misses and
renders afresh. A stamp is random, not a counter, so a restored backup brings back its own
stamps with its own content. Pages that change with the clock (scheduled notices going live,
activities closing, items leaving the board after retention) also key on the minute.
"""
from __future__ import annotations

import secrets
import threading
from functools import wraps

from cachetools import LRUCache
from flask import current_app, g, has_request_context, make_response, request, session
from flask.globals import request_ctx
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import BigInteger, String, event, inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.database import raw_read
from portal.extensions import db
from portal.templating import staff_links
from portal.timeutil import utcnow
from portal.web import elder_mode, is_kiosk

_CSRF = b"page-cache:csrf-token"

# Which area each table's rows belong to; None: no public page shows them (or they change on
# every request: sessions, counters). tests/test_page_cache.py fails on a table missing here.
AREAS: dict[str, str | None] = {
    **dict.fromkeys(("service_categories", "service_items", "materials"), "catalogue"),
    **dict.fromkeys(("towns", "villages", "stations", "opening_periods", "closed_days",
                     "calendar_days"), "places"),
    **dict.fromkeys(("notices", "notice_attachments", "notice_revisions", "search_synonyms"),
                    "notices"),
    **dict.fromkeys(("civility_reports", "civility_photos", "civility_issues",
                     "civility_events", "civility_appeals", "civility_likes",
                     "report_categories", "departments"), "civility"),
    **dict.fromkeys(("volunteer_activities", "volunteer_signups", "volunteer_teams",
                     "volunteer_team_members", "volunteer_stations", "volunteers",
                     "volunteer_hours", "volunteer_hour_changes", "volunteer_offers",
                     "volunteer_orders", "volunteer_steps", "volunteer_coordination",
                     "volunteer_wishes"), "volunteer"),
    # What points buy and who earned them (the ledger moves the public board of contributors).
    **dict.fromkeys(("point_rules", "point_entries", "point_accounts", "partners", "rewards"),
                    "points"),
    # The dashboard's daily sums (a worker keeps its tables until the rollup moves this).
    "station_days": "figures", "station_months": "figures",
    # Who people are: names shown on public pages (a team's leader, say) come from here.
    **dict.fromkeys(("users", "user_roles"), "people"),
    **dict.fromkeys(("bookings", "booking_events", "slot_usage", "open_booking_counts",
                     "material_checks", "home_visit_requests", "tickets", "ticket_counters",
                     "ratings", "follow_ups", "login_sessions", "known_devices", "messages",
                     "redemptions", "deliveries", "job_runs", "audit_events", "search_outbox",
                     "search_documents", "content_stamps", "alembic_version"), None),
}


# Columns that change with no page of the cache showing them: a booking moves its station's
# usage version (the booking pages key on that version themselves) and a desk step its queue
# version (the desk's kept rows key on it), which is no change to the places area. Writing
# only these leaves the stamps as they are.
QUIET_COLUMNS = {"stations": frozenset({"usage_version", "queue_version"})}


class ContentStamp(db.Model):
    __tablename__ = "content_stamps"
    area: Mapped[str] = mapped_column(String(20), primary_key=True)
    stamp: Mapped[int] = mapped_column(BigInteger)


class _Pages:
    """The pages one worker keeps (threads share it)."""

    def __init__(self, max_bytes: int):  # least recently used pages go first
        self._lru = LRUCache(maxsize=max_bytes, getsizeof=lambda entry: len(entry[1]) + 500)
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            return self._lru.get(key)

    def put(self, key, entry) -> None:
        with self._lock:
            if len(entry[1]) + 500 <= self._lru.maxsize:
                self._lru[key] = entry


def pages() -> _Pages:
    return current_app.extensions["tongban.pages"]


def cached_page(*areas: str, clock: bool = True, extra=None, signed_in: bool = False):
    """Keep this public view's page per worker (see the module docstring). `areas`: every
    area whose rows the page shows; `clock=False` only for a page the time cannot change;
    `extra`: a function giving what else the page depends on (the search index's version);
    `signed_in=True`: the page shows nothing of the person (its view and template never look
    at current_user), so signed-in people share it too, per layout variant (staff links)."""
    unknown = set(areas) - set(AREAS.values())
    assert not unknown, f"unknown areas {unknown}"

    def decorate(view):
        @wraps(view)
        def cached(*args, **kwargs):
            key = _key(areas, clock, extra, signed_in)
            if key is None:
                return view(*args, **kwargs)
            entry = pages().get(key)
            if entry is not None:
                return _replay(entry)
            response = make_response(view(*args, **kwargs))
            _keep(key, response)
            return response
        return cached
    return decorate


def _key(areas, clock, extra, shared_signed_in):
    """This request's key, or None when its page must not be shared."""
    if request.method not in ("GET", "HEAD") or request.headers.get("HX-Request") \
            or "_flashes" in session or current_app.config.get("PAGE_CACHE") is False:
        return None
    person = current_user.is_authenticated
    if person and not shared_signed_in:
        return None
    stamps = _stamps()
    return (request.endpoint, request.full_path, str(get_locale() or "zh"), elder_mode(),
            is_kiosk(), person, staff_links(current_user.roles) if person else (),
            tuple(stamps.get(a, 0) for a in areas),
            utcnow().replace(second=0, microsecond=0) if clock else None,
            extra() if extra else None)


def stamp(area: str) -> int:
    """`area`'s stamp as this request saw it first (read afresh outside a request): the key
    for anything else kept per worker that shows that area's rows."""
    if has_request_context():
        return _stamps().get(area, 0)
    return dict(raw_read("SELECT area, stamp FROM content_stamps")).get(area, 0)


def _stamps() -> dict[str, int]:
    """Every area's stamp, read once per request before the view reads anything, on a
    pooled DBAPI connection of its own (a session's transaction costs more than the whole
    cached answer). Read before the view's data, a stamp is never newer than the page."""
    # On the request, not on `g`: a test's request context can share an app context (and
    # its `g`) with the requests before it.
    try:
        return request.tb_stamps
    except AttributeError:
        request.tb_stamps = dict(raw_read("SELECT area, stamp FROM content_stamps"))
        return request.tb_stamps


def _keep(key, response) -> None:
    if response.status_code != 200 or response.direct_passthrough or response.is_streamed \
            or "Set-Cookie" in response.headers or "_flashes" in session \
            or request_ctx.flashes:  # flashed and shown by this very request
        return
    body = response.get_data()
    token = g.get("csrf_token")
    if token:
        body = body.replace(token.encode(), _CSRF)
    headers = [(k, v) for k, v in response.headers.items()
               if k not in ("Content-Length", "Set-Cookie")]
    pages().put(key, (response.status_code, body, headers))


def _replay(entry):
    status, body, headers = entry
    if _CSRF in body:
        from flask_wtf.csrf import generate_csrf
        body = body.replace(_CSRF, generate_csrf().encode())
    response = make_response(body, status)
    response.headers.clear()
    response.headers.extend(headers)
    response.headers["X-Page-Cache"] = "hit"
    return response


# -- moving the stamps ----------------------------------------------------------------------------

def _note(session, table_name: str | None) -> None:
    area = AREAS.get(table_name or "", "unknown")
    if area == "unknown":  # a table nobody classified: treat it as every area
        session.info.setdefault("content_areas", set()).update(
            a for a in AREAS.values() if a)
    elif area:
        session.info.setdefault("content_areas", set()).add(area)


@event.listens_for(Session, "after_flush")
def _flushed(session, _context) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__table__", None)
        name = table.name if table is not None else None
        if obj in session.dirty:
            if not session.is_modified(obj):
                continue
            quiet = QUIET_COLUMNS.get(name)
            if quiet and all(a.key in quiet for a in inspect(obj).attrs if a.history.has_changes()):
                continue
        _note(session, name)


@event.listens_for(Session, "do_orm_execute")
def _bulk(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        name = getattr(getattr(state.statement, "table", None), "name", None)
        quiet = QUIET_COLUMNS.get(name)
        if quiet and state.is_update:
            values = getattr(state.statement, "_values", None) or {}
            if values and all(getattr(k, "key", k) in quiet for k in values):
                return
        _note(state.session, name)


@event.listens_for(Session, "before_commit")
def _move_stamps(session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # objects added but not flushed: the flush names their tables
    areas = session.info.pop("content_areas", None)
    if not areas:
        return
    rows = [{"area": a, "stamp": secrets.randbits(62)} for a in sorted(areas)]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(ContentStamp).values(rows)
    # Sorted, and the last statement of the transaction: concurrent writers take these rows
    # in the same order and hold them only while committing.
    session.execute(statement.on_conflict_do_update(
        index_elements=["area"], set_={"stamp": statement.excluded.stamp}))


@event.listens_for(Session, "after_transaction_end")
def _forget(session, transaction) -> None:
    if transaction.parent is None:  # the whole transaction, not a savepoint, ended
        session.info.pop("content_areas", None)


def register(app) -> None:
    """Each app its own pages (tests run many apps, on many databases, in one process)."""
    app.extensions["tongban.pages"] = _Pages(app.config["PAGE_CACHE_BYTES"])
    app.extensions["tongban.parts"] = _Pages(app.config["PAGE_CACHE_BYTES"] // 8)


# -- parts of pages ------------------------------------------------------------------------------

def kept_part(key: tuple, make) -> Markup:
    """A part of a page (HTML) this worker keeps under `key`, which must hold everything the
    part is made of (versions, the minute, the language): `make()` renders it on a miss. For
    parts many people poll at once — a station's queue on every desk, a hall's calls on every
    screen — rendered without context processors, so nothing of a person enters."""
    parts = current_app.extensions["tongban.parts"]
    entry = parts.get(key)
    if entry is None:
        entry = (None, Markup(make()))  # (sized by its second item, as the pages are)
        parts.put(key, entry)
    return entry[1]


def kept_part_if_any(key: tuple) -> Markup | None:
    """The part kept under `key`, if this worker has made it."""
    entry = current_app.extensions["tongban.parts"].get(key)
    return entry[1] if entry is not None else None
