"""Demo points: the rules (and one earlier rule they replaced), two partners with rewards, a
partner account, the points the demo's past deeds earned (settled by the same rules the portal
uses, in the months the deeds were done), and a few redemptions: one handed over, one waiting.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from portal.accounts.models import User
from portal.civility.models import Report
from portal.extensions import db
from portal.points import ledger
from portal.points.models import Partner, PointEntry, PointRule, Reward
from portal.timeutil import local_today, to_local, to_utc, utcnow
from portal.volunteer.models import HourRecord, ServiceOrder, Wish

PARTNER_ACCOUNT = "13800000701"
RESIDENT = "13800000002"
# (source, points, monthly cap, note)
RULES = (("hours", 10, 300, "每小时10分，每月最多300分"), ("wish", 20, None, "每个微心愿20分"),
         ("civil_act", 5, 30, "每条被核实的文明之举5分，每月最多30分"),
         ("order", 5, None, "每完成一次点单服务5分"))
PARTNERS = (
    ("青禾便民超市（演示）", "shop", "青禾镇东岭村村口", "0000-12345001", (
        ("洗衣液一瓶", "2升装", 80, 20), ("食用油一桶", "5升装", 300, 5),
        ("鸡蛋一盒", "10个装", 50, 30))),
    ("青禾镇综合文化站（演示）", "town", "青禾镇政务服务中心二楼", "0000-12345002", (
        ("电影票一张", "文化站每周六放映", 30, 40), ("理发一次", "志愿者理发服务，需预约", 40, 15))),
)


def seed_points() -> int:
    """Load the demo once; returns how many ledger lines there are."""
    if db.session.scalar(select(func.count()).select_from(Partner)):
        return db.session.scalar(select(func.count()).select_from(PointEntry))
    admin = db.session.scalar(select(User).where(User.phone == "13800000901"))
    long_ago = utcnow() - timedelta(days=120)
    db.session.add(PointRule(source="hours", points=8, monthly_cap=None, note="试行：每小时8分",
                             created_at=long_ago, created_by=admin.id if admin else None))
    db.session.add_all([PointRule(source=s, points=p, monthly_cap=cap, note=note,
                                  created_at=long_ago + timedelta(days=30),
                                  created_by=admin.id if admin else None)
                        for s, p, cap, note in RULES])
    today = local_today()
    partners = []
    for name, kind, address, phone, rewards in PARTNERS:
        partner = Partner(name=name, kind=kind, address=address, phone=phone)
        partner.rewards = [Reward(name=r, description=d, points=p, stock=s,
                                  valid_until=today + timedelta(days=90))
                           for r, d, p, s in rewards]
        partners.append(partner)
    db.session.add_all(partners)
    db.session.flush()
    account = db.session.scalar(select(User).where(User.phone == PARTNER_ACCOUNT))
    if account is not None:
        account.partner_id = partners[0].id
    _history(since=to_local(long_ago).date())
    db.session.commit()
    _redemptions(partners)
    return db.session.scalar(select(func.count()).select_from(PointEntry))


def _at(day) -> datetime:
    return to_utc(datetime.combine(day, datetime.min.time()) + timedelta(hours=18))


def _history(since) -> None:
    """What the demo's deeds since points began earned, each in its own month."""
    for record in db.session.scalars(select(HourRecord).where(
            HourRecord.status == "approved", HourRecord.served_on >= since)
            .order_by(HourRecord.served_on, HourRecord.id)):
        ledger.settle("hours", record, now=_at(record.served_on))
    for wish in db.session.scalars(select(Wish).where(Wish.status.in_(("fulfilled", "thanked")))):
        ledger.settle("wish", wish, now=wish.fulfilled_at or utcnow())
    for order in db.session.scalars(select(ServiceOrder).where(
            ServiceOrder.status.in_(("done", "rated")))):
        ledger.settle("order", order, now=order.created_at)
    for report in db.session.scalars(select(Report).where(
            Report.kind == "praise", Report.status.in_(("verified", "published")))):
        ledger.settle("civil_act", report, now=report.verified_at or report.created_at)
    # A few agreed to be named on the public board.
    earners = db.session.scalars(select(PointEntry.user_id).distinct()
                                 .order_by(PointEntry.user_id)).all()
    for user_id in earners[::2]:
        ledger.lock(user_id).named = True


def _redemptions(partners: list[Partner]) -> None:
    """The second demo resident (李建国) redeems twice: one handed over, one code still to
    show."""
    from portal.points import rewards
    resident = db.session.scalar(select(User).where(User.phone == RESIDENT))
    if resident is None:
        return
    cheap = min(partners[1].rewards, key=lambda r: r.points)
    if ledger.balance(resident.id) >= cheap.points:
        spent = rewards.redeem(resident, cheap, now=utcnow() - timedelta(days=3))
        clerk = db.session.scalar(select(User.id).where(User.phone == PARTNER_ACCOUNT))
        rewards.confirm(spent.code, partners[1], actor_id=clerk or resident.id,
                        now=utcnow() - timedelta(days=3, hours=-2))
    eggs = min(partners[0].rewards, key=lambda r: r.points)
    if ledger.balance(resident.id) >= eggs.points:
        rewards.redeem(resident, eggs)
