"""Kiosk home and the idle reset that clears everything for the next person."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, url_for
from flask_babel import gettext as _

from portal.accounts import sessions
from portal.booking import access
from portal.booking.forms import LookupForm
from portal.booking import service as booking_service
from portal.page_cache import cached_page
from portal.extensions import limiter
from portal.main import hub as hub_content
from portal.web import (ELDER_COOKIE, KIOSK_COOKIE, LANG_COOKIE, cookies_secure, form_status,
                        is_kiosk, render)

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")


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
    return response


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
