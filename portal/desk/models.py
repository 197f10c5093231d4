"""The station hall (取号/叫号): numbered tickets for the people checked in today, and the
counters that number them.

A ticket belongs to one checked-in booking (a booked resident's, or a walk-in's registered
through the walk-in reserve), so the clerk always knows whose number was called; the hall's
screens show the number only. Numbers restart each day per station and prefix (B007 booked,
A012 walk-in, L003 绿色通道: the elderly, disabled and pregnant).
"""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.booking.models import Booking
from portal.extensions import db
from portal.timeutil import utcnow

# waiting → called (to a window; called again, handed to another window) → served (the
# clerk accepted the case) | skipped (no answer) → waiting again when the person returns.
TICKET_STATUSES = ("waiting", "called", "served", "skipped")
TICKET_STATUS_LABELS = {"waiting": _l("等候中"), "called": _l("正在呼叫"), "served": _l("正在办理"),
                        "skipped": _l("已过号")}
PREFIXES = {"walkin": "A", "booked": "B", "priority": "L"}


class TicketCounter(db.Model):
    """The last number given per station, day and prefix: one conditional UPDATE takes the
    next, so two check-ins at the same instant never get the same number."""

    __tablename__ = "ticket_counters"

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(1), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class Ticket(db.Model):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("station_id", "day", "prefix", "number", name="uq_tickets_number"),
        CheckConstraint(f"status IN {TICKET_STATUSES!r}", name="status"),
        CheckConstraint("window_no IS NULL OR window_no BETWEEN 1 AND 99", name="window"),
        # The calling order: the waiting tickets of a station's day by their place in line.
        Index("ix_tickets_queue", "station_id", "day", "status", "order_at"),
        Index("ix_tickets_calls", "station_id", "day", "called_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The ticket's own page (the QR on the printed ticket): unguessable, like a booking code.
    code: Mapped[str] = mapped_column(String(12), unique=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    day: Mapped[date]
    prefix: Mapped[str] = mapped_column(String(1))
    number: Mapped[int]
    priority: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(10), default="waiting")
    window: Mapped[int | None] = mapped_column("window_no")  # WINDOW is SQL's own word
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Its place in line (tickets.order_at): the earlier, the sooner it is called.
    order_at: Mapped[datetime]
    called_at: Mapped[datetime | None]
    calls: Mapped[int] = mapped_column(default=0)

    booking: Mapped[Booking] = relationship()

    @property
    def label(self) -> str:
        """What the screen shows and the voice says: B007."""
        return f"{self.prefix}{self.number:03d}"
