"""Deleting an account (PIPL Art. 47): what is open is ended, the person is erased, and what
the service or the law keeps stays without them.

- Ended first, through each area's own rules (places freed, waitlists promoted): bookings not
  yet started are cancelled, future activity places given up, open wishes withdrawn, open
  orders cancelled, open home-visit requests cancelled, open reward codes left to expire.
- Erased: the account's name becomes 已注销用户, its phone a placeholder that can never be a
  mobile number (0 and the account number), ID number, e-mail, village and password gone;
  the same on every booking, home visit, volunteer record, sign-up, wish and order it made,
  and the photo positions of its reports (where the person stood);
  likes removed; messages and their deliveries deleted (nothing more is sent); login sessions
  and known devices end.
- Kept without the person: completed bookings and their timelines (statistics, the
  dashboard), approved volunteer hours (the team's totals), published civility items (the
  board), the points ledger (append-only; its balance goes nowhere).
- Audited (`account.deleted`, no personal data). A staff account holding roles is refused:
  an administrator takes the roles away first.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update

from portal import audit
from portal.extensions import db
from portal.timeutil import utcnow

ERASED_NAME = "已注销用户"


class ErasureRefused(Exception):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def placeholder_phone(user_id: int) -> str:
    return f"0{user_id:010d}"


def _end_what_is_open(user, now: datetime) -> dict[str, int]:
    from portal.booking import service as booking_service
    from portal.booking.models import Booking, HomeVisitRequest
    from portal.volunteer import orders, signups, wishes
    from portal.volunteer.models import ServiceOrder, SignUp, Volunteer, Wish
    ended = {"bookings": 0, "signups": 0, "wishes": 0, "orders": 0, "home_visits": 0}
    for booking in db.session.scalars(select(Booking).where(
            Booking.user_id == user.id, Booking.status == "booked")).all():
        try:
            booking_service.cancel(booking, now=now, actor_id=user.id, note="账号注销",
                                   at_desk=True)
            ended["bookings"] += 1
        except booking_service.BookingRefused:
            db.session.rollback()  # the slot has begun: it is handled as any other
    volunteer = db.session.scalar(select(Volunteer).where(Volunteer.user_id == user.id))
    mine = SignUp.user_id == user.id
    if volunteer is not None:
        mine = mine | (SignUp.volunteer_id == volunteer.id)
    for signup in db.session.scalars(select(SignUp).where(
            mine, SignUp.status.in_(signups.ACTIVE))).all():
        try:
            signups.cancel(signup, now=now, reason="账号注销", by=user.id)
            ended["signups"] += 1
        except signups.VolunteerRefused:
            db.session.rollback()  # under way or over: kept as history
    for wish in db.session.scalars(select(Wish).where(
            Wish.user_id == user.id, Wish.status.in_(("posted", "public")))).all():
        try:
            wishes.withdraw_wish(wish, user_id=user.id)
            ended["wishes"] += 1
        except signups.VolunteerRefused:
            db.session.rollback()
    for order in db.session.scalars(select(ServiceOrder).where(
            ServiceOrder.user_id == user.id,
            ServiceOrder.status.in_(("ordered", "dispatched")))).all():
        try:
            orders.cancel_order(order, user_id=user.id)
            ended["orders"] += 1
        except signups.VolunteerRefused:
            db.session.rollback()
    ended["home_visits"] = db.session.execute(update(HomeVisitRequest).where(
        HomeVisitRequest.user_id == user.id,
        HomeVisitRequest.status.in_(("requested", "scheduled"))).values(
        status="cancelled")).rowcount
    db.session.commit()
    return ended


def withdraw_volunteer(volunteer, *, now: datetime) -> int:
    """The resident withdraws the consent their volunteer record rests on: places in
    activities to come are given up (waitlists promoted), the ID number, skills, times,
    note and teams are erased, and they are no longer a volunteer until they register again.
    Approved hours, star level and past attendance stay (the team's record). Returns the
    places given up."""
    from portal.volunteer import signups
    from portal.volunteer.models import SignUp
    given_up = 0
    for signup in db.session.scalars(select(SignUp).where(
            SignUp.volunteer_id == volunteer.id, SignUp.status.in_(signups.ACTIVE))).all():
        try:
            signups.cancel(signup, now=now, reason="撤回志愿服务同意", by=volunteer.user_id)
            given_up += 1
        except signups.VolunteerRefused:
            db.session.rollback()  # under way or over: kept as history
    volunteer.id_card, volunteer.skills, volunteer.availability = None, "", ""
    volunteer.note, volunteer.teams, volunteer.withdrawn_at = "", [], utcnow()
    audit.record("volunteer.consent_withdrawn", volunteer, places_given_up=given_up)
    db.session.commit()
    return given_up


def delete_account(user, *, now: datetime) -> dict[str, int]:
    """Delete `user`'s account as the module says. Returns what was ended, per area."""
    from portal.accounts.models import KnownDevice, LoginSession
    from portal.booking.models import Booking, HomeVisitRequest
    from portal.booking.service import release_hold
    from portal.civility.models import Like, Report
    from portal.deliveries import Delivery
    from portal.notifications import Message
    from portal.points.models import PointAccount
    from portal.volunteer.models import ServiceOrder, SignUp, Volunteer, Wish
    if user.is_staff:
        raise ErasureRefused(_l("工作人员账号有岗位权限，不能在这里注销；请先请管理员收回权限。"))
    ended = _end_what_is_open(user, now)
    blank = placeholder_phone(user.id)
    for booking in db.session.scalars(select(Booking).where(
            Booking.user_id == user.id, Booking.status.in_(
                ("checked_in", "accepted", "in_progress", "forwarded")))).all():
        release_hold(booking.phone)  # still being handled: no longer held by this phone
    db.session.execute(update(Booking).where(Booking.user_id == user.id).values(
        name=ERASED_NAME, phone=blank, id_card=None, proxy_name=None, proxy_phone=None,
        proxy_id_card=None, proxy_relation=None))
    db.session.execute(update(HomeVisitRequest).where(HomeVisitRequest.user_id == user.id)
                       .values(name=ERASED_NAME, phone=blank, address="", note=""))
    volunteer = db.session.scalar(select(Volunteer).where(Volunteer.user_id == user.id))
    if volunteer is not None:
        volunteer.real_name, volunteer.id_card, volunteer.note = ERASED_NAME, None, ""
    db.session.execute(update(SignUp).where(SignUp.user_id == user.id).values(
        name=ERASED_NAME, phone=blank))
    db.session.execute(update(Wish).where(Wish.user_id == user.id).values(phone="", address=""))
    db.session.execute(update(ServiceOrder).where(ServiceOrder.user_id == user.id).values(
        phone="", address=""))
    db.session.execute(delete(Like).where(Like.user_id == user.id))
    # Where they stood when they took the photos (the item keeps its place as written).
    db.session.execute(update(Report).where(Report.reporter_id == user.id).values(
        latitude=None, longitude=None))
    db.session.execute(update(PointAccount).where(PointAccount.user_id == user.id)
                       .values(named=False))
    messages = select(Message.id).where(Message.user_id == user.id)
    db.session.execute(delete(Delivery).where(Delivery.message_id.in_(messages)))
    db.session.execute(delete(Message).where(Message.user_id == user.id))
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    db.session.execute(delete(KnownDevice).where(KnownDevice.user_id == user.id))
    user.name, user.phone, user.id_card, user.email = ERASED_NAME, blank, None, None
    user.village_id, user.locale, user.optional_messages = None, None, False
    user.phone_verified_at = user.phone_code_hash = user.phone_code_sent_at = None
    user.password_hash = "!" + secrets.token_hex(16)  # no password ever matches
    user.active, user.deleted_at = False, utcnow()
    audit.record("account.deleted", user, **{k: v for k, v in ended.items() if v})
    db.session.commit()
    return ended
