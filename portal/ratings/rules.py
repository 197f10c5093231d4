"""Rating a completed service (好差评) and following a bad rating up.

- One rating per completed booking (a unique index decides, whatever the concurrency).
- 不满意 / 非常不满意 opens a follow-up case: call back within 1 working day, rectify within
  15 working days, reply to the resident — deadlines in working days (places/workdays.py).
- Steps are recorded in order and once each; nothing is ever edited away or deleted.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.booking import service
from portal.booking.models import Booking
from portal.extensions import db
from portal.places.workdays import Calendar, add_working_days, calendar
from portal.ratings.models import BAD_LEVELS, LEVELS, FollowUp, Rating
from portal.refused import Refused
from portal.transitions import advance
from portal.timeutil import to_local, utcnow

CALLBACK_WORKING_DAYS = 1
RECTIFY_WORKING_DAYS = 15
COMMENT_MAX = 500


class RatingRefused(Refused):
    """A rating rule said no (rated already, not finished …)."""


def deadlines(opened: date, cal: Calendar) -> tuple[date, date]:
    """(call back by, rectify and reply by): the last local day each is on time."""
    return (add_working_days(opened, CALLBACK_WORKING_DAYS, cal),
            add_working_days(opened, RECTIFY_WORKING_DAYS, cal))


def can_rate(booking: Booking) -> bool:
    return booking.status == "completed" and not _rated(booking)


def _rated(booking: Booking) -> bool:
    return db.session.scalar(db.select(Rating.id).where(Rating.booking_id == booking.id)) \
        is not None


def rate(booking: Booking, *, level: int, comment: str, channel: str,
         now: datetime | None = None) -> Rating:
    """Record the resident's rating; a bad one opens its follow-up case at once."""
    if level not in LEVELS:
        raise RatingRefused("level", _l("请选择一个评价等级。"))
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise RatingRefused("comment", _l("意见不能超过%(n)d个字。", n=COMMENT_MAX))
    if booking.status != "completed":
        raise RatingRefused("not_completed", _l("事项办结后才能评价。"))
    now = now or utcnow()
    rating = Rating(booking_id=booking.id, station_id=booking.station_id,
                    responsible_id=booking.responsible_id, level=level, comment=comment,
                    channel=channel, created_at=now)
    db.session.add(rating)
    try:
        db.session.flush()
    except IntegrityError:  # rated a moment ago (another tab, a double tap)
        db.session.rollback()
        raise RatingRefused("rated", _l("这个事项已经评价过了，谢谢您。")) from None
    if level in BAD_LEVELS:
        callback_due, rectify_due = deadlines(to_local(now).date(), calendar())
        db.session.add(FollowUp(rating=rating, station_id=booking.station_id, opened_at=now,
                                callback_due=callback_due, rectify_due=rectify_due))
    service.record_event(booking, "rate", "completed", "completed", booking.user_id,
                   f"{level}")
    db.session.commit()
    return rating


@dataclass(frozen=True)
class Overdue:
    callback: bool
    rectify: bool
    reply: bool

    def __bool__(self) -> bool:
        return self.callback or self.rectify or self.reply


def overdue(case: FollowUp, today: date) -> Overdue:
    """Which steps are late on `today` (the town's date): due days are inclusive."""
    return Overdue(callback=case.called_back_at is None and today > case.callback_due,
                   rectify=case.rectified_at is None and today > case.rectify_due,
                   reply=case.replied_at is None and today > case.rectify_due)


def next_step(case: FollowUp) -> str | None:
    if case.called_back_at is None:
        return "callback"
    if case.rectified_at is None:
        return "rectify"
    if case.replied_at is None:
        return "reply"
    return None


STEP_LABELS = {"callback": _l("回访"), "rectify": _l("整改"), "reply": _l("答复居民")}
STEP_HINTS = {"callback": _l("电话联系居民，了解不满意的原因，记下居民说的情况。"),
              "rectify": _l("写明整改了什么、由谁负责。"),
              "reply": _l("写给居民的答复，会作为消息发给居民。")}

_STEP_COLUMNS = {
    "callback": (FollowUp.called_back_at, "called_back_at", "called_back_by", "callback_note"),
    "rectify": (FollowUp.rectified_at, "rectified_at", "rectified_by", "rectify_note"),
    "reply": (FollowUp.replied_at, "replied_at", "replied_by", "reply"),
}


def record_step(case: FollowUp, step: str, actor, text: str) -> None:
    """Record one step (call back, rectification, reply) once, in order, with who and when.

    The reply is sent to the resident as a message. A step recorded a moment ago by someone
    else is refused, never overwritten.
    """
    text = (text or "").strip()
    if not text:
        raise RatingRefused("empty", _l("请写下这一步的情况。"))
    if len(text) > 2000:
        raise RatingRefused("long", _l("不能超过2000个字。"))
    if next_step(case) != step:
        raise RatingRefused("order", _l("请按顺序处理：先回访，再整改，最后答复居民。"))
    column, at, by, note = _STEP_COLUMNS[step]
    advance(case, column.is_(None), **{at: utcnow(), by: actor.id, note: text},
            refused=RatingRefused("conflict", _l("这一步刚刚已由其他工作人员记录，请刷新后再看。")))
    audit.record(f"follow_up.{step}", case, rating=case.rating_id)
    if step == "reply":
        booking = case.rating.booking
        service.tell(booking, "status", _l("关于您对“%(item)s”（%(ref)s）的评价，%(station)s答复：%(reply)s",
                                           item=booking.item.name, ref=booking.ref,
                                           station=booking.station.name, reply=text))
    db.session.commit()


def tell_overdue(today: date) -> int:
    """Flag the open cases with a step newly late on `today` and tell their station's clerks
    (once per case). Returns how many were flagged."""
    from portal.accounts.models import User, UserRole
    from portal.notifications import notify
    cases = db.session.scalars(db.select(FollowUp).where(
        FollowUp.overdue_told_at.is_(None),
        (FollowUp.replied_at.is_(None)) | (FollowUp.rectified_at.is_(None))
        | (FollowUp.called_back_at.is_(None)))).all()
    flagged = 0
    for case in cases:
        if not overdue(case, today):
            continue
        staff = db.session.scalars(db.select(User).join(UserRole).where(
            User.station_id == case.station_id, User.active.is_(True),
            UserRole.role.in_(("clerk", "town_staff")))).unique().all()
        for person in staff:
            notify(phone=person.phone, user_id=person.id, kind="status", body=_l(
                "差评整改逾期：%(item)s（%(ref)s）的“%(step)s”已过期限，请尽快处理"
                "（/desk/follow-ups/%(case)s）。", item=case.rating.booking.item.name,
                ref=case.rating.booking.ref, step=STEP_LABELS[next_step(case)], case=case.id))
        case.overdue_told_at = utcnow()
        flagged += 1
    db.session.commit()
    return flagged
