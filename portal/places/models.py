"""Town → villages → service stations, with weekly opening hours and closed days.

A town has one town service centre (kind `centre`) and one station per village (kind
`village`). Booking computes slots from a station's opening periods minus its closed days.
"""
from __future__ import annotations

import secrets
from datetime import date, time

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy import event, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.extensions import db


def new_version() -> str:
    """A fresh random version token (see Station.hours_version)."""
    return secrets.token_hex(8)


class Town(db.Model):
    __tablename__ = "towns"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(40), default="")

    villages: Mapped[list[Village]] = relationship(
        back_populates="town", order_by="Village.position, Village.id"
    )
    stations: Mapped[list[Station]] = relationship(
        back_populates="town", order_by="Station.position, Station.id"
    )


class Village(db.Model):
    __tablename__ = "villages"
    __table_args__ = (UniqueConstraint("town_id", "name", name="uq_villages_town_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(default=0)

    town: Mapped[Town] = relationship(back_populates="villages")
    station: Mapped[Station | None] = relationship(back_populates="village")


class Station(db.Model):
    __tablename__ = "stations"
    __table_args__ = (
        CheckConstraint("kind IN ('centre', 'village')", name="kind"),
        CheckConstraint(
            "(kind = 'centre') = (village_id IS NULL)", name="village_iff_village_station"
        ),
        CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="slot_minutes"),
        CheckConstraint("capacity_online >= 0 AND capacity_phone >= 0 AND capacity_walkin >= 0",
                        name="capacity_not_negative"),
        CheckConstraint("windows BETWEEN 1 AND 99", name="windows"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="village")
    name: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    # Where it is, to offer the nearest stations first (WGS-84 degrees; optional).
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    # Booking: slot length and places per slot, split by channel like Munich's system so
    # phone callers and walk-ins are never crowded out by the web (AB岗 keeps it above zero).
    slot_minutes: Mapped[int] = mapped_column(default=30)
    capacity_online: Mapped[int] = mapped_column(default=2)  # web and kiosk
    capacity_phone: Mapped[int] = mapped_column(default=1)
    capacity_walkin: Mapped[int] = mapped_column(default=1)
    # Service windows in the hall (1号窗口 …): where the calling screen sends people.
    windows: Mapped[int] = mapped_column(default=2, server_default="2")
    # A fresh random token whenever its opening periods or closed days change (the flush
    # hook below), so a worker may keep the station's weekly rules in memory until it moves.
    # Random rather than counted: a restored or another database never repeats one.
    hours_version: Mapped[str] = mapped_column(String(16), default=new_version,
                                               server_default="0")
    # The same for the places taken in its slots: booking.service moves it in the transaction
    # of every booking, cancellation and move there, so availability can be kept per worker.
    usage_version: Mapped[str] = mapped_column(String(16), default=new_version,
                                               server_default="0")
    # …and for its desk queue: every step of a case or a ticket there (desk.queue.changed),
    # so a worker may keep the queue's rendered rows until it moves.
    queue_version: Mapped[str] = mapped_column(String(16), default=new_version,
                                               server_default="0")

    town: Mapped[Town] = relationship(back_populates="stations")
    village: Mapped[Village | None] = relationship(back_populates="station")
    periods: Mapped[list[OpeningPeriod]] = relationship(
        back_populates="station",
        cascade="all, delete-orphan",
        order_by="OpeningPeriod.weekday, OpeningPeriod.opens",
    )
    closed_days: Mapped[list[ClosedDay]] = relationship(
        back_populates="station", cascade="all, delete-orphan", order_by="ClosedDay.day"
    )

    @property
    def is_centre(self) -> bool:
        return self.kind == "centre"

    def capacity(self, pool: str) -> int:
        """Places per slot in a capacity pool: `online` (web + kiosk), `phone` or `walkin`."""
        return {"online": self.capacity_online, "phone": self.capacity_phone,
                "walkin": self.capacity_walkin}[pool]


class OpeningPeriod(db.Model):
    """One opening period on one weekday, e.g. Monday 08:30–12:00. A day may have several."""

    __tablename__ = "opening_periods"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("opens < closes", name="opens_before_closes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    weekday: Mapped[int]
    opens: Mapped[time]
    closes: Mapped[time]

    station: Mapped[Station] = relationship(back_populates="periods")


class ClosedDay(db.Model):
    """A day a station is closed although its weekly hours say open (holiday, training …)."""

    __tablename__ = "closed_days"
    __table_args__ = (UniqueConstraint("station_id", "day", name="uq_closed_days_station_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    day: Mapped[date]
    reason: Mapped[str] = mapped_column(String(100), default="")

    station: Mapped[Station] = relationship(back_populates="closed_days")


@event.listens_for(Session, "before_flush")
def _bump_hours_version(session, _context, _instances) -> None:
    """Any added, changed or deleted opening period or closed day moves its station's version."""
    changed = {id(o.station): o.station
               for o in (*session.new, *session.dirty, *session.deleted)
               if isinstance(o, (OpeningPeriod, ClosedDay)) and o.station is not None}
    for o in session.dirty:  # a collection emptied or replaced: its orphans are not "deleted" yet
        if isinstance(o, Station) and any(
                inspect(o).attrs[name].history.has_changes() for name in ("periods", "closed_days")):
            changed[id(o)] = o
    for station in changed.values():
        station.hours_version = new_version()


class CalendarDay(db.Model):
    """An exception to the Monday–Friday working week, for the whole country: a public
    holiday on a weekday (`workday` False) or a make-up working day (调休) on a weekend
    (`workday` True). Deadlines in working days (rating follow-ups) count with these."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    workday: Mapped[bool]
    name: Mapped[str] = mapped_column(String(40), default="")

    @property
    def id(self) -> str:
        """What the audit log names it by (the day is the key)."""
        return self.day.isoformat()
