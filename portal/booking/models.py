"""The service catalogue, bookings with their event timeline, slot counters and home visits."""
from __future__ import annotations

from datetime import date, datetime, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.places.models import Station
from portal.sealing import Sealed
from portal.timeutil import utcnow

# Booking states (DESIGN.md §4). The desk work moves bookings through the later ones.
STATUSES = ("booked", "checked_in", "accepted", "in_progress", "completed", "returned",
            "forwarded", "rejected", "cancelled", "no_show")
STATUS_LABELS = {
    "booked": _l("已预约"), "checked_in": _l("已签到"), "accepted": _l("已受理"),
    "in_progress": _l("办理中"), "completed": _l("已办结"), "returned": _l("退回补正"),
    "forwarded": _l("已转镇中心办理"), "rejected": _l("不予办理"), "cancelled": _l("已取消"),
    "no_show": _l("未到场"),
}
# Still needing the resident or a clerk: these count against the per-person limits.
OPEN_STATUSES = ("booked", "checked_in", "accepted", "in_progress", "forwarded")
# Who asked: the web (phone or PC), the kiosk, a phone call to the station, a walk-in.
CHANNELS = ("online", "kiosk", "phone", "walkin")
# Which capacity a channel draws on: web and kiosk share one pool (DESIGN.md §4).
POOL_OF_CHANNEL = {"online": "online", "kiosk": "online", "phone": "phone", "walkin": "walkin"}
# The catalogue's fixed vocabularies, translated; anything else in those fields is free text
# and shows as written.
MATERIAL_FORM_LABELS = {"原件": _l("原件"), "复印件": _l("复印件"), "原件和复印件": _l("原件和复印件")}
FEE_LABELS = {"免费": _l("免费")}
CHANNEL_LABELS = {"online": _l("网上预约"), "kiosk": _l("自助终端"), "phone": _l("电话预约"),
                  "walkin": _l("现场办理")}
# What each timeline step is called on the status and desk pages.
EVENT_LABELS = {
    "book": _l("预约"), "cancel": _l("取消预约"), "move": _l("改期"), "check_in": _l("到场签到"),
    "accept": _l("受理"), "start": _l("开始办理"), "complete": _l("办结"), "return": _l("退回补正"),
    "resume": _l("材料补齐，继续办理"), "reject": _l("不予办理"), "forward": _l("转镇政务服务中心"),
    "no_show": _l("未到场"), "proxy": _l("登记代办人"), "rate": _l("居民评价"),
    # The station hall (desk.tickets): the ticket and its calls.
    "ticket": _l("取号"), "call": _l("叫号"), "recall": _l("重呼"), "skip": _l("过号"),
    "transfer": _l("转窗"), "requeue": _l("过号后重新排队"),
}
# Notes the resident sees on the status page (the others are the staff's own notes).
PUBLIC_NOTES = ("move", "return", "reject", "ticket", "call", "recall", "skip", "transfer",
                "requeue")

_OPEN_SQL = f"status IN {OPEN_STATUSES!r}"  # the partial index's condition (as in 0002)


class ServiceCategory(db.Model):
    __tablename__ = "service_categories"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(default=0)

    items: Mapped[list[ServiceItem]] = relationship(
        back_populates="category", order_by="ServiceItem.position, ServiceItem.code")


