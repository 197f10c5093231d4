"""Kiosk home, taking a ticket for the hall's line, and the idle reset that clears
everything for the next person."""
from __future__ import annotations

import secrets

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms.fields.choices import SelectChoice

from portal import refs
from portal.accounts import sessions
from portal.booking import access
from portal.booking.forms import LookupForm
from portal.booking import service as booking_service
from portal.desk import access as desk_access
from portal.desk import tickets, workflow
from portal.desk.forms import chosen_item, item_choices
from portal.desk.tickets import TicketRefused
from portal.desk.workflow import DeskRefused
from portal.extensions import db, limiter
from portal.kiosk.forms import SetupForm, TicketForm, WalkInForm
from portal.main import hub as hub_content
from portal.page_cache import cached_page
from portal.places.models import Station
from portal.timeutil import local_now, local_today
from portal.web import (ELDER_COOKIE, KIOSK_COOKIE, LANG_COOKIE, cookies_secure, form_status,
                        is_kiosk, render)

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")
# Which station's hall a kiosk stands in (signed: set by the station's staff at /kiosk/setup).
HALL_COOKIE = "tb_hall"


@bp.route("/")
@cached_page("notices")
def home():
    """Kiosk home: the big tiles and today's notices. Opening it marks this browser as a
    kiosk (idle reset, no remember-me)."""
    today, notices = hub_content.todays_notices(limit=4)
    response = render("kiosk/home.html", notices=notices, notices_today=today)
    if request.cookies.get(KIOSK_COOKIE) != "1":
        response.set_cookie(KIOSK_COOKIE, "1", max_age=10 * 365 * 24 * 3600, samesite="Lax",
                            httponly=True, secure=cookies_secure())
    return response


@bp.route("/rate", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def rate():
    """Rate a service at the kiosk: the code from the slip and the phone's last four digits,
    then one large button per level."""
    form = LookupForm()
    if form.validate_on_submit():
        booking = booking_service.by_ref(form.ref.data)
        if access.phone_matches(booking, form.phone4.data):
            access.grant(booking.ref)
            if booking.status == "completed":
                return redirect(url_for("ratings.rate", ref=booking.ref))
            form.form_errors.append(_("这个事项还没有办结，办结后才能评价。"))
        else:
            form.form_errors.append(_("预约编号或手机号后四位不正确，请核对后再试。"))
    return render("kiosk/rate.html", form=form), form_status(form)


def _fresh_start():
    """Sign out, forget language and elder mode, and go to the kiosk home."""
    sessions.end()
    response = redirect(url_for("kiosk.home"))
    for cookie in (LANG_COOKIE, ELDER_COOKIE):
        response.delete_cookie(cookie)
    return response


@bp.route("/reset", methods=["POST"])
def reset():
    """The "finish" button and the idle timer post here: everything is cleared."""
    return _fresh_start()


@bp.route("/leave", methods=["POST"])
def leave():
    """Turn kiosk mode off on this browser (for setting a screen up, or opened by mistake)."""
    sessions.end()
    response = redirect(url_for("main.hub"))
    response.delete_cookie(KIOSK_COOKIE)
    response.delete_cookie(HALL_COOKIE)
    return response


# -- the hall's line ---------------------------------------------------------------------------

def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="kiosk-hall")


def hall_token(station_id: int) -> str:
    """The kiosk cookie's value for a station: signed, so nobody can point a kiosk (or a
    phone) at a hall by hand."""
    return _signer().dumps(station_id)


def hall_station() -> Station | None:
    """The station whose hall this kiosk stands in, if its staff set it up."""
    try:
        station_id = _signer().loads(request.cookies.get(HALL_COOKIE, ""))
    except BadSignature:
        return None
    station = db.session.get(Station, station_id) if isinstance(station_id, int) else None
    return station if station is not None and station.active else None


