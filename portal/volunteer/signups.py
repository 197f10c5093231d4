"""Activities and their places: create (one-off or weekly), sign up, waitlist, cancel, promote.

- No activity is ever over capacity: every change to an activity's places runs in one
  write transaction that first locks the activity's row (PostgreSQL: SELECT … FOR UPDATE;
  SQLite: BEGIN IMMEDIATE, see database.py), then reads and changes its counters. The
  database's CHECK (taken <= capacity) is the last line.
- A freed place goes to the first on the waitlist in the same transaction that frees it,
  so each freed place promotes exactly one person, once.
- Waitlisted sign-ups count as taken time: a volunteer cannot be on two overlapping
  activities, even as a reserve, so a promotion never creates a clash.
- A resident activity (a class, a training) takes residents, not volunteers: a signed-in
  resident or a kiosk guest joins by name and phone (`join`), one place per phone, under the
  same lock and counters; no ID number is asked and no hours are recorded.
"""
from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal import refs
from portal.database import write_transaction
from portal.extensions import db
from portal.notifications import When, notify
from portal.refused import Refused
from portal.timeutil import utcnow
from portal.volunteer.models import (ACTIVITY_KINDS, Activity, SignUp, Team, Volunteer,
                                     VolunteerStation)

ACTIVE = ("confirmed", "waitlisted")
MAX_CAPACITY = 500
MAX_WEEKS = 26  # a weekly series is created half a year ahead at most
CODE_PREFIX = "V"


class VolunteerRefused(Refused):
    """A volunteer-service rule said no."""


def new_code() -> str:
    """A check-in code: V and 8 unambiguous characters (shown large and as a QR code)."""
    return refs.new_code(CODE_PREFIX)


def starts_at(activity: Activity) -> datetime:
    return datetime.combine(activity.day, activity.starts)


def ends_at(activity: Activity) -> datetime:
    return datetime.combine(activity.day, activity.ends)


def cutoff(activity: Activity) -> datetime:
    """Until when a volunteer with a place may cancel online (then: tell the coordinator)."""
    return starts_at(activity) - timedelta(hours=current_app.config["VOLUNTEER_CUTOFF_HOURS"])


def _when(activity: Activity) -> When:
    return When(activity.day, activity.starts)


# -- creating and changing activities ---------------------------------------------------------

def check_times(day: date, starts: time, ends: time, now: datetime) -> None:
    """Refuse an activity in the past or one that ends before it starts (local times)."""
    if ends <= starts:
        raise VolunteerRefused("ends_first", _l("结束时间要晚于开始时间。"))
    if datetime.combine(day, starts) <= now:
        raise VolunteerRefused("past", _l("开始时间已经过去，请选择以后的时间。"))


def create(*, team: Team, station: VolunteerStation, title: str, place: str, day: date,
           starts: time, ends: time, capacity: int, now: datetime, actor_id: int | None,
           weeks: int = 1, description: str = "", bring: str = "",
           skill: str | None = None, kind: str = "service") -> list[Activity]:
    """One activity, or a weekly series of `weeks` (one row per week, each with its places)."""
    check_times(day, starts, ends, now)
    if not 1 <= capacity <= MAX_CAPACITY:
        raise VolunteerRefused("capacity", _l("名额要在1到%(n)d之间。", n=MAX_CAPACITY))
    if not 1 <= weeks <= MAX_WEEKS:
        raise VolunteerRefused("weeks", _l("每周重复最多%(n)d周。", n=MAX_WEEKS))
    series = secrets.token_hex(8) if weeks > 1 else None
    made = [Activity(team=team, station=station, title=title, place=place, day=day + timedelta(weeks=w),
                     starts=starts, ends=ends, capacity=capacity, description=description,
                     bring=bring, skill=skill or None, series=series, created_by=actor_id,
                     kind=kind if kind in ACTIVITY_KINDS else "service")
            for w in range(weeks)]
    db.session.add_all(made)
    db.session.flush()
    audit.record("volunteer.activity_create", made[0], weeks=weeks, capacity=capacity)
    db.session.commit()
    return made


