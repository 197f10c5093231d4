"""Which cases a staff member may see and act on (checked per object on every desk route).

A clerk works for one station: its cases only, and not while a case is at the town centre.
Town-centre staff watch every station and act on what was forwarded to the centre and on
the centre's own cases. Everyone else, and a clerk asking about another station's case,
gets a 404 — the same answer as for a code that does not exist.
"""
from __future__ import annotations

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.booking.models import Booking
from portal.booking import service
from portal.extensions import db
from portal.places.models import Station


def is_town_staff(user) -> bool:
    return user.has_role("town_staff")


def sees(user, booking: Booking | None) -> bool:
    if booking is None:
        return False
    if is_town_staff(user):
        return True
    return user.has_role("clerk") and booking.station_id == user.station_id


def acts(user, booking: Booking) -> bool:
    """May `user` move this case on? (Seeing it is checked first.)"""
    if is_town_staff(user) and (booking.status == "forwarded" or booking.station.is_centre):
        return True
    return (user.has_role("clerk") and booking.station_id == user.station_id
            and booking.status != "forwarded")


def case_or_404(user, ref: str) -> Booking:
    booking = service.by_ref(ref, joinedload(Booking.item), joinedload(Booking.station))
    if not sees(user, booking):
        abort(404)
    return booking


def stations_for(user) -> list[Station]:
    """The stations whose desk `user` may open: the own one, or (town staff) every one."""
    if is_town_staff(user):
        return db.session.scalars(select(Station).order_by(Station.town_id, Station.position)).all()
    return [user.station] if user.has_role("clerk") and user.station else []


def station_or_404(user, station_id: int | None) -> Station | None:
    """The station asked for (`?station=`), if `user` may see it; else the user's own."""
    stations = stations_for(user)
    if station_id is None:
        own = user.station if user.station in stations else None
        return own or (None if is_town_staff(user) else abort(404))
    station = next((s for s in stations if s.id == station_id), None)
    return station or abort(404)
