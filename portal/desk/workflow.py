"""The desk's state machine (DESIGN.md §4), as plain functions the views and tests call.

booked → checked_in → accepted (the clerk becomes responsible, 首问负责) → in_progress →
completed | returned (补正, with the one-time notice) | forwarded (to the town centre) →
completed | rejected with a reason; booked → no_show after the slot has passed; a returned
case resumes when the resident brings what was missing.

Every transition is one conditional UPDATE on the state it comes from, so when two clerks
act on the same case at the same moment exactly one succeeds and the other gets a message.
Each writes a booking event, an audit entry and a message to the resident, in the same
transaction. Who may act on which case is `desk.access`'s business, not this module's.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.booking import service
from portal.booking.models import (MATERIAL_STATES, OPEN_STATUSES, STATUS_LABELS, Booking,
                                   MaterialCheck, OpenBookingCount)
from portal.booking.service import BookingRefused
from portal.database import insert_ignore, write_transaction
from portal.desk import tickets
from portal.desk.queue import changed
from portal.extensions import db
from portal.refused import Refused
from portal.transitions import advance
from portal.timeutil import local_now, utcnow

# action: (the states it may start from, the state it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "check_in": (("booked",), "checked_in"),
    "accept": (("checked_in",), "accepted"),
    "start": (("accepted",), "in_progress"),
    "complete": (("accepted", "in_progress", "forwarded"), "completed"),
    "return": (("accepted", "in_progress", "forwarded"), "returned"),
    "resume": (("returned",), "in_progress"),
    "reject": (("accepted", "in_progress", "forwarded"), "rejected"),
    "forward": (("accepted", "in_progress"), "forwarded"),
    "no_show": (("booked",), "no_show"),
}
ACTION_LABELS = {
    "check_in": _l("签到"), "accept": _l("受理"), "start": _l("开始办理"), "complete": _l("办结"),
    "return": _l("退回补正"), "resume": _l("材料已补齐，继续办理"), "reject": _l("不予办理"),
    "forward": _l("转镇中心办理"), "no_show": _l("标记未到场"),
}
RELATIONS = ("child", "spouse", "parent", "relative", "agent", "other")
RELATION_LABELS = {"child": _l("子女"), "spouse": _l("配偶"), "parent": _l("父母"),
                   "relative": _l("其他亲属"), "agent": _l("村代办员"), "other": _l("其他")}
# Still in somebody's hands at the desk (the proxy and materials may be recorded).
IN_HAND = ("checked_in", "accepted", "in_progress", "forwarded", "returned")


class DeskRefused(Refused):
    """A desk rule said no; the message is shown to the clerk."""


def allowed(booking: Booking, action: str) -> bool:
    return booking.status in TRANSITIONS[action][0]


def available_actions(booking: Booking, now: datetime) -> list[str]:
    """The actions that make sense for this case now (the buttons the case page shows)."""
    actions = [a for a in TRANSITIONS if allowed(booking, a)]
    if "no_show" in actions and not slot_passed(booking, now):
        actions.remove("no_show")
    return actions


def slot_passed(booking: Booking, now: datetime) -> bool:
    """True once the booked slot is over (local time): only then is a no-show a no-show."""
    return datetime.combine(booking.day, booking.ends) <= now


def _refuse_from(booking: Booking, action: str) -> DeskRefused:
    return DeskRefused("invalid", _l(
        "这个事项现在是“%(status)s”，不能%(action)s。请刷新后再看。",
        status=STATUS_LABELS.get(booking.status, booking.status), action=ACTION_LABELS[action]))


def _transition(booking: Booking, action: str, actor, *, note: str = "", tell=None, then=None,
                **values) -> None:
    """Move `booking` by `action`, if it is still in a state the action starts from; `then`
    does what else the step means, in the same transaction. `actor` None: the resident at
    the kiosk."""
    actor_id = actor.id if actor is not None else None
    with write_transaction():
        seen = booking.status  # read afresh: write_transaction() committed and expired it
        froms, to = TRANSITIONS[action]
        if seen not in froms:
            raise _refuse_from(booking, action)
        still = [Booking.status == seen]
        if action == "accept":  # exactly one responsible clerk, whoever clicks first
            still.append(Booking.responsible_id.is_(None))
            values["responsible_id"] = actor_id
        try:
            advance(booking, *still, status=to, **values, refused=DeskRefused(
                "conflict", _l("这个事项刚刚被其他工作人员处理过，请刷新后再看。")))
        except IntegrityError:  # resuming a case while the same person holds a newer one
            db.session.rollback()
            raise DeskRefused("same_item", _l(
                "这位居民另有一个同一事项的预约正在办理，请在那个预约上继续。")) from None
        if seen in OPEN_STATUSES and to not in OPEN_STATUSES:
            service.release_hold(booking.phone)
        elif seen not in OPEN_STATUSES and to in OPEN_STATUSES:
            _hold_again(booking.phone)
        service.record_event(booking, action, seen, to, actor_id, note)
        if then:
            then()
        audit.record(f"booking.{action}", booking, ref=booking.ref, from_status=seen,
                     to_status=to, note=note[:200])
        if tell:
            service.tell(booking, "status", tell)
        changed(booking.station_id)
        db.session.commit()


def _hold_again(phone: str) -> None:
    """A returned case resumes: it counts against the person's open bookings again (over
    the limit if need be: the resident is at the desk with the missing papers)."""
    insert_ignore(OpenBookingCount, phone=phone, open_count=0)
    db.session.execute(update(OpenBookingCount).where(OpenBookingCount.phone == phone)
                       .values(open_count=OpenBookingCount.open_count + 1))


# -- the steps ---------------------------------------------------------------------------------

def check_in(booking: Booking, actor, now: datetime | None = None, *,
             priority: bool = False) -> None:
    """The resident is here (code typed or scanned, at the desk or the kiosk): checked in and
    given a ticket for the hall's line (`priority`: 绿色通道). Only on the booked day."""
    now = now or local_now()
    if booking.status == "booked" and booking.day != now.date():
        raise DeskRefused("wrong_day", _l("这个预约是%(day)s的，不是今天。可以为居民登记现场办理。",
                                          day=booking.day.strftime("%m月%d日")))
    came = utcnow()
    _transition(booking, "check_in", actor, checked_in_at=came, then=lambda: tickets.issue(
        booking, priority=priority, actor_id=actor.id if actor else None, now=came))


