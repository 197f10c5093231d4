"""Ratings after service (好差评) and the follow-up case a bad rating opens.

Nothing about a rating can be deleted: there is no delete anywhere in the code, and the
flush guard below refuses it should anyone try through the ORM.
"""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, String, Text, event
from sqlalchemy.orm import Mapped, Session, backref, mapped_column, relationship

from portal.booking.models import Booking
from portal.extensions import db
from portal.timeutil import utcnow

LEVELS = (5, 4, 3, 2, 1)
LEVEL_LABELS = {5: _l("非常满意"), 4: _l("满意"), 3: _l("基本满意"), 2: _l("不满意"),
                1: _l("非常不满意")}
BAD_LEVELS = (2, 1)  # 不满意 and 非常不满意 open a follow-up case
RATING_CHANNELS = ("kiosk", "online")


class Rating(db.Model):
    """One rating per booking (the unique booking_id), after it was completed."""

    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 5", name="level"),
        CheckConstraint(f"channel IN {RATING_CHANNELS!r}", name="channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), unique=True)
    # Copied from the booking, so the figures per station and clerk need no join.
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    level: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # The booking's pages show its rating as `booking.rating`: the tie runs from ratings to
    # booking, so the booking area never imports this one.
    booking: Mapped[Booking] = relationship(backref=backref("rating", uselist=False))
    follow_up: Mapped[FollowUp | None] = relationship(back_populates="rating")

    @property
    def label(self):
        return LEVEL_LABELS[self.level]


class FollowUp(db.Model):
    """A bad rating's case: call back within 1 working day, rectify within 15, reply.

    Each step is recorded once, with who and when; a step done is never overwritten.
    """

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    callback_due: Mapped[date]  # the last local day the call back is on time
    rectify_due: Mapped[date]
    called_back_at: Mapped[datetime | None]
    called_back_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    callback_note: Mapped[str] = mapped_column(Text, default="")
    rectified_at: Mapped[datetime | None]
    rectified_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rectify_note: Mapped[str] = mapped_column(Text, default="")
    replied_at: Mapped[datetime | None]
    replied_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reply: Mapped[str] = mapped_column(Text, default="")
    overdue_told_at: Mapped[datetime | None]  # the station was told a step is late

    rating: Mapped[Rating] = relationship(back_populates="follow_up")

    @property
    def closed(self) -> bool:
        return self.replied_at is not None and self.rectified_at is not None \
            and self.called_back_at is not None


@event.listens_for(Session, "before_flush")
def _never_delete(session, _context, _instances) -> None:
    """Refuse the flush before anything is written (a rating's delete would otherwise first
    detach its follow-up)."""
    for target in session.deleted:
        if isinstance(target, (Rating, FollowUp)):
            raise PermissionError(f"{type(target).__name__} rows are never deleted")
