"""Desk pages for clerks (own station only) and town-centre staff (every station)."""
from __future__ import annotations

from flask import Blueprint
from flask_login import current_user
from sqlalchemy import select

from portal.booking.models import HomeVisitRequest
from portal.extensions import db
from portal.security import staff_only
from portal.web import render

bp = Blueprint("desk", __name__, url_prefix="/desk")
staff_only(bp, "clerk", "town_staff")


@bp.route("/home-visits")
def home_visits():
    """Home-visit requests waiting to be scheduled: a clerk sees the own station's only."""
    query = select(HomeVisitRequest).order_by(HomeVisitRequest.created_at)
    if not current_user.has_role("town_staff"):
        query = query.where(HomeVisitRequest.station_id == current_user.station_id)
    return render("desk/home_visits.html", visits=db.session.scalars(query).all())