def accept(booking: Booking, actor) -> None:
    """Accept the case: `actor` becomes responsible (首问负责) to the end; its ticket (if it
    has one) is done."""
    _transition(booking, "accept", actor, accepted_at=utcnow(), then=lambda: tickets.served(booking),
                tell=_l("您在%(station)s办理的“%(item)s”（%(ref)s）已受理，首问负责人：%(clerk)s。",
                        station=booking.station.name, item=booking.item.name, ref=booking.ref,
                        clerk=actor.name))


def start(booking: Booking, actor) -> None:
    _transition(booking, "start", actor)


def complete(booking: Booking, actor, note: str = "") -> None:
    _transition(booking, "complete", actor, note=note, finished_at=utcnow(),
                tell=_l("您办理的“%(item)s”（%(ref)s）已办结。欢迎对这次服务作出评价。",
                        item=booking.item.name, ref=booking.ref))


def reject(booking: Booking, actor, reason: str) -> None:
    """Refuse the case; the reason is required and shown to the resident."""
    reason = (reason or "").strip()
    if not reason:
        raise DeskRefused("reason", _l("请写明不予办理的理由，居民会看到它。"))
    _transition(booking, "reject", actor, note=reason, finished_at=utcnow(),
                tell=_l("您办理的“%(item)s”（%(ref)s）不予办理。理由：%(reason)s",
                        item=booking.item.name, ref=booking.ref, reason=reason))