def _lock(activity_id: int) -> Activity:
    """The activity's row, locked for this transaction and read fresh."""
    return db.session.scalar(select(Activity).where(Activity.id == activity_id)
                             .with_for_update().execution_options(populate_existing=True))


def _counts(activity_id: int, taken: int = 0, waiting: int = 0) -> None:
    # Core UPDATEs: the counters change without marking the activity changed for search.
    db.session.execute(update(Activity).where(Activity.id == activity_id).values(
        taken=Activity.taken + taken, waiting=Activity.waiting + waiting))


def _promote(activity: Activity, places: int) -> list[SignUp]:
    """Give up to `places` freed places to the first on the waitlist (caller holds the lock)."""
    if places <= 0 or activity.waiting <= 0:
        return []
    first = db.session.scalars(
        select(SignUp).where(SignUp.activity_id == activity.id, SignUp.status == "waitlisted")
        .order_by(SignUp.queued_at, SignUp.id).limit(places)
        .execution_options(populate_existing=True)).all()
    for signup in first:
        signup.status, signup.promoted_at = "confirmed", utcnow()
        phone, user_id = signup.contact()
        notify(phone=phone, user_id=user_id, kind="volunteer", day=activity.day, body=_l(
            "候补成功：“%(title)s”（%(when)s，%(place)s）有了空位，已为您报名。签到码 %(code)s。"
            "不能参加请在“我的志愿服务”里取消。", title=activity.title, when=_when(activity),
            place=activity.place, code=signup.code))
    _counts(activity.id, taken=0, waiting=-len(first))
    return first


def change_capacity(activity: Activity, capacity: int, *, now: datetime,
                    actor_id: int | None) -> list[SignUp]:
    """More places promote the waitlist at once; fewer than are taken are refused."""
    if starts_at(activity) <= now:
        raise VolunteerRefused("started", _l("活动已经开始，名额不能再改。"))
    if not 1 <= capacity <= MAX_CAPACITY:
        raise VolunteerRefused("capacity", _l("名额要在1到%(n)d之间。", n=MAX_CAPACITY))
    with write_transaction():
        locked = _lock(activity.id)
        if capacity < locked.taken:
            raise VolunteerRefused("below_taken", _l(
                "已有%(n)d人报名，名额不能少于%(n)d。请先联系要取消的志愿者。", n=locked.taken))
        db.session.execute(update(Activity).where(Activity.id == locked.id)
                           .values(capacity=capacity))
        promoted = _promote(locked, capacity - locked.taken)
        _counts(locked.id, taken=len(promoted))
        audit.record("volunteer.capacity", locked, capacity=capacity, promoted=len(promoted))
        db.session.commit()
    return promoted


def cancel_activity(activity: Activity, reason: str, *, now: datetime,
                    actor_id: int | None) -> int:
    """Call the activity off before it starts: everyone signed up or waiting is told.

    Returns how many were told. Once it has started, attendance and hours stand.
    """
    if starts_at(activity) <= now:
        raise VolunteerRefused("started", _l("活动已经开始，不能再取消。"))
    with write_transaction():
        locked = _lock(activity.id)
        if locked.status == "cancelled":
            raise VolunteerRefused("already", _l("这个活动已经取消了。"))
        signups = db.session.scalars(select(SignUp).where(
            SignUp.activity_id == locked.id, SignUp.status.in_(ACTIVE))).all()
        for signup in signups:
            signup.status, signup.cancelled_at = "cancelled", utcnow()
            phone, user_id = signup.contact()
            notify(phone=phone, user_id=user_id, kind="volunteer", day=locked.day, body=_l(
                "很抱歉，“%(title)s”（%(when)s）已取消：%(reason)s", title=locked.title,
                when=_when(locked), reason=reason))
        locked.status, locked.cancel_reason = "cancelled", reason
        db.session.execute(update(Activity).where(Activity.id == locked.id)
                           .values(taken=0, waiting=0))
        audit.record("volunteer.activity_cancel", locked, reason=reason, told=len(signups))
        db.session.commit()
    return len(signups)


