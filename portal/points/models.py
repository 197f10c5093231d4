"""Points (积分) for good deeds, and rewards at partner shops and the town's services (爱心商家),
as in Quzhou's 邻礼通 and Kunming's 爱心商家.

A ledger, not a balance field: every grant, reversal, redemption and refund is a row with its
source, nothing is edited or deleted, and a balance is the sum of a person's rows. Rules are
kept the same way: a change is a new row, the newest per kind is in force.
"""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.timeutil import utcnow

# What earns points, and how much is counted: per approved hour of service, per fulfilled
# micro-wish, per verified civil act reported to the red list (for the reporter), per finished
# service order.
SOURCES = ("hours", "wish", "civil_act", "order")
SOURCE_LABELS = {"hours": _l("志愿服务时长（每小时）"), "wish": _l("实现一个微心愿"),
                 "civil_act": _l("随手拍文明之举被核实"), "order": _l("完成一次点单服务")}
ENTRY_KINDS = ("grant", "reversal", "redemption", "refund")
ENTRY_LABELS = {"grant": _l("获得"), "reversal": _l("收回"), "redemption": _l("兑换"),
                "refund": _l("退回")}
PARTNER_KINDS = ("shop", "town")
PARTNER_KIND_LABELS = {"shop": _l("爱心商家"), "town": _l("镇村服务")}
# issued → spent (the partner confirmed the code) | expired (not confirmed in time: points and
# stock go back)
REDEMPTION_STATUSES = ("issued", "spent", "expired")
REDEMPTION_LABELS = {"issued": _l("待使用"), "spent": _l("已使用"), "expired": _l("已过期，积分已退回")}


class PointRule(db.Model):
    """How many points a kind of deed earns, and at most how many a person earns from it in a
    calendar month (None: no cap). Never changed: a new rule is a new row."""

    __tablename__ = "point_rules"
    __table_args__ = (
        CheckConstraint(f"source IN {SOURCES!r}", name="source"),
        CheckConstraint("points >= 0", name="points_not_negative"),
        CheckConstraint("monthly_cap IS NULL OR monthly_cap >= 0", name="cap_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(10))
    points: Mapped[int]
    monthly_cap: Mapped[int | None]
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PointAccount(db.Model):
    """A person taking part: the row every change of their points locks first (two
    redemptions at once wait for each other), and whether they agreed to be named on the
    public board of top contributors. Holds no balance: the ledger does."""

    __tablename__ = "point_accounts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    named: Mapped[bool] = mapped_column(default=False)  # opt-in to the monthly board
    changes: Mapped[int] = mapped_column(default=0)  # bumped under the lock
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)


class PointEntry(db.Model):
    """One line of the ledger. A source (an hour record, a wish, a report, an order, a
    redemption) has numbered lines (`seq`), so each is written once whoever races."""

    __tablename__ = "point_entries"
    __table_args__ = (
        CheckConstraint(f"kind IN {ENTRY_KINDS!r}", name="kind"),
        # A grant may be 0 (the month's cap was reached) and so its reversal.
        CheckConstraint("points <> 0 OR kind IN ('grant', 'reversal')", name="points_not_zero"),
        UniqueConstraint("source_type", "source_id", "seq", name="uq_point_entries_source"),
        Index("ix_point_entries_user", "user_id", "id"),
        Index("ix_point_entries_month", "month", "source_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    points: Mapped[int]  # + granted or refunded, − reversed or spent
    kind: Mapped[str] = mapped_column(String(10))
    source_type: Mapped[str] = mapped_column(String(10))  # a SOURCE, or "redemption"
    source_id: Mapped[int]
    seq: Mapped[int]
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("point_rules.id"))
    worth: Mapped[int | None]  # a grant: what the deed was worth, before the month's cap
    month: Mapped[date]  # the town's calendar month it counts in (caps, the board)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    rule: Mapped[PointRule | None] = relationship()


@event.listens_for(PointEntry, "before_update")
@event.listens_for(PointEntry, "before_delete")
@event.listens_for(PointRule, "before_update")
@event.listens_for(PointRule, "before_delete")
def _never_changed(_mapper, _connection, target) -> None:
    raise ValueError(f"{type(target).__name__} rows are kept as written; add a new one instead")


class Partner(db.Model):
    """A partner shop (爱心商家) or a service of the town that takes points."""

    __tablename__ = "partners"
    __table_args__ = (CheckConstraint(f"kind IN {PARTNER_KINDS!r}", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(6), default="shop")
    address: Mapped[str] = mapped_column(String(120), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    rewards: Mapped[list[Reward]] = relationship(back_populates="partner",
                                                 order_by="Reward.points, Reward.id")


class Reward(db.Model):
    """Something a partner gives for points, while stock lasts and until a day."""

    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[int]
    stock: Mapped[int]  # taken by one conditional UPDATE per redemption, given back on expiry
    valid_until: Mapped[date]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    partner: Mapped[Partner] = relationship(back_populates="rewards")


class Redemption(db.Model):
    """A reward redeemed: a one-time code the partner confirms, or that expires."""

    __tablename__ = "redemptions"
    __table_args__ = (
        CheckConstraint(f"status IN {REDEMPTION_STATUSES!r}", name="status"),
        Index("ix_redemptions_partner", "partner_id", "status", "created_at"),
        Index("ix_redemptions_due", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("rewards.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    points: Mapped[int]
    status: Mapped[str] = mapped_column(String(8), default="issued")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    spent_at: Mapped[datetime | None]
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    reward: Mapped[Reward] = relationship()
    partner: Mapped[Partner] = relationship()
    user: Mapped["User"] = relationship(foreign_keys=[user_id])  # noqa: F821
