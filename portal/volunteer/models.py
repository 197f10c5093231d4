"""Volunteer service (志愿服务): teams and stations, activities with places and a waitlist,
service hours with their history, star levels, micro-wishes (微心愿) and service orders
(居民点单、社区派单、志愿者接单、群众评单). See DESIGN.md §4.

Activity times are local wall-clock times (Asia/Shanghai), as a poster on the notice board
gives them: a day, a start and an end on that day.
"""
from __future__ import annotations

from datetime import date, datetime, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import (CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, event)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from portal.extensions import db
from portal.sealing import Sealed, lookup_hash
from portal.timeutil import utcnow

# The service areas of the national volunteer record (服务类别), shortened to what a town uses.
SKILLS = ("health", "legal", "digital", "culture", "sports", "elderly", "repair", "teaching",
          "environment", "other")
SKILL_LABELS = {
    "health": _l("医疗健康"), "legal": _l("法律服务"), "digital": _l("数码与手机指导"),
    "culture": _l("文化文艺"), "sports": _l("体育健身"), "elderly": _l("助老助残"),
    "repair": _l("家电维修"), "teaching": _l("教育辅导"), "environment": _l("环境保护"),
    "other": _l("其他"),
}
AVAILABILITY = ("weekday_day", "weekday_evening", "weekend")
AVAILABILITY_LABELS = {"weekday_day": _l("工作日白天"), "weekday_evening": _l("工作日晚上"),
                       "weekend": _l("周末和节假日")}
GENDERS = ("female", "male")
GENDER_LABELS = {"female": _l("女"), "male": _l("男")}

# A volunteer service (registered volunteers, hours) or an activity for residents (a class, a
# training: any signed-in resident or a kiosk guest with a name and phone; no hours, no ID).
ACTIVITY_KINDS = ("service", "resident")
ACTIVITY_KIND_LABELS = {"service": _l("志愿服务"), "resident": _l("居民活动")}
SIGNUP_STATUSES = ("confirmed", "waitlisted", "cancelled")
SIGNUP_LABELS = {"confirmed": _l("已报名"), "waitlisted": _l("候补中"), "cancelled": _l("已取消")}
HOUR_STATUSES = ("pending", "approved", "rejected")
HOUR_LABELS = {"pending": _l("待审核"), "approved": _l("已认定"), "rejected": _l("未认定")}
# posted → public (screened) → claimed → fulfilled → thanked; or rejected at screening, or
# withdrawn by the resident while nobody has claimed it.
WISH_STATUSES = ("posted", "public", "rejected", "claimed", "fulfilled", "thanked", "withdrawn")
WISH_LABELS = {"posted": _l("待审核"), "public": _l("待认领"), "rejected": _l("未通过"),
               "claimed": _l("已认领"), "fulfilled": _l("已实现"), "thanked": _l("已致谢"),
               "withdrawn": _l("已撤回")}
ORDER_STATUSES = ("ordered", "dispatched", "accepted", "done", "rated", "cancelled")
ORDER_LABELS = {"ordered": _l("已下单，待派单"), "dispatched": _l("已派单，待接单"),
                "accepted": _l("志愿者已接单"), "done": _l("服务完成，待评价"), "rated": _l("已评价"),
                "cancelled": _l("已取消")}

STEP_ACTION_LABELS = {"posted": _l("提交心愿"), "screened": _l("审核通过，登上心愿墙"),
                "rejected": _l("未通过审核"), "claimed": _l("已认领"), "fulfilled": _l("心愿已实现"),
                "thanked": _l("心愿人致谢"), "withdrawn": _l("已撤回"), "ordered": _l("居民点单"),
                "dispatched": _l("派单给团队"), "accepted": _l("志愿者接单"), "done": _l("服务完成"),
                "rated": _l("居民评价"), "cancelled": _l("已取消")}
HOUR_ACTION_LABELS = {"recorded": _l("记录"), "approved": _l("认定"), "adjusted": _l("调整后认定"),
                "rejected": _l("不认定")}


class Team(db.Model):
    """A volunteer team (志愿服务队): health clinic, legal aid, tech guidance …"""

    __tablename__ = "volunteer_teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    skill: Mapped[str] = mapped_column(String(12), default="other")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VolunteerStation(db.Model):
    """A volunteer station (志愿服务驿站), where activities meet and wishes are collected."""

    __tablename__ = "volunteer_stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    address: Mapped[str] = mapped_column(String(120), default="")
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    active: Mapped[bool] = mapped_column(default=True)