# -- signing up and cancelling -----------------------------------------------------------------

def clash(volunteer_id: int, activity: Activity) -> Activity | None:
    """Another open activity at an overlapping time that the volunteer holds or waits for."""
    return db.session.scalar(
        select(Activity).join(SignUp, SignUp.activity_id == Activity.id).where(
            SignUp.volunteer_id == volunteer_id, SignUp.status.in_(ACTIVE),
            Activity.id != activity.id, Activity.status == "open", Activity.day == activity.day,
            Activity.starts < activity.ends, Activity.ends > activity.starts).limit(1))


def _check_open(activity: Activity, now: datetime) -> None:
    if activity.status != "open":
        raise VolunteerRefused("cancelled", _l("这个活动已经取消了。"))
    if starts_at(activity) <= now:
        raise VolunteerRefused("started", _l("这个活动已经开始或结束，不能再报名了。"))


def sign_up(activity: Activity, volunteer: Volunteer, *, now: datetime) -> SignUp:
    """A place if there is one, else a place on the waitlist. A repeated click returns the
    sign-up already there; a clash with another activity is refused."""
    if activity.kind == "resident":
        raise VolunteerRefused("resident", _l("这是居民活动，不需要登记为志愿者，直接报名即可。"))
    _check_open(activity, now)
    try:
        with write_transaction():
            # Lock order everywhere: the volunteer, then the activity.
            db.session.execute(select(Volunteer.id).where(Volunteer.id == volunteer.id)
                               .with_for_update())
            locked = _lock(activity.id)
            _check_open(locked, now)
            signup = db.session.scalar(select(SignUp).where(
                SignUp.activity_id == locked.id, SignUp.volunteer_id == volunteer.id)
                .execution_options(populate_existing=True))
            if signup is not None and signup.status in ACTIVE:
                return signup
            if (other := clash(volunteer.id, locked)) is not None:
                raise VolunteerRefused("clash", _l(
                    "和您已报名的“%(title)s”（%(from)s–%(to)s）时间重叠，不能同时报名。",
                    title=other.title, **{"from": f"{other.starts:%H:%M}", "to": f"{other.ends:%H:%M}"}))
            status = "confirmed" if locked.taken < locked.capacity else "waitlisted"
            if signup is None:
                signup = SignUp(activity_id=locked.id, volunteer_id=volunteer.id, code=new_code())
                db.session.add(signup)
            signup.status, signup.queued_at = status, utcnow()
            signup.cancelled_at = signup.promoted_at = None
            _counts(locked.id, taken=int(status == "confirmed"), waiting=int(status == "waitlisted"))
            db.session.commit()
            return signup
    except IntegrityError:  # the twin of a double-clicked form won: return what it made
        signup = db.session.scalar(select(SignUp).where(
            SignUp.activity_id == activity.id, SignUp.volunteer_id == volunteer.id))
        if signup is None:
            raise
        return signup


