"""The pages that gather every area: the hub at `/` and the resident's own page `/me/`;
language and elder-mode switches, `/healthz` and the privacy notice."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, request, url_for
from flask_login import current_user, login_required

from portal import health
from portal.accounts import sessions
from portal.booking import service as booking_service
from portal.extensions import db, limiter
from portal.main import hub as hub_content
from portal.notifications import messages_for
from portal.web import ELDER_COOKIE, LANG_COOKIE, cookies_secure, is_kiosk, render, safe_next
from portal.page_cache import cached_page

bp = Blueprint("main", __name__)

YEAR = 365 * 24 * 3600


@bp.route("/")
@cached_page("notices", signed_in=True)
def hub():
    """Search box, the four sections and today's notices."""
    today, notices = hub_content.todays_notices()
    return render("main/hub.html", sections=hub_content.sections(), notices=notices,
                  notices_today=today)


@bp.route("/me/")
@login_required
def me():
    """The resident's own page: account details (masked), bookings and messages."""
    current, earlier, visits = booking_service.of_user(current_user.id)
    return render("main/me.html", sessions_open=sessions.count_for(current_user),
                  current=current, earlier=earlier, visits=visits,
                  messages=messages_for(current_user.id))


@bp.route("/favicon.ico")
def favicon():
    """For browsers and crawlers that ask at the root; pages link the hashed static URL."""
    return redirect(url_for("static", filename="favicon.ico"), 301)


@bp.route("/prefs", methods=["POST"])
def prefs():
    """Switch language or elder mode; kept in a cookie so it stays on across pages and logins.

    On a kiosk the cookies last only until the idle reset clears them for the next person.
    """
    response = redirect(safe_next(request.form.get("next")))
    max_age = None if is_kiosk() else YEAR
    lang = request.form.get("lang")
    if lang in current_app.config["LANGUAGES"]:
        response.set_cookie(LANG_COOKIE, lang, max_age=max_age, samesite="Lax", httponly=True,
                            secure=cookies_secure())
        if current_user.is_authenticated and not is_kiosk() and current_user.locale != lang:
            current_user.locale = lang  # messages follow the language the resident reads in
            db.session.commit()
    elder = request.form.get("elder")
    if elder in ("on", "off"):
        response.set_cookie(ELDER_COOKIE, "1" if elder == "on" else "0", max_age=max_age,
                            samesite="Lax", httponly=True, secure=cookies_secure())
    return response


@bp.route("/privacy")
def privacy():
    """What personal data the portal keeps and why (PIPL notice)."""
    return render("main/privacy.html")


@bp.route("/accessibility")
def accessibility():
    """The accessibility statement: what works, what does not yet, how to get help."""
    from portal.dashboard.figures import towns
    return render("main/accessibility.html", towns=towns())


@bp.route("/open-data")
def open_data():
    """The published tables: where they are, what their fields mean, their licence."""
    from portal.dashboard.columns import COLUMNS
    return render("main/open_data.html", columns=COLUMNS)


@bp.route("/healthz")
@limiter.exempt
def healthz():
    """200 with a small JSON body when the database (at the expected schema), the search
    index folder and the upload folder answer; 503 saying which does not."""
    report = health.check()
    ok = all(value == "ok" for value in report.values())
    return jsonify(status="ok" if ok else "error", **report), 200 if ok else 503