class Coordination(db.Model):
    """A coordinator acts for these teams and stations (one row each)."""

    __tablename__ = "volunteer_coordination"
    __table_args__ = (
        CheckConstraint("(team_id IS NULL) <> (station_id IS NULL)", name="team_or_station"),
        UniqueConstraint("user_id", "team_id", "station_id", name="uq_volunteer_coordination"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_teams.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_stations.id"))


class Volunteer(db.Model):
    """A resident registered as a volunteer, with what the volunteer record needs (志愿服务
    条例 Art. 13; 志愿服务记录与证明出具办法): real name, ID number, skills, availability."""

    __tablename__ = "volunteers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    real_name: Mapped[str] = mapped_column(String(40))
    # Encrypted (empty once the account is deleted); one record a person, kept by its keyed
    # hash, which is set with it.
    id_card: Mapped[str | None] = mapped_column(Sealed("volunteers.id_card"))
    id_card_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    gender: Mapped[str] = mapped_column(String(6))
    skills: Mapped[str] = mapped_column(String(200), default="")  # codes, comma-separated
    availability: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(String(200), default="")
    # The star level a coordinator has confirmed (0 = none yet); the approved hours say
    # which level is due, the review makes it official.
    star_level: Mapped[int] = mapped_column(default=0)
    star_reviewed_at: Mapped[datetime | None]
    star_reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The resident withdrew the consent the record rests on (privacy/erase.py): no longer a
    # volunteer until registering again; approved hours stay with the team.
    withdrawn_at: Mapped[datetime | None]

    user: Mapped["User"] = relationship(foreign_keys=[user_id])  # noqa: F821
    teams: Mapped[list[Team]] = relationship(secondary="volunteer_team_members",
                                             order_by="Team.name")

    @validates("id_card")
    def _hash_id_card(self, _key, value: str | None) -> str | None:
        self.id_card_hash = lookup_hash(value)
        return value

    @property
    def skill_codes(self) -> list[str]:
        return [s for s in self.skills.split(",") if s]

    @property
    def availability_codes(self) -> list[str]:
        return [s for s in self.availability.split(",") if s]


class TeamMember(db.Model):
    __tablename__ = "volunteer_team_members"
    __table_args__ = (UniqueConstraint("team_id", "volunteer_id", name="uq_team_members"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("volunteer_teams.id"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class Activity(db.Model):
    """One activity on one day. A weekly series is one row per week sharing `series`."""

    __tablename__ = "volunteer_activities"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("taken >= 0 AND taken <= capacity", name="never_over_capacity"),
        CheckConstraint("waiting >= 0", name="waiting_not_negative"),
        CheckConstraint("starts < ends", name="starts_before_ends"),
        CheckConstraint("status IN ('open', 'cancelled')", name="status"),
        CheckConstraint(f"kind IN {ACTIVITY_KINDS!r}", name="kind"),
        Index("ix_volunteer_activities_list", "status", "day", "starts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="service", server_default="service")
    team_id: Mapped[int] = mapped_column(ForeignKey("volunteer_teams.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("volunteer_stations.id"), index=True)
    title: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str] = mapped_column(String(120))
    bring: Mapped[str] = mapped_column(String(200), default="")  # what to bring
    skill: Mapped[str | None] = mapped_column(String(12), index=True)
    day: Mapped[date]
    starts: Mapped[time]
    ends: Mapped[time]
    capacity: Mapped[int]
    # Kept by the sign-up rules under the activity's row lock (see signups.py).
    taken: Mapped[int] = mapped_column(default=0)
    waiting: Mapped[int] = mapped_column(default=0)
    series: Mapped[str | None] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(10), default="open")
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    team: Mapped[Team] = relationship()
    station: Mapped[VolunteerStation] = relationship()

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.taken, 0)


class SignUp(db.Model):
    """A place on an activity, or on its waitlist (first come, first served): a volunteer's
    (volunteer service), or a resident's or kiosk guest's, by name and phone (a resident
    activity; `user_id` when signed in)."""

    __tablename__ = "volunteer_signups"
    __table_args__ = (
        UniqueConstraint("activity_id", "volunteer_id", name="uq_signups_activity_volunteer"),
        UniqueConstraint("activity_id", "phone", name="uq_signups_activity_phone"),
        CheckConstraint("volunteer_id IS NOT NULL OR phone IS NOT NULL", name="someone"),
        CheckConstraint(f"status IN {SIGNUP_STATUSES!r}", name="status"),
        Index("ix_volunteer_signups_queue", "activity_id", "status", "queued_at"),
        Index("ix_volunteer_signups_mine", "volunteer_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("volunteer_activities.id"))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"))
    # A resident activity's participant: who, and the phone the place is held by.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(11))
    status: Mapped[str] = mapped_column(String(12))
    code: Mapped[str] = mapped_column(String(12), unique=True)  # shown as a QR code for check-in
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    promoted_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]  # local wall-clock time
    checked_out_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]  # the day-before reminder went out

    activity: Mapped[Activity] = relationship()
    volunteer: Mapped[Volunteer | None] = relationship()

    @property
    def who(self) -> str:
        return self.volunteer.real_name if self.volunteer else self.name

    def contact(self) -> tuple[str, int | None]:
        """Where messages about this place go: (phone, user id)."""
        if self.volunteer is not None:
            return self.volunteer.user.phone, self.volunteer.user_id
        return self.phone, self.user_id


class HourRecord(db.Model):
    """Service time waiting for, or given, a coordinator's decision. Never deleted: every
    change is a HourChange with who, when and why."""

    __tablename__ = "volunteer_hours"
    __table_args__ = (
        CheckConstraint("minutes >= 0 AND minutes <= 1440", name="minutes_in_a_day"),
        CheckConstraint(f"status IN {HOUR_STATUSES!r}", name="status"),
        Index("ix_volunteer_hours_team_status", "team_id", "status"),
        Index("ix_volunteer_hours_volunteer_status", "volunteer_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("volunteer_teams.id"))
    signup_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_signups.id"), unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_orders.id"), unique=True)
    served_on: Mapped[date]
    what: Mapped[str] = mapped_column(String(80))  # the activity or service, for the record
    minutes: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    volunteer: Mapped[Volunteer] = relationship()
    team: Mapped[Team] = relationship()
    # passive_deletes="all": never null out the history; deleting a record fails instead.
    changes: Mapped[list[HourChange]] = relationship(back_populates="record",
                                                     order_by="HourChange.id",
                                                     passive_deletes="all")


class HourChange(db.Model):
    __tablename__ = "volunteer_hour_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("volunteer_hours.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(12))  # recorded, approved, adjusted, rejected
    status: Mapped[str] = mapped_column(String(10))
    minutes: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200), default="")

    record: Mapped[HourRecord] = relationship(back_populates="changes")
    actor: Mapped["User | None"] = relationship()  # noqa: F821