class ServiceItem(db.Model):
    """One item of the town's "47+N" list, with its service guide (办事指南)."""

    __tablename__ = "service_items"
    __table_args__ = (
        CheckConstraint("handling IN ('direct', 'forward')", name="handling"),
        CheckConstraint("time_limit_days >= 0", name="time_limit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("service_categories.code"), index=True)
    standard: Mapped[bool] = mapped_column(default=True)  # one of the 47; False = the town's N
    handling: Mapped[str] = mapped_column(String(10), default="direct")
    time_limit_days: Mapped[int] = mapped_column(default=0)  # 0 = on the spot (即办)
    fee: Mapped[str] = mapped_column(String(100), default="免费")
    conditions: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    home_visit: Mapped[bool] = mapped_column(default=False)
    proxy_allowed: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)

    category: Mapped[ServiceCategory] = relationship(back_populates="items")
    materials: Mapped[list[Material]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="Material.position")


class Material(db.Model):
    __tablename__ = "materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(100))
    form: Mapped[str] = mapped_column(String(20), default="原件")  # 原件 / 复印件
    copies: Mapped[int] = mapped_column(default=1)
    note: Mapped[str] = mapped_column(String(200), default="")

    item: Mapped[ServiceItem] = relationship(back_populates="materials")


class SlotUsage(db.Model):
    """How many places of one slot's capacity pool are taken.

    The counter row is what makes overbooking impossible: a booking takes a place with one
    conditional UPDATE (`taken = taken + 1 WHERE taken < capacity`), which both SQLite and
    PostgreSQL execute atomically, instead of counting bookings and then inserting.
    """

    __tablename__ = "slot_usage"
    __table_args__ = (
        UniqueConstraint("station_id", "day", "starts", "pool", name="uq_slot_usage_slot"),
        CheckConstraint("taken >= 0", name="taken_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    day: Mapped[date]
    starts: Mapped[time]
    pool: Mapped[str] = mapped_column(String(10))
    taken: Mapped[int] = mapped_column(default=0)


class OpenBookingCount(db.Model):
    """Open bookings per phone number, kept by the same conditional update as slots."""

    __tablename__ = "open_booking_counts"
    __table_args__ = (CheckConstraint("open_count >= 0", name="open_not_negative"),)

    phone: Mapped[str] = mapped_column(String(11), primary_key=True)
    open_count: Mapped[int] = mapped_column(default=0)


class Booking(db.Model):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint(f"channel IN {CHANNELS!r}", name="channel"),
        # At most one open booking per person and item, whatever the concurrency.
        Index("uq_bookings_open_item_per_phone", "phone", "item_id", unique=True,
              sqlite_where=text(_OPEN_SQL), postgresql_where=text(_OPEN_SQL)),
        Index("ix_bookings_station_day", "station_id", "day"),
        # The per-person checks look bookings up by phone and item (and the phone alone).
        Index("ix_bookings_phone_item", "phone", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(12), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    day: Mapped[date]
    starts: Mapped[time]
    ends: Mapped[time]
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default="booked", index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(11))
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reminded_at: Mapped[datetime | None]
    # The desk (desk/workflow.py). The clerk who accepted it is responsible to the end, even
    # after forwarding (首问负责). Times are this round at the desk: a case returned for
    # missing materials and resumed starts a new round (the events keep the whole story).
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    checked_in_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]  # completed, rejected, returned or forwarded
    forwarded_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    # Entered at the desk for walk-ins and phone callers; shown masked, revealed on purpose.
    id_card: Mapped[str | None] = mapped_column(Sealed("bookings.id_card"))  # encrypted
    # Proxy handling (帮办代办): who applied on the resident's behalf, and how related.
    proxy_name: Mapped[str | None] = mapped_column(String(40))
    proxy_phone: Mapped[str | None] = mapped_column(String(11))
    proxy_id_card: Mapped[str | None] = mapped_column(Sealed("bookings.proxy_id_card"))
    proxy_relation: Mapped[str | None] = mapped_column(String(12))
    # The clerk's words on the last one-time notice, beside the materials still missing.
    supplement_note: Mapped[str | None] = mapped_column(Text)

    item: Mapped[ServiceItem] = relationship()
    station: Mapped[Station] = relationship()
    responsible: Mapped["User | None"] = relationship(foreign_keys=[responsible_id])  # noqa: F821
    events: Mapped[list[BookingEvent]] = relationship(
        back_populates="booking", cascade="all, delete-orphan", order_by="BookingEvent.id")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def pool(self) -> str:
        return POOL_OF_CHANNEL[self.channel]


class BookingEvent(db.Model):
    """One step of a booking's timeline: who, when, from which state to which, and why."""

    __tablename__ = "booking_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")

    booking: Mapped[Booking] = relationship(back_populates="events")
    actor: Mapped["User | None"] = relationship()  # noqa: F821


HOME_VISIT_REASONS = ("elderly", "disabled", "ill", "other")
HOME_VISIT_STATUSES = ("requested", "scheduled", "done", "cancelled")
HOME_VISIT_STATUS_LABELS = {"requested": _l("已申请，等待服务站联系"), "scheduled": _l("已约定上门时间"),
                            "done": _l("已上门办理"), "cancelled": _l("已取消")}


class HomeVisitRequest(db.Model):
    """A request for 上门服务: the station's clerks schedule it (the desk work)."""

    __tablename__ = "home_visit_requests"
    __table_args__ = (
        CheckConstraint(f"reason IN {HOME_VISIT_REASONS!r}", name="reason"),
        CheckConstraint(f"status IN {HOME_VISIT_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(11))
    address: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(10))
    preferred_days: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="requested")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Scheduled and recorded at the desk.
    visit_at: Mapped[datetime | None]  # local wall-clock time agreed with the resident
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str] = mapped_column(Text, default="", server_default="")
    done_at: Mapped[datetime | None]

    item: Mapped[ServiceItem] = relationship()
    station: Mapped[Station] = relationship()
    clerk: Mapped["User | None"] = relationship(foreign_keys=[clerk_id])  # noqa: F821


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
