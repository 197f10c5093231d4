"""Everything the portal holds about one resident, as a ZIP (PIPL Art. 45: see and copy):
`data.json` (every row, every column but secrets: password and code hashes, session tokens),
`index.html` (the same, readable offline in any browser, no script) and the photos of their
reports as they uploaded them, after re-encoding (`photos/`).

One list, SECTIONS, says what is collected: a table that gains personal columns is added here
(tests/test_privacy.py checks every table with a users.id column is named in it or in
NOT_THE_RESIDENTS with a reason).
"""
from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time

from flask import render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, inspect, or_, select

from portal.extensions import db

# Columns that are never part of an export: secrets, or keys to them.
SECRET_COLUMNS = {"password_hash", "phone_code_hash", "token_hash", "id_card_hash", "token"}

# Tables with a users.id column that hold no data *about* this resident: the user is there as
# the staff member who acted (an editor's notice, a clerk's check), and what they did is the
# office's record, not theirs.
NOT_THE_RESIDENTS = {
    "civility_issues": "published_by: a moderator", "notices": "created_by: an editor",
    "notice_revisions": "edited_by: an editor", "notice_attachments": "uploaded_by: an editor",
    "point_rules": "created_by: an administrator", "material_checks": "checked_by: a clerk",
    "volunteer_activities": "created_by: a coordinator",
    "volunteer_coordination": "user_id: a coordinator's teams",
    "user_roles": "user_id: a staff account's roles (shown in the account section)",
    "volunteer_steps": "actor_id: who moved a wish or order (in their timelines)",
    "volunteer_hour_changes": "actor_id: who decided (in the hours' history)",
    "civility_events": "actor_id: who moved a report (in its timeline)",
    "booking_events": "actor_id: who moved a booking (in its timeline)",
    "ratings": "responsible_id: the clerk rated", "follow_ups": "staff who called back",
    "civility_photos": "redacted_by: a moderator",
    "civility_appeals": "decided_by: a moderator (an appeal is made by name and phone, not "
                        "by account)",
    "audit_events": "actor_id: staff actions, kept as the office's record",
}


@dataclass(frozen=True)
class Section:
    key: str
    title: object
    model: type
    where: Callable  # (user) -> the condition picking this resident's rows

    def rows(self, user) -> list:
        return db.session.scalars(select(self.model).where(self.where(user)).order_by(
            *inspect(self.model).primary_key)).all()

    def count(self, user) -> int:
        return db.session.scalar(select(func.count()).select_from(self.model)
                                 .where(self.where(user)))


