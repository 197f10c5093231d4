"""Redeeming points for a partner's reward, the partner confirming the code, codes expiring.

- A redemption locks the person's account row first (ledger.lock), reads the balance, then
  takes one of the reward's stock by one conditional UPDATE (`stock = stock - 1 WHERE stock >
  0`): two redemptions racing for the last item leave exactly one winner, and spending the
  same balance twice leaves one winner too — never a negative balance, never a negative stock.
- The code is good for REDEMPTION_DAYS; the partner confirms it once (a conditional UPDATE from
  `issued`), for its own rewards only. An unconfirmed code expires: its points come back as a
  refund line and its item goes back into stock (the jobs worker, every minute).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from portal import audit, refs
from portal.database import write_transaction
from portal.extensions import db
from portal.notifications import notify
from portal.points import ledger
from portal.points.models import Partner, Redemption, Reward
from portal.refused import Refused
from portal.timeutil import to_local, utcnow
from portal.transitions import advance

REDEMPTION_DAYS = 7
CODE_PREFIX = "R"


class PointsRefused(Refused):
    """A points rule said no."""


def available(reward: Reward, now: datetime) -> bool:
    return (reward.active and reward.partner.active and reward.stock > 0
            and reward.valid_until >= to_local(now).date())


def redeem(user, reward: Reward, now: datetime | None = None) -> Redemption:
    """Spend points on a reward: a one-time code for the partner (module docstring)."""
    now = now or utcnow()
    with write_transaction():
        ledger.lock(user.id)
        fresh = db.session.scalar(select(Reward).where(Reward.id == reward.id)
                                  .execution_options(populate_existing=True))
        if not (fresh.active and fresh.partner.active) or \
                fresh.valid_until < to_local(now).date():
            raise PointsRefused("unavailable", _l("这个兑换项目已经下架或过期了。"))
        have = ledger.balance(user.id)
        if have < fresh.points:
            raise PointsRefused("not_enough", _l(
                "积分不够：需要%(need)d分，您现在有%(have)d分。", need=fresh.points, have=have))
        taken = db.session.execute(update(Reward).where(
            Reward.id == fresh.id, Reward.stock > 0).values(stock=Reward.stock - 1)).rowcount
        if not taken:
            raise PointsRefused("out_of_stock", _l("这个项目刚刚兑换完了，看看其他的吧。"))
        redemption = Redemption(code=refs.new_code(CODE_PREFIX), user_id=user.id,
                                reward_id=fresh.id, partner_id=fresh.partner_id,
                                points=fresh.points, created_at=now,
                                expires_at=now + timedelta(days=REDEMPTION_DAYS))
        db.session.add(redemption)
        db.session.flush()
        ledger.add(user.id, -fresh.points, "redemption", "redemption", redemption.id,
                   note=f"{fresh.partner.name} · {fresh.name}", now=now)
        notify(phone=user.phone, user_id=user.id, kind="points", body=_l(
            "您已用%(points)d积分兑换“%(reward)s”（%(partner)s），兑换码 %(code)s，"
            "%(days)d天内到店出示。", points=fresh.points, reward=fresh.name,
            partner=fresh.partner.name, code=redemption.code, days=REDEMPTION_DAYS))
        db.session.commit()
        return redemption


def partners() -> list[Partner]:
    """The partners taking points now, each with its rewards on offer."""
    return db.session.scalars(select(Partner).where(Partner.active.is_(True))
                              .options(selectinload(Partner.rewards))
                              .order_by(Partner.kind.desc(), Partner.name)).all()


def of_user(user_id: int) -> list[Redemption]:
    """A resident's redemptions, the newest first."""
    return db.session.scalars(select(Redemption).where(Redemption.user_id == user_id)
                              .options(selectinload(Redemption.reward),
                                       selectinload(Redemption.partner))
                              .order_by(Redemption.id.desc())).all()


def by_code(raw: str | None) -> Redemption | None:
    """The redemption a typed or scanned code names, with or without its leading R."""
    return db.session.scalar(select(Redemption).where(
        Redemption.code == CODE_PREFIX + refs.from_scan(raw or "")))


def confirm(code: str, partner: Partner, actor_id: int, now: datetime | None = None) -> Redemption:
    """The partner takes the code (typed, or its QR scanned): spent, once, for its own
    rewards only. Another partner's code is "not found", as a made-up one is."""
    now = now or utcnow()
    redemption = by_code(code)
    if redemption is None or redemption.partner_id != partner.id:
        raise PointsRefused("unknown", _l("没有找到这个兑换码，请核对后再输入。"))
    if redemption.status == "spent":
        raise PointsRefused("spent", _l("这个兑换码已经使用过了（%(at)s）。",
                                        at=f"{to_local(redemption.spent_at):%m-%d %H:%M}"))
    if redemption.status == "expired" or redemption.expires_at <= now:
        raise PointsRefused("expired", _l("这个兑换码已经过期，积分已退回给居民。"))
    with write_transaction():
        advance(redemption, Redemption.status == "issued", Redemption.expires_at > now,
                status="spent", spent_at=now, confirmed_by=actor_id,
                refused=PointsRefused("spent", _l("这个兑换码刚刚已经使用或过期了。")))
        audit.record("points.confirm", redemption, code=redemption.code,
                     reward=redemption.reward_id)
        db.session.commit()
    return redemption


def expire_due(now: datetime | None = None) -> int:
    """Expire the codes not confirmed in time: the points come back, the item goes back into
    stock. Each in its own transaction, each once (a conditional UPDATE from `issued`)."""
    now = now or utcnow()
    due = db.session.scalars(select(Redemption.id).where(
        Redemption.status == "issued", Redemption.expires_at <= now)).all()
    done = 0
    for redemption_id in due:
        with write_transaction():
            redemption = db.session.get(Redemption, redemption_id)
            ledger.lock(redemption.user_id)
            expired = db.session.execute(update(Redemption).where(
                Redemption.id == redemption_id, Redemption.status == "issued",
                Redemption.expires_at <= now).values(status="expired")).rowcount
            if expired:
                db.session.execute(update(Reward).where(Reward.id == redemption.reward_id)
                                   .values(stock=Reward.stock + 1))
                ledger.add(redemption.user_id, redemption.points, "refund", "redemption",
                           redemption.id, note=redemption.code, now=now)
                notify(phone=redemption.user.phone, user_id=redemption.user_id, kind="points",
                       body=_l("兑换码 %(code)s（%(reward)s）%(days)d天内没有使用，已过期，"
                               "%(points)d积分已退回。", code=redemption.code,
                               reward=redemption.reward.name, days=REDEMPTION_DAYS,
                               points=redemption.points))
                done += 1
            db.session.commit()
    return done


def settlement_rows(partner: Partner, first, last) -> list[list]:
    """A partner's spent codes in a period, for settling with the town (CSV)."""
    rows = db.session.execute(
        select(Redemption.code, Reward.name, Redemption.points, Redemption.created_at,
               Redemption.spent_at).join(Reward)
        .where(Redemption.partner_id == partner.id, Redemption.status == "spent",
               Redemption.spent_at >= first, Redemption.spent_at < last)
        .order_by(Redemption.spent_at))
    return [[code, name, points, f"{to_local(made):%Y-%m-%d %H:%M}",
             f"{to_local(spent):%Y-%m-%d %H:%M}"] for code, name, points, made, spent in rows]
