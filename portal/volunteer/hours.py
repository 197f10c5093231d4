"""Attendance and service hours: check-in/out by code, the tick list, the coordinator's
decision on every record (approve, adjust, reject — never delete), star levels and the
service-record certificate.

Hours are kept as whole minutes. A check-in/out pair credits the time inside the activity's
own window, to the nearest quarter hour; the coordinator can adjust it, with a reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal import audit, happenings
from portal.accounts.validation import mask_phone
from portal import refs
from portal.database import write_transaction
from portal.extensions import db
from portal.volunteer.models import Activity, HourChange, HourRecord, SignUp, Volunteer
from portal.volunteer.signups import VolunteerRefused, ends_at, starts_at

EARLY_CHECK_IN = timedelta(hours=1)  # check-in opens this long before the start …
LATE_CHECK_OUT = timedelta(hours=2)  # … and check-out closes this long after the end
DECISIONS = {"approve": "approved", "adjust": "adjusted", "reject": "rejected"}  # → the action


def credited_minutes(activity: Activity, checked_in: datetime, checked_out: datetime) -> int:
    """Time inside the activity's window, rounded to the nearest quarter hour."""
    start, end = max(checked_in, starts_at(activity)), min(checked_out, ends_at(activity))
    minutes = max((end - start).total_seconds() / 60, 0)
    return int(15 * round(minutes / 15))


def _record(signup: SignUp, minutes: int, actor_id: int | None, how: str) -> HourRecord:
    activity = signup.activity
    record = HourRecord(volunteer_id=signup.volunteer_id, team_id=activity.team_id,
                        signup_id=signup.id, served_on=activity.day, what=activity.title[:80],
                        minutes=minutes, status="pending")
    record.changes.append(HourChange(actor_id=actor_id, action="recorded", status="pending",
                                     minutes=minutes, reason=how))
    db.session.add(record)
    return record


def scan_window(activity: Activity, now: datetime) -> bool:
    """Codes are scanned from an hour before the start until two hours after the end."""
    return starts_at(activity) - EARLY_CHECK_IN <= now <= ends_at(activity) + LATE_CHECK_OUT


def scan(activity: Activity, code: str, *, now: datetime, actor_id: int | None) -> tuple[SignUp, str]:
    """Check a volunteer in (first scan) or out (second scan) by the code on their phone.

    Returns the sign-up and "in" or "out"; a check-out records the hours, pending approval.
    """
    code = refs.normalise(code)
    if not code:
        raise VolunteerRefused("no_code", _l("请输入或扫描志愿者手机上的签到码。"))
    if not scan_window(activity, now):
        raise VolunteerRefused("window", _l("只能在活动开始前1小时到结束后2小时之间签到签退。"))
    with write_transaction():
        signup = db.session.scalar(select(SignUp).where(
            SignUp.code == code, SignUp.activity_id == activity.id).with_for_update()
            .execution_options(populate_existing=True))
        if signup is None:
            raise VolunteerRefused("unknown", _l("没有找到这个签到码，请确认是本活动的报名。"))
        if signup.status != "confirmed":
            raise VolunteerRefused("not_confirmed", _l("这位志愿者在候补名单上或已取消报名，不能签到。"))
        if signup.checked_out_at is not None:
            raise VolunteerRefused("done", _l("这位志愿者已经签退过了。"))
        if signup.checked_in_at is None:
            signup.checked_in_at, step = now, "in"
        else:
            signup.checked_out_at, step = now, "out"
            if signup.volunteer_id is not None:  # a resident activity's attendance has no hours
                _record(signup, credited_minutes(activity, signup.checked_in_at, now), actor_id,
                        "签到签退")
        db.session.commit()
    return signup, step


def tick(activity: Activity, signup_ids: list[int], *, now: datetime, actor_id: int | None) -> int:
    """The tick list: each ticked volunteer attended the whole activity. Returns how many
    records were made (those already recorded are left as they are)."""
    if now < starts_at(activity):
        raise VolunteerRefused("not_started", _l("活动开始后才能登记出勤。"))
    made = 0
    with write_transaction():
        signups = db.session.scalars(select(SignUp).where(
            SignUp.activity_id == activity.id, SignUp.id.in_(signup_ids),
            SignUp.status == "confirmed", SignUp.checked_out_at.is_(None))
            .with_for_update().execution_options(populate_existing=True)).all()
        for signup in signups:
            signup.checked_in_at = signup.checked_in_at or starts_at(activity)
            signup.checked_out_at = ends_at(activity)
            if signup.volunteer_id is not None:
                _record(signup, credited_minutes(activity, signup.checked_in_at,
                                                 ends_at(activity)), actor_id, "出勤登记")
            made += 1
        if made:
            audit.record("volunteer.attendance", activity, ticked=made)
        db.session.commit()
    return made


