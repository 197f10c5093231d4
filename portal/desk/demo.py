"""Demo tickets: this morning's demo walk-ins at the first station stand in its hall's line
(the one checked in waits; the two in hand were called to windows 1 and 2), so the calling
screen, the desk's calling panel and a ticket's page have something to show."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from portal.booking import service
from portal.booking.models import Booking
from portal.desk import tickets
from portal.desk.models import Ticket
from portal.extensions import db
from portal.timeutil import local_today


def seed_hall(town) -> int:
    """Give the first station's demo cases of today their tickets, once; returns how many
    tickets there are. Nothing on a day the station is closed (the demo has no cases then)."""
    existing = db.session.scalar(select(func.count()).select_from(Ticket))
    if existing:
        return existing
    first = next(s for s in town.stations if s.kind == "village")
    today = db.session.scalars(select(Booking).where(
        Booking.station_id == first.id, Booking.day == local_today(),
        Booking.status.in_(("checked_in", "accepted", "in_progress")))
        .order_by(Booking.checked_in_at)).all()
    window = 0
    for booking in today:
        ticket = tickets.issue(booking, priority=False, actor_id=booking.responsible_id,
                               now=booking.checked_in_at)
        booking.events[-1].at = booking.checked_in_at
        if booking.status != "checked_in":
            window += 1
            db.session.flush()
            ticket.status, ticket.window = "served", min(window, first.windows)
            ticket.called_at, ticket.calls = booking.accepted_at - timedelta(minutes=1), 1
            service.record_event(booking, "call", booking.status, booking.status,
                                 booking.responsible_id, f"{ticket.label} → {ticket.window}")
            booking.events[-1].at = ticket.called_at
    db.session.commit()
    return len(today)
