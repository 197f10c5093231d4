"""What the desk records beside the booking itself: the materials checklist."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.booking.models import Booking, Material
from portal.extensions import db
from portal.timeutil import utcnow


# Brought; missing; or not needed for this application (a power of attorney when the
# resident came in person, say), so the one-time notice never asks for it.
MATERIAL_STATES = ("brought", "missing", "not_needed")
MATERIAL_STATE_LABELS = {"brought": _l("已带来"), "missing": _l("缺少"), "not_needed": _l("不需要")}


class MaterialCheck(db.Model):
    """What the clerk found for one material of the item's list, for one booking.

    A material without a row has not been checked yet and counts as missing: the one-time
    notice (一次性告知书) lists every material that is neither brought nor not needed.
    """

    __tablename__ = "material_checks"
    __table_args__ = (UniqueConstraint("booking_id", "material_id",
                                       name="uq_material_checks_booking_material"),
                      CheckConstraint(f"state IN {MATERIAL_STATES!r}", name="state"))

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id"))
    state: Mapped[str] = mapped_column(String(12))
    checked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)

    booking: Mapped[Booking] = relationship()
    material: Mapped[Material] = relationship()