def forward(booking: Booking, actor, note: str = "") -> None:
    """Send the case to the town centre; the responsible clerk stays named on it."""
    _transition(booking, "forward", actor, note=note, forwarded_at=utcnow(),
                tell=_l("您办理的“%(item)s”（%(ref)s）已转镇政务服务中心办理，办结后会通知您。",
                        item=booking.item.name, ref=booking.ref))


def return_for_supplement(booking: Booking, actor, note: str = "") -> list[str]:
    """Return the case for missing materials (补正). Returns what the one-time notice lists.

    Everything not ticked as brought is listed, plus the clerk's note; a return with
    nothing listed is refused, so the resident never comes back to hear of something new.
    """
    missing = [m.name for m in service.missing_materials(booking)]
    note = (note or "").strip()
    if not missing and not note:
        raise DeskRefused("nothing_missing", _l("材料都已核对为齐全或不需要。请把缺少的材料标为“缺少”，或写明还需要什么。"))
    listed = "；".join(missing + ([note] if note else []))
    _transition(booking, "return", actor, note=listed, returned_at=utcnow(),
                finished_at=utcnow(), supplement_note=note or None,
                tell=_l("您办理的“%(item)s”（%(ref)s）需要补正，请一次带齐：%(listed)s。"
                        "带齐后到%(station)s继续办理，不用重新预约。", item=booking.item.name,
                        ref=booking.ref, listed=listed, station=booking.station.name))
    return missing + ([note] if note else [])


def resume(booking: Booking, actor) -> None:
    """The resident came back with what was missing: a new round at the desk begins."""
    _transition(booking, "resume", actor, checked_in_at=utcnow(), accepted_at=utcnow(),
                finished_at=None)


def mark_no_show(booking: Booking, actor, now: datetime | None = None) -> None:
    if not slot_passed(booking, now or local_now()):
        raise DeskRefused("too_early", _l("预约时段还没有结束，不能标记未到场。"))
    _transition(booking, "no_show", actor,
                tell=_l("您在%(station)s的预约（%(ref)s）已过时间，未到场。如仍需办理，请重新预约。",
                        station=booking.station.name, ref=booking.ref))


# -- materials and proxy -------------------------------------------------------------------------

def record_materials(booking: Booking, actor, states: dict[int, str]) -> None:
    """Record what the resident brought against the item's list (material id → state);
    materials not in `states` keep what they had."""
    if booking.status not in IN_HAND:
        raise DeskRefused("not_in_hand", _l("只有已签到、正在办理或退回补正的事项才能核对材料。"))
    checks = {c.material_id: c for c in db.session.scalars(
        select(MaterialCheck).where(MaterialCheck.booking_id == booking.id))}
    for material in booking.item.materials:
        state = states.get(material.id)
        if state not in MATERIAL_STATES:
            continue
        check = checks.get(material.id)
        if check is None:
            db.session.add(MaterialCheck(booking_id=booking.id, material_id=material.id,
                                         state=state, checked_by=actor.id))
        elif check.state != state:
            check.state, check.checked_by, check.checked_at = state, actor.id, utcnow()
    audit.record("booking.materials", booking, ref=booking.ref,
                 states={str(k): v for k, v in sorted(states.items()) if v in MATERIAL_STATES})
    try:
        db.session.commit()
    except IntegrityError:  # another clerk ticked the same list at the same moment
        db.session.rollback()
        raise DeskRefused("conflict", _l("这个事项刚刚被其他工作人员处理过，请刷新后再看。")) from None


