"""The station hall's public screens: the calling screen on the hall's TV
(`/stations/<id>/display`) and a ticket's own page (`/tickets/<code>`: printed at the kiosk,
opened from its QR code on the resident's phone). Numbers only: no name, no phone number.

The calling screen polls a tiny fragment every second with the state it shows; an unchanged
state is answered 204 (htmx swaps nothing), a new call within the next second. Chosen over
server-sent events with figures (bench/desk.py): each SSE screen holds a worker thread for as
long as it is on (a town's screens would take a node's threads, and a worker may take in
more streams than it has threads: those screens stay blank), where a poll holds nothing.
The polls are the whole cost, so they are answered in front of Flask (`ScreenPolls`): one
small read, no request context, session or page — the same CPU per poll as bare Flask
answering "hello" (bench/desk.py).
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs

from werkzeug.http import parse_cookie

from flask import Blueprint, abort, current_app, make_response
from flask_babel import get_locale

from portal.desk import tickets
from portal.desk.models import TICKET_STATUS_LABELS
from portal.extensions import db, htmx
from portal.main import hub
from portal.page_cache import kept_part, kept_part_if_any
from portal.places.models import Station
from portal.templating import label_filters
from portal.timeutil import local_today
from portal.security import CSP, HSTS
from portal.web import LANG_COOKIE, cookies_secure, render

bp = Blueprint("hall", __name__)
label_filters(bp, ticket_status=TICKET_STATUS_LABELS)

CALLS_SHOWN = 7  # the latest call large, six before it in the list


def _station(station_id: int) -> Station:
    station = db.session.get(Station, station_id)
    return station if station is not None and station.active else abort(404)


@bp.route("/stations/<int:station_id>/display")
def display(station_id: int):
    """The calling screen of a station's hall (a TV): the number called now and its window,
    the calls before it, how many wait, today's notices. Spoken by the screen's browser."""
    today = local_today()  # (an unchanged screen's poll is answered before Flask: ScreenPolls)
    state = tickets.screen_state(station_id, today)
    station = _station(station_id)

    def calls() -> str:  # what every screen of the station shows: rendered once per change
        return current_app.jinja_env.get_template("hall/_calls.html").render(
            station=station, state=state, waiting=tickets.waiting_count(station.id, today),
            calls=tickets.recent_calls(station.id, today, CALLS_SHOWN))

    shown = kept_part(("hall", station.id, state, str(get_locale())), calls)
    if htmx:
        response = make_response(shown)
        response.vary.add("HX-Request")
        return response
    return render("hall/display.html", station=station, calls_html=shown,
                  notices=hub.todays_notices(limit=8)[1])


def _ticket(code: str):
    ticket = tickets.by_code(code)
    return ticket if ticket is not None else abort(404)


@bp.route("/tickets/<ticket>")
def ticket(ticket: str):
    """A ticket: its number, the item, how many are ahead and the estimated wait, or the
    window it is called to. Printed at the kiosk; on the phone it updates itself."""
    found = _ticket(ticket)
    station = db.session.get(Station, found.station_id)
    return render("hall/ticket.html", "hall/_ticket_status.html", ticket=found,
                  station=station, outlook=tickets.outlook(found, station),
                  today=local_today())


class ScreenPolls:
    """The calling screens' polls, answered in front of Flask: a GET from htmx with the state
    the screen shows (`seen`) gets 204 while the station's state is still that one, and the
    new calls this worker has already rendered for another screen when it moved on; anything
    else goes on to the portal (which renders and keeps them). WSGI middleware, in front of
    the app like WhiteNoise: the polls of a hall's screens are most of its requests."""

    PATH = re.compile(r"/stations/(\d{1,9})/display")

    def __init__(self, app, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app
        with app.app_context():
            headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                       "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
                       "Cache-Control": "no-cache", "Vary": "HX-Request, Cookie"}
            if cookies_secure():
                headers["Strict-Transport-Security"] = HSTS
        self.headers = list(headers.items())
        self.languages = app.config["LANGUAGES"]

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("HTTP_HX_REQUEST") == "true":
            found = self.PATH.fullmatch(environ.get("PATH_INFO", ""))
            seen = parse_qs(environ.get("QUERY_STRING", "")).get("seen") if found else None
            if seen:
                station_id = int(found.group(1))
                with self.app.app_context():
                    state = tickets.screen_state(station_id, local_today())
                    if state is not None and seen[0] == state:
                        start_response("204 No Content", self.headers)
                        return []
                    lang = parse_cookie(environ).get(LANG_COOKIE)
                    shown = kept_part_if_any(("hall", station_id, state,
                                              lang if lang in self.languages else "zh"))
                if shown is not None:
                    body = shown.encode()
                    start_response("200 OK", [*self.headers, ("Content-Length", str(len(body))),
                                              ("Content-Type", "text/html; charset=utf-8")])
                    return [body]
        return self.wsgi_app(environ, start_response)


def serve_screen_polls(app) -> None:
    """Put ScreenPolls in front of everything (the last wrapper: the first to answer)."""
    app.wsgi_app = ScreenPolls(app, app.wsgi_app)