@bp.route("/ticket", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def ticket():
    """取号: a booked resident checks in by the code or the QR on the slip or phone and gets
    a ticket; a skipped person scans the ticket to line up again. Walk-ins: next page."""
    station = hall_station()
    form = TicketForm()
    status = form_status(form)
    if station is not None and form.validate_on_submit():
        try:
            taken = _ticket_for(station, form.code.data, form.priority.data)
        except (TicketRefused, DeskRefused) as refused:
            db.session.rollback()
            form.code.errors.append(refused.message)
            status = 409
        else:
            return redirect(url_for("hall.ticket", ticket=taken.code))
    elif request.method == "POST":
        status = 422
    return render("kiosk/ticket.html", form=form, station=station,
                  waiting=tickets.waiting_count(station.id, local_today()) if station else 0), \
        status


def _ticket_for(station: Station, code: str, priority: bool):
    """The ticket for what was scanned or typed: a booking checked in now (or earlier), or
    a skipped ticket put in line again. TicketRefused/DeskRefused say why not."""
    scanned = refs.from_scan(code)
    found = tickets.by_code(scanned)
    if found is not None:
        if found.station_id != station.id:
            raise TicketRefused("other_station", _("这张排队号不是本站的。"))
        if found.status == "skipped":
            tickets.requeue(found, None, local_today())
        return found
    booking = booking_service.by_ref(scanned)
    if booking is None:
        raise TicketRefused("unknown", _("没有找到这个预约编号，请核对后再试，或选择“没有预约，现场取号”。"))
    if booking.station_id != station.id:
        raise TicketRefused("other_station", _("这个预约不是在本站办理。请到预约的服务站签到，或在“查预约”里查看。"))
    if booking.status == "booked":
        if booking.day != local_today():
            raise TicketRefused("wrong_day", _(
                "您预约的是%(day)s，不是今天。今天办理请选择“没有预约，现场取号”。",
                day=booking.day.strftime("%m月%d日")))
        workflow.check_in(booking, None, priority=priority)
    found = tickets.of_booking(booking.id)
    if found is None:
        raise TicketRefused("not_open", _("这个预约已经签到、办理或结束，不能再取号。请问询窗口工作人员。"))
    return found


@bp.route("/ticket/walk-in", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def walk_in():
    """取号 without a booking: the item, a name and a mobile number; a place from the
    station's walk-in reserve, under the same rules as at the desk."""
    station = hall_station()
    form = WalkInForm()
    form.item.choices = item_choices()
    if not form.key.data:
        form.key.data = secrets.token_urlsafe(24)
    status = form_status(form)
    if station is not None and form.validate_on_submit() and (item := chosen_item(form)):
        try:
            booking = workflow.register_walk_in(
                station=station, item=item, name=form.name.data, phone=form.phone.data,
                id_card=None, actor=None, key=form.key.data, priority=form.priority.data)
        except DeskRefused as refused:
            db.session.rollback()
            form.form_errors.append(refused.message)
            status = 409
        else:
            taken = tickets.of_booking(booking.id)
            if taken is not None:
                return redirect(url_for("hall.ticket", ticket=taken.code))
            form.form_errors.append(_("已登记，但还没有取到号，请问询窗口工作人员。"))
            status = 409
    elif request.method == "POST":
        status = 422
    return render("kiosk/walk_in.html", form=form, station=station,
                  slot=workflow.walk_in_slot(station, local_now()) if station else None), status


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """Staff set which station's hall this kiosk stands in (a clerk: the own station)."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login", next=request.path))
    me = current_user._get_current_object()
    stations = [s for s in desk_access.stations_for(me) if s.active]
    if not stations:
        abort(403)
    form = SetupForm()
    form.station.choices = [SelectChoice(s.id, s.name) for s in stations]
    if form.validate_on_submit():
        response = redirect(url_for("kiosk.ticket"))
        response.set_cookie(HALL_COOKIE, hall_token(form.station.data),
                            max_age=10 * 365 * 24 * 3600, samesite="Lax", httponly=True,
                            secure=cookies_secure())
        return response
    current = hall_station()
    if request.method == "GET" and current is not None:
        form.station.data = current.id
    return render("kiosk/setup.html", form=form, current=current), form_status(form)


def enforce_idle_reset(app) -> None:
    """Server side of the idle reset: a kiosk request after the idle limit starts afresh.

    The page's script resets after the limit too; this makes sure a kiosk left on a personal
    page without JavaScript (or with a frozen tab) never shows it to the next person.
    """
    @app.before_request
    def check_idle():
        if request.endpoint in ("static", "main.healthz") or not is_kiosk():
            return None
        if sessions.idle_too_long(current_app.config["KIOSK_IDLE_SECONDS"]):
            if request.method == "GET":
                return _fresh_start()
            sessions.end()  # a late POST goes on, signed out (the reset view itself, say)
        return None