@event.listens_for(HourRecord, "before_delete")
@event.listens_for(HourChange, "before_delete")
def _never_deleted(_mapper, _connection, target) -> None:
    raise ValueError(f"{type(target).__name__} rows are kept for good; reject them instead")


class Wish(db.Model):
    """A micro-wish (微心愿). The public sees only the screened title, story and the name
    the coordinator chose (e.g. 东岭村王奶奶); contact details go to the claimant only."""

    __tablename__ = "volunteer_wishes"
    __table_args__ = (
        CheckConstraint(f"status IN {WISH_STATUSES!r}", name="status"),
        CheckConstraint("value_yuan >= 0", name="value_not_negative"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),
        CheckConstraint("claim_volunteer_id IS NULL OR claim_team_id IS NULL", name="one_claimant"),
        Index("ix_volunteer_wishes_wall", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("volunteer_stations.id"), index=True)
    title: Mapped[str] = mapped_column(String(40))
    story: Mapped[str] = mapped_column(Text)
    value_yuan: Mapped[int] = mapped_column(default=0)
    public_name: Mapped[str] = mapped_column(String(20), default="")
    phone: Mapped[str] = mapped_column(String(11))
    address: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(10), default="posted")
    reason: Mapped[str] = mapped_column(String(200), default="")
    claim_volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"))
    claim_team_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_teams.id"))
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"))  # who clicked
    claimed_at: Mapped[datetime | None]
    fulfil_note: Mapped[str] = mapped_column(Text, default="")
    fulfilled_at: Mapped[datetime | None]
    thanks: Mapped[str] = mapped_column(String(200), default="")
    rating: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped["User"] = relationship()  # noqa: F821
    station: Mapped[VolunteerStation] = relationship()
    claim_volunteer: Mapped[Volunteer | None] = relationship(foreign_keys=[claim_volunteer_id])
    claim_team: Mapped[Team | None] = relationship()


class ServiceOffer(db.Model):
    """An entry of the service menu (服务菜单) residents order from."""

    __tablename__ = "volunteer_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_teams.id"))  # usual team
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    team: Mapped[Team | None] = relationship()


class ServiceOrder(db.Model):
    """A resident's order (点单). Address and phone are seen by the dispatched team only."""

    __tablename__ = "volunteer_orders"
    __table_args__ = (
        CheckConstraint(f"status IN {ORDER_STATUSES!r}", name="status"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),
        Index("ix_volunteer_orders_station_status", "station_id", "status"),
        Index("ix_volunteer_orders_team_status", "team_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("volunteer_offers.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("volunteer_stations.id"))
    details: Mapped[str] = mapped_column(Text)
    wanted_on: Mapped[date | None]
    address: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(11))
    status: Mapped[str] = mapped_column(String(10), default="ordered")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_teams.id"))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"))
    done_note: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[int | None]
    rating_note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped["User"] = relationship()  # noqa: F821
    offer: Mapped[ServiceOffer] = relationship()
    station: Mapped[VolunteerStation] = relationship()
    team: Mapped[Team | None] = relationship()
    volunteer: Mapped[Volunteer | None] = relationship()


class Step(db.Model):
    """One step of a wish or an order, with who and when: the timeline the resident sees."""

    __tablename__ = "volunteer_steps"
    __table_args__ = (Index("ix_volunteer_steps_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    object_type: Mapped[str] = mapped_column(String(6))  # wish, order
    object_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(12))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