def record_proxy(booking: Booking, actor, *, name: str, phone: str, relation: str,
                 id_card: str | None) -> None:
    """Proxy handling (帮办代办): who applies on the resident's behalf, and how related."""
    if not booking.item.proxy_allowed:
        raise DeskRefused("no_proxy", _l("这个事项须本人办理，不能代办。"))
    if booking.status not in IN_HAND or booking.status == "forwarded":
        raise DeskRefused("not_in_hand", _l("只有已签到或正在办理的事项才能登记代办。"))
    if relation not in RELATIONS:
        raise DeskRefused("relation", _l("请选择代办人与申请人的关系。"))
    booking.proxy_name, booking.proxy_phone = name, phone
    booking.proxy_relation, booking.proxy_id_card = relation, id_card or None
    service.record_event(booking, "proxy", booking.status, booking.status, actor.id,
                   f"{name}（{RELATION_LABELS[relation]}）代办")
    audit.record("booking.proxy", booking, ref=booking.ref, relation=relation)
    db.session.commit()


# -- bookings made at the desk --------------------------------------------------------------------

def walk_in_slot(station, now: datetime):
    """The slot a walk-in is served in: the one under way if its walk-in reserve has room,
    else the next one today that has. None when the reserve is used up for today."""
    slots = service.availability(station, "walkin", now, days=[now.date()], lead=walkin_lead(station))
    return next((s for s in slots[0][1] if s.left and datetime.combine(now.date(), s.ends) > now),
                None)


def walkin_lead(station) -> timedelta:
    """Walk-ins are served in the slot under way: it started at most one slot length ago."""
    return -timedelta(minutes=station.slot_minutes)


def register_walk_in(*, station, item, name: str, phone: str, id_card: str | None, actor,
                     key: str | None, now: datetime | None = None,
                     priority: bool = False) -> Booking:
    """A resident without a booking, at the desk or the kiosk (`actor` None): a place from
    the walk-in reserve, checked in at once with a ticket. The same rules as online (one
    open booking per item, at most N open)."""
    now = now or local_now()
    slot = walk_in_slot(station, now)
    if slot is None:
        raise DeskRefused("walkin_full", _l("今天的现场办理名额已经用完。可以为居民预约其他时段，或请镇中心协调。"))
    try:
        booking = service.book(item=item, station=station, day=now.date(), starts=slot.starts,
                               channel="walkin", name=name, phone=phone, user_id=None,
                               idempotency_key=key, now=now,
                               actor_id=actor.id if actor else None, lead=walkin_lead(station))
    except BookingRefused as refused:
        raise DeskRefused(refused.code, refused.message) from None
    if booking.status == "booked":  # not a repeated submit of the same form
        if id_card:
            booking.id_card = id_card
        audit.record("booking.walk_in", booking, ref=booking.ref)
        db.session.commit()
        check_in(booking, actor, now, priority=priority)
    return booking


def cancel_for_caller(booking: Booking, actor, note: str, now: datetime | None = None) -> None:
    """A resident calls the station to cancel (past the online cut-off too, until the slot)."""
    try:
        service.cancel(booking, now=now or local_now(), actor_id=actor.id, note=note,
                       at_desk=True)
    except BookingRefused as refused:
        raise DeskRefused(refused.code, refused.message) from None
    audit.record("booking.cancel_at_desk", booking, ref=booking.ref, note=note[:200])
    db.session.commit()


def book_for_caller(*, station, item, day, starts, name: str, phone: str, id_card: str | None,
                    actor, key: str | None, now: datetime | None = None) -> Booking:
    """A phone caller's booking, from the phone capacity, under the same rules as online."""
    try:
        booking = service.book(item=item, station=station, day=day, starts=starts,
                               channel="phone", name=name, phone=phone, user_id=None,
                               idempotency_key=key, now=now or local_now(), actor_id=actor.id)
    except BookingRefused as refused:
        raise DeskRefused(refused.code, refused.message) from None
    if id_card and not booking.id_card:
        booking.id_card = id_card
    audit.record("booking.phone", booking, ref=booking.ref)
    db.session.commit()
    return booking