def decide(record: HourRecord, decision: str, *, actor_id: int | None, reason: str = "",
           minutes: int | None = None) -> HourChange:
    """Approve as recorded, adjust (and approve) the minutes, or reject. A decision can be
    changed later; every one is kept with who, when and why."""
    if decision not in DECISIONS:
        raise VolunteerRefused("decision", _l("请选择审核结果。"))
    if decision in ("adjust", "reject") and not reason.strip():
        raise VolunteerRefused("reason", _l("调整或不认定时长，请写明理由。"))
    if decision == "adjust" and (minutes is None or not 0 <= minutes <= 24 * 60):
        raise VolunteerRefused("minutes", _l("时长要在0到24小时之间。"))
    with write_transaction():
        fresh = db.session.scalar(select(HourRecord).where(HourRecord.id == record.id)
                                  .with_for_update().execution_options(populate_existing=True))
        fresh.status = "rejected" if decision == "reject" else "approved"
        if decision == "adjust":
            fresh.minutes = minutes
        change = HourChange(record=fresh, actor_id=actor_id, action=DECISIONS[decision],
                            status=fresh.status, minutes=fresh.minutes,
                            reason=reason.strip()[:200])
        db.session.add(change)
        audit.record(f"volunteer.hours_{decision}", fresh, minutes=fresh.minutes)
        happenings.hours_decided.send(fresh)
        db.session.commit()
    return change


# -- totals, star levels, the certificate ----------------------------------------------------

def thresholds() -> tuple[int, ...]:
    """Hours for 1–5 stars (default 100/300/600/1000/1500, the community volunteer rules)."""
    return tuple(current_app.config["VOLUNTEER_STAR_HOURS"])


def star_due(minutes: int, hours_needed: tuple[int, ...]) -> int:
    """The star level `minutes` of approved service reach: thresholds are inclusive."""
    return sum(1 for hours in hours_needed if minutes >= hours * 60)


def approved_minutes(volunteer_id: int) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(HourRecord.minutes), 0)).where(
        HourRecord.volunteer_id == volunteer_id, HourRecord.status == "approved"))


def review_star(volunteer: Volunteer, *, actor_id: int | None, now: datetime) -> int:
    """Confirm the level the approved hours reach (up or, after a rejection, down)."""
    level = star_due(approved_minutes(volunteer.id), thresholds())
    before = volunteer.star_level
    volunteer.star_level, volunteer.star_reviewed_at = level, now
    volunteer.star_reviewed_by = actor_id
    audit.record("volunteer.star_review", volunteer, before=before, after=level)
    db.session.commit()
    return level


def hours_text(minutes: int) -> str:
    """2.5 for 150 minutes; 2 for 120."""
    value = round(minutes / 60, 2)
    return f"{value:g}"


@dataclass(frozen=True)
class Certificate:
    volunteer: Volunteer
    records: list[HourRecord]
    minutes: int
    number: str
    issued_on: date


def certificate(volunteer: Volunteer, today: date) -> Certificate:
    """The service record (志愿服务记录证明): every approved record, oldest first."""
    records = db.session.scalars(select(HourRecord).where(
        HourRecord.volunteer_id == volunteer.id, HourRecord.status == "approved")
        .order_by(HourRecord.served_on, HourRecord.id)).all()
    minutes = sum(r.minutes for r in records)
    number = f"ZY{today:%Y%m%d}{volunteer.id:06d}{len(records):03d}"
    return Certificate(volunteer, records, minutes, number, today)


# -- exports --------------------------------------------------------------------------------

def attendance_rows(activity: Activity) -> list[list]:
    signups = db.session.scalars(select(SignUp).where(SignUp.activity_id == activity.id)
                                 .order_by(SignUp.status, SignUp.queued_at, SignUp.id)).all()
    records = {r.signup_id: r for r in db.session.scalars(select(HourRecord).where(
        HourRecord.signup_id.in_([s.id for s in signups])))}
    rows = [[str(_l("姓名")), str(_l("手机")), str(_l("报名状态")), str(_l("签到")),
             str(_l("签退")), str(_l("时长（小时）")), str(_l("审核"))]]
    for s in signups:
        record = records.get(s.id)
        rows.append([s.who, mask_phone(s.contact()[0]), s.status,
                     f"{s.checked_in_at:%Y-%m-%d %H:%M}" if s.checked_in_at else "",
                     f"{s.checked_out_at:%Y-%m-%d %H:%M}" if s.checked_out_at else "",
                     float(hours_text(record.minutes)) if record else "",
                     record.status if record else ""])
    return rows


def hours_rows(team_ids: set[int], first: date, last: date) -> list[list]:
    records = db.session.scalars(select(HourRecord).where(
        HourRecord.team_id.in_(team_ids), HourRecord.served_on.between(first, last))
        .order_by(HourRecord.served_on, HourRecord.id)).all()
    rows = [[str(_l("日期")), str(_l("志愿者")), str(_l("团队")), str(_l("服务内容")),
             str(_l("时长（小时）")), str(_l("审核"))]]
    rows += [[r.served_on.isoformat(), r.volunteer.real_name, r.team.name, r.what,
              float(hours_text(r.minutes)), r.status] for r in records]
    return rows
