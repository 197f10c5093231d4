"""Residents rate a completed service (好差评): online from the status page, or at the kiosk
(a large button per level). Who may rate is who may see the booking (booking.access)."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from sqlalchemy import select

from portal.booking import access
from portal.booking.models import Booking
from portal.booking import service
from portal.extensions import db, limiter
from portal.ratings import rules
from portal.ratings.forms import RatingForm
from portal.ratings.models import LEVEL_LABELS, LEVELS, Rating
from portal.web import is_kiosk, render
from portal.ratings.rules import STEP_HINTS, STEP_LABELS
from portal.templating import label_filters

bp = Blueprint("ratings", __name__)
label_filters(bp, step_label=STEP_LABELS, step_hint=STEP_HINTS)


def _booking(ref: str) -> Booking:
    booking = service.by_ref(ref)
    if not access.may_see(booking):
        abort(404)
    return booking


@bp.route("/bookings/<ref>/rate", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def rate(ref: str):
    """Five levels, one tap each, with an optional comment; one rating per booking."""
    booking = _booking(ref)
    rating = db.session.scalar(select(Rating).where(Rating.booking_id == booking.id))
    if rating is not None:
        return render("ratings/thanks.html", booking=booking, rating=rating)
    if booking.status != "completed":
        abort(404)
    form = RatingForm()
    status = 200
    if form.validate_on_submit():
        level = request.form.get("level", type=int)
        try:
            rating = rules.rate(booking, level=level, comment=form.comment.data or "",
                                channel="kiosk" if is_kiosk() else "online")
        except rules.RatingRefused as refused:
            form.form_errors.append(refused.message)
            status = 409 if refused.code == "rated" else 422
        else:
            return redirect(url_for("ratings.rate", ref=booking.ref))
    elif form.errors:
        status = 422
    return render("ratings/rate.html", booking=booking, form=form,
                  levels=[(level, LEVEL_LABELS[level]) for level in LEVELS]), status