def join(activity: Activity, *, name: str, phone: str, user_id: int | None,
         now: datetime) -> SignUp:
    """A resident activity: a place for this name and phone, else a place on the waitlist.
    One place per phone (the same phone again gets the place it has); never over capacity."""
    if activity.kind != "resident":
        raise VolunteerRefused("service", _l("这是志愿服务活动，请先登记为志愿者再报名。"))
    _check_open(activity, now)
    try:
        with write_transaction():
            locked = _lock(activity.id)
            _check_open(locked, now)
            signup = db.session.scalar(select(SignUp).where(
                SignUp.activity_id == locked.id, SignUp.phone == phone)
                .execution_options(populate_existing=True))
            if signup is not None and signup.status in ACTIVE:
                if user_id is not None and signup.user_id is None:  # taken at a kiosk before
                    signup.user_id = user_id
                    db.session.commit()
                return signup
            status = "confirmed" if locked.taken < locked.capacity else "waitlisted"
            if signup is None:
                signup = SignUp(activity_id=locked.id, phone=phone, code=new_code())
                db.session.add(signup)
            signup.name, signup.user_id = name, user_id
            signup.status, signup.queued_at = status, utcnow()
            signup.cancelled_at = signup.promoted_at = None
            _counts(locked.id, taken=int(status == "confirmed"), waiting=int(status == "waitlisted"))
            notify(phone=phone, user_id=user_id, kind="volunteer", day=locked.day, body=_l(
                "已报名“%(title)s”（%(when)s，%(place)s）。入场码 %(code)s。", title=locked.title,
                when=_when(locked), place=locked.place, code=signup.code)
                if status == "confirmed" else _l(
                "“%(title)s”（%(when)s）名额已满，您在候补名单上；有人取消时按顺序递补并通知您。",
                title=locked.title, when=_when(locked)))
            db.session.commit()
            return signup
    except IntegrityError:  # the same phone at the same instant: return what the twin made
        signup = db.session.scalar(select(SignUp).where(
            SignUp.activity_id == activity.id, SignUp.phone == phone))
        if signup is None:
            raise
        return signup


def cancel(signup: SignUp, *, now: datetime, reason: str = "",
           by: int | None = None) -> SignUp | None:
    """Give up a place (until the cut-off) or leave the waitlist (until the start).

    A coordinator (`by`: their user id) may release someone's place after the cut-off too,
    when the volunteer calls to say they cannot come; the volunteer is told, with the reason.
    Returns the sign-up promoted into the freed place, if any.
    """
    activity = signup.activity
    if signup.status == "confirmed" and by is None and cutoff(activity) <= now:
        raise VolunteerRefused("cutoff", _l(
            "活动开始前%(h)d小时内不能在网上取消，请直接联系活动的协调员。",
            h=current_app.config["VOLUNTEER_CUTOFF_HOURS"]))
    if starts_at(activity) <= now:
        raise VolunteerRefused("started", _l("活动已经开始，不能再取消。"))
    with write_transaction():
        locked = _lock(activity.id)
        fresh = db.session.scalar(select(SignUp).where(SignUp.id == signup.id)
                                  .execution_options(populate_existing=True))
        if fresh.status not in ACTIVE:
            raise VolunteerRefused("not_active", _l("这个报名已经取消了。"))
        if fresh.checked_in_at is not None:
            raise VolunteerRefused("checked_in", _l("已经签到的报名不能取消。"))
        was = fresh.status
        fresh.status, fresh.cancelled_at = "cancelled", utcnow()
        promoted = None
        if was == "waitlisted":
            _counts(locked.id, waiting=-1)
        elif locked.status == "open":
            promoted = next(iter(_promote(locked, 1)), None)  # the place passes on
            if promoted is None:
                _counts(locked.id, taken=-1)
        if by is not None:
            phone, user_id = fresh.contact()
            notify(phone=phone, user_id=user_id, kind="volunteer", day=locked.day, body=_l(
                "协调员已取消您在“%(title)s”（%(when)s）的报名：%(reason)s", title=locked.title,
                when=_when(locked), reason=reason))
            audit.record("volunteer.signup_release", fresh, status=was, reason=reason)
        db.session.commit()
    return promoted


def send_reminders(day: date) -> int:
    """Remind everyone with a place on an activity on `day` (run the day before); each place
    is reminded once."""
    rows = db.session.execute(select(SignUp, Activity).join(Activity).where(
        Activity.day == day, Activity.status == "open", SignUp.status == "confirmed",
        SignUp.reminded_at.is_(None))).all()
    for signup, activity in rows:
        phone, user_id = signup.contact()
        notify(phone=phone, user_id=user_id, kind="reminder", day=day, body=_l(
            "提醒：明天 %(at)s 志愿活动“%(title)s”，地点%(place)s。签到码 %(code)s。"
            "不能参加请在“我的志愿服务”里取消。", at=f"{activity.starts:%H:%M}",
            title=activity.title, place=activity.place, code=signup.code))
        signup.reminded_at = utcnow()
    db.session.commit()
    return len(rows)