def _sections() -> list[Section]:
    from portal.accounts.models import KnownDevice, LoginSession, User
    from portal.booking.models import Booking, BookingEvent, HomeVisitRequest
    from portal.civility.models import Like, Photo, Report, ReportEvent
    from portal.deliveries import Delivery
    from portal.notifications import Message
    from portal.points.models import PointAccount, PointEntry, Redemption
    from portal.ratings.models import Rating
    from portal.volunteer.models import (HourChange, HourRecord, ServiceOrder, SignUp,
                                         Volunteer, Wish)

    def mine(column):
        return lambda user: column == user.id

    def booking_ids(user):
        return select(Booking.id).where(Booking.user_id == user.id).scalar_subquery()

    def report_ids(user):
        return select(Report.id).where(Report.reporter_id == user.id).scalar_subquery()

    def volunteer_ids(user):
        return select(Volunteer.id).where(Volunteer.user_id == user.id).scalar_subquery()

    return [
        Section("account", _l("账号"), User, mine(User.id)),
        Section("bookings", _l("预约"), Booking, mine(Booking.user_id)),
        Section("booking_timelines", _l("预约的办理经过"), BookingEvent,
                lambda u: BookingEvent.booking_id.in_(booking_ids(u))),
        Section("ratings", _l("评价"), Rating, lambda u: Rating.booking_id.in_(booking_ids(u))),
        Section("home_visits", _l("上门服务申请"), HomeVisitRequest,
                mine(HomeVisitRequest.user_id)),
        Section("reports", _l("文明随手拍"), Report, mine(Report.reporter_id)),
        Section("report_timelines", _l("随手拍的处理经过"), ReportEvent,
                lambda u: ReportEvent.report_id.in_(report_ids(u))),
        Section("report_photos", _l("随手拍的照片"), Photo,
                lambda u: Photo.report_id.in_(report_ids(u))),
        Section("likes", _l("点赞"), Like, mine(Like.user_id)),
        Section("volunteer", _l("志愿者登记"), Volunteer, mine(Volunteer.user_id)),
        Section("volunteer_hours", _l("志愿服务时长"), HourRecord,
                lambda u: HourRecord.volunteer_id.in_(volunteer_ids(u))),
        Section("volunteer_hour_changes", _l("时长的审核记录"), HourChange,
                lambda u: HourChange.record_id.in_(select(HourRecord.id).where(
                    HourRecord.volunteer_id.in_(volunteer_ids(u))))),
        Section("signups", _l("活动报名"), SignUp, lambda u: or_(
            SignUp.user_id == u.id, SignUp.volunteer_id.in_(volunteer_ids(u)))),
        Section("wishes", _l("微心愿"), Wish, mine(Wish.user_id)),
        Section("orders", _l("服务预约（点单）"), ServiceOrder, mine(ServiceOrder.user_id)),
        Section("points", _l("积分账户"), PointAccount, mine(PointAccount.user_id)),
        Section("point_entries", _l("积分明细"), PointEntry, mine(PointEntry.user_id)),
        Section("redemptions", _l("积分兑换"), Redemption, mine(Redemption.user_id)),
        Section("messages", _l("消息"), Message, mine(Message.user_id)),
        Section("deliveries", _l("短信和邮件的发送记录"), Delivery,
                lambda u: Delivery.message_id.in_(select(Message.id).where(
                    Message.user_id == u.id))),
        Section("sessions", _l("登录会话"), LoginSession, mine(LoginSession.user_id)),
        Section("known_devices", _l("登录过的设备"), KnownDevice, mine(KnownDevice.user_id)),
    ]


def _plain(value):
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return None
    return value


def _third_party():
    """Columns about someone else (who handled a booking for the resident): masked, as the
    portal shows them."""
    from portal.accounts.validation import mask_id_card, mask_phone
    return {("bookings", "proxy_id_card"): mask_id_card, ("bookings", "proxy_phone"): mask_phone}


def row_dict(row, masks: dict) -> dict:
    mapper = inspect(row).mapper
    out = {}
    for attr in mapper.column_attrs:
        if attr.key in SECRET_COLUMNS:
            continue
        value = getattr(row, attr.key)
        mask = masks.get((mapper.local_table.name, attr.key))
        out[attr.key] = _plain(mask(value) if mask and value else value)
    return out


def collect(user) -> dict[str, list[dict]]:
    masks = _third_party()
    return {section.key: [row_dict(r, masks) for r in section.rows(user)]
            for section in _sections()}


def held(user) -> list[tuple[str, int]]:
    """(title, how many rows) per section: what /me/data says is held, counted in SQL."""
    return [(str(section.title), section.count(user)) for section in _sections()]


def titles() -> dict[str, str]:
    return {s.key: str(s.title) for s in _sections()}


def build_zip(user) -> bytes:
    """The ZIP a resident downloads at /me/data."""
    from portal import uploads
    from portal.civility import photos as photo_files
    data = collect(user)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=1))
        archive.writestr("index.html", render_template(
            "mydata/export.html", user=user, data=data, titles=titles()))
        for photo in data["report_photos"]:
            try:
                archive.write(uploads.path_of(photo_files.AREA, photo["original"]),
                              f"photos/report-{photo['report_id']}-{photo['id']}.jpg")
            except OSError:  # purged after the report was done with (civility purge)
                continue
    return out.getvalue()
