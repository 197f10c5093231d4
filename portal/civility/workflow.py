"""The civility board's rules, as plain functions the views and tests call.

submitted → verified (every photo redacted or kept private) → published in a weekly issue
→ (withdrawn after an appeal); submitted → rejected (with a reason the reporter sees) or
merged into a report about the same thing. A published black-list item is routed to its
department: assigned → rectifying → rectified, due in RECTIFY_WORKING_DAYS, then checked by a
moderator (验收: passed, or back to rectifying with a reason and a new deadline). Published
items leave the public board after the retention period; only counts stay public.
Each step is a conditional UPDATE on the state it comes from, an event and an audit entry.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from portal import audit, happenings, page_cache, uploads
from portal.civility import photos as photo_files
from portal.civility.models import (APPEAL_OUTCOMES, STATUS_LABELS, Appeal, Department, Issue,
                                    Like, Photo, Report, ReportCategory, ReportEvent)
from portal.database import insert_ignore
from portal.extensions import db
from portal.notifications import notify
from portal.places.workdays import add_working_days, calendar
from portal.refused import Refused
from portal.transitions import advance
from portal.timeutil import to_local, to_utc, utcnow

RECTIFY_WORKING_DAYS = 10
MAX_PHOTOS = 4
DUPLICATE_HOURS = 24
DUPLICATE_METRES = 300


class CivilityRefused(Refused):
    """A civility-board rule said no."""


def retention_days() -> int:
    return int(current_app.config["CIVILITY_RETENTION_DAYS"])


def _event(report: Report, action: str, actor, note: str = "") -> None:
    report.events.append(ReportEvent(action=action, actor_id=actor.id if actor else None,
                                     note=note))


def _move(report: Report, action: str, froms: tuple[str, ...], to: str, actor, note: str = "",
          **values) -> None:
    seen = report.status
    if seen not in froms:
        raise CivilityRefused("invalid", _l("这条报告现在是“%(s)s”，不能这样操作。",
                                            s=STATUS_LABELS.get(seen, seen)))
    advance(report, Report.status == seen, status=to, **values,
            refused=CivilityRefused("conflict", _l("这条报告刚刚被其他审核员处理过，请刷新后再看。")))
    _event(report, action, actor, note)
    audit.record(f"civility.{action}", report, from_status=seen, to_status=to, note=note[:200])
    happenings.report_decided.send(report)  # a verified civil act earns its reporter points


# -- reporting ---------------------------------------------------------------------------------

def submit(reporter, *, kind: str, category: ReportCategory, description: str, place: str,
           occurred_at: datetime, processed: list[photo_files.Processed]) -> Report:
    """A new report: hidden until a moderator verifies it."""
    located = next((p for p in processed if p.latitude is not None), None)
    report = Report(kind=kind, category=category, description=description, place=place,
                    occurred_at=occurred_at, reporter_id=reporter.id,
                    latitude=located.latitude if located else None,
                    longitude=located.longitude if located else None)
    for p in processed[:MAX_PHOTOS]:
        report.photos.append(Photo(original=p.original, original_thumb=p.original_thumb,
                                   width=p.width, height=p.height))
    db.session.add(report)
    _event(report, "submit", reporter)
    db.session.commit()
    return report


# -- moderation -------------------------------------------------------------------------------

def redact(photo: Photo, moderator, boxes: list[list[int]], hide: bool = False) -> None:
    """Paint boxes over faces and number plates and make the public derivative (or keep
    the photo private). Can be redone any time, also after publication. The moderator
    confirms boxes only after the detector has proposed its own (keeping a photo private
    needs no wait)."""
    if not hide and photo.detected_at is None:
        raise CivilityRefused("detecting", _l(
            "系统还在自动查找这张照片里的人脸和车牌（通常一分钟内完成），请稍候刷新页面，核对建议的打码框后再保存。"))
    if hide:
        photo.public = photo.public_thumb = None
        photo.hidden = True
    else:
        photo.public, photo.public_thumb = photo_files.redact(photo.original, boxes)
        photo.hidden = False
    photo.boxes = json.dumps(boxes)
    photo.redacted_by, photo.redacted_at = moderator.id, utcnow()
    audit.record("civility.redact", photo.report, photo=photo.id, boxes=len(boxes), hidden=hide)
    db.session.commit()


def propose(photo: Photo) -> int:
    """Let the detector look at one photo and keep its proposals. Returns how many."""
    from portal.civility import detect
    try:
        found = detect.propose_for(uploads.path_of(photo_files.AREA, photo.original))
        photo.proposed, photo.detector = json.dumps([f.box for f in found]), "centerface+plates"
    except detect.DetectorUnavailable as error:  # the moderator boxes by hand, as before
        current_app.logger.error("redaction proposals unavailable: %s", error)
        found, photo.proposed, photo.detector = [], "[]", "unavailable"
    photo.detected_at = utcnow()
    return len(found)


def propose_pending(limit: int = 30) -> tuple[int, int]:
    """The jobs worker's `faces` task: the oldest photos not yet looked at, one commit each
    (a photo is looked at once, by whichever worker holds the minute's lease). Returns
    (photos, boxes)."""
    photos = boxes = 0
    for photo in db.session.scalars(select(Photo).where(Photo.detected_at.is_(None))
                                    .order_by(Photo.id).limit(limit)).all():
        try:
            boxes += propose(photo)
        except OSError:  # its file is gone (purged): nothing to look at
            photo.detected_at, photo.detector = utcnow(), "missing"
        db.session.commit()
        photos += 1
    return photos, boxes


def verify(report: Report, moderator, department_id: int | None = None) -> None:
    """Verified: true, and every photo fit to be seen (redacted, or kept private)."""
    if any(not p.ready for p in report.photos if p.role == "evidence"):
        raise CivilityRefused("photos", _l("还有照片没有处理：请先给人脸和车牌打码（没有就直接确认），或设为不公开。"))
    department = department_id or report.category.department_id
    _move(report, "verify", ("submitted",), "verified", moderator, moderator_id=moderator.id,
          verified_at=utcnow(), department_id=department)
    db.session.commit()


def reject(report: Report, moderator, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise CivilityRefused("reason", _l("请写明不采用的理由，报告人会看到。"))
    _move(report, "reject", ("submitted", "verified"), "rejected", moderator, reason,
          moderator_id=moderator.id, reason=reason)
    _tell(report, _l("您提交的随手拍（编号%(id)s）未被采用。理由：%(reason)s", id=report.id,
                     reason=reason))
    db.session.commit()


def merge(report: Report, into: Report, moderator) -> None:
    """The same thing reported twice: the later report is merged into the earlier one."""
    if into.id == report.id or into.status not in ("submitted", "verified", "published") \
            or into.kind != report.kind:
        raise CivilityRefused("merge", _l("只能合并到同一类、尚未撤下的另一条报告。"))
    _move(report, "merge", ("submitted",), "merged", moderator, f"→ {into.id}",
          merged_into_id=into.id, moderator_id=moderator.id)
    _tell(report, _l("您提交的随手拍（编号%(id)s）与其他群众反映的是同一件事，已合并处理，谢谢！",
                     id=report.id))
    db.session.commit()


def duplicates(report: Report) -> list[Report]:
    """Reports that may be the same thing: same kind and category, within a day, and at the
    same place (the same words, or photos taken within a few hundred metres)."""
    window = timedelta(hours=DUPLICATE_HOURS)
    candidates = db.session.scalars(select(Report).where(
        Report.id != report.id, Report.kind == report.kind,
        Report.category_id == report.category_id,
        Report.status.in_(("submitted", "verified", "published")),
        Report.occurred_at.between(report.occurred_at - window, report.occurred_at + window))
        .order_by(Report.id)).all()
    return [c for c in candidates if _same_place(report, c)]


def _same_place(a: Report, b: Report) -> bool:
    if None not in (a.latitude, a.longitude, b.latitude, b.longitude):
        return _metres(a, b) <= DUPLICATE_METRES
    words = lambda text: {text[i:i + 2] for i in range(len(text) - 1)}  # noqa: E731
    x, y = words(a.place), words(b.place)
    return bool(x and y) and len(x & y) / len(x | y) >= 0.5


def _metres(a: Report, b: Report) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((la2 - la1) / 2) ** 2 + \
        math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 6_371_000 * 2 * math.asin(math.sqrt(h))


# -- weekly issues ------------------------------------------------------------------------------

def next_number() -> int:
    return (db.session.scalar(select(func.max(Issue.number))) or 0) + 1


def publish_issue(moderator, report_ids: list[int], now: datetime | None = None) -> Issue:
    """Publish the chosen verified reports as the next issue (第N期), all at once."""
    now = now or utcnow()
    if not report_ids:
        raise CivilityRefused("empty", _l("请至少选择一条已核实的报告。"))
    issue = Issue(number=next_number(), published_at=now, published_by=moderator.id)
    db.session.add(issue)
    try:
        db.session.flush()
    except IntegrityError:  # another moderator published an issue this very moment
        db.session.rollback()
        raise CivilityRefused("conflict", _l("刚刚有其他审核员发布了一期，请刷新后再看。")) from None
    due = add_working_days(to_local(now).date(), RECTIFY_WORKING_DAYS, calendar())
    reports = db.session.scalars(select(Report).where(Report.id.in_(report_ids))).all()
    for report in reports:
        values = dict(issue_id=issue.id, published_at=now,
                      expires_at=now + timedelta(days=retention_days()))
        if report.kind == "uncivil" and report.department_id:
            values.update(rectification="assigned", rectify_due=due)
        advance(report, Report.status == "verified", Report.issue_id.is_(None),
                status="published", **values, refused=CivilityRefused(
                    "conflict", _l("所选报告中有的已经发布或被处理过，请刷新后重新选择。")))
        _event(report, "publish", moderator, f"第{issue.number}期")
        _tell(report, _l("您提交的随手拍（编号%(id)s）已在第%(number)s期公开，谢谢您的参与！",
                         id=report.id, number=issue.number))
    audit.record("civility.issue", issue, number=issue.number, reports=sorted(report_ids))
    db.session.commit()
    return issue


# -- rectification -------------------------------------------------------------------------------

RECTIFY_STEPS = {"start": ("assigned", "rectifying"), "finish": ("rectifying", "rectified")}


def rectify(report: Report, actor, step: str, note: str,
            after: photo_files.Processed | None = None) -> None:
    """The department works on a published black-list item (or a moderator records it)."""
    frm, to = RECTIFY_STEPS[step]
    note = (note or "").strip()
    if step == "finish" and not note:
        raise CivilityRefused("note", _l("请写明整改情况。"))
    advance(report, Report.rectification == frm, Report.status == "published",
            rectification=to, rectified_at=utcnow() if to == "rectified" else None,
            refused=CivilityRefused("invalid", _l("这条整改记录刚刚已更新，请刷新后再看。")))
    _add_after(report, after)
    _event(report, f"rectify_{step}", actor, note)
    audit.record(f"civility.rectify_{step}", report, note=note[:200])
    db.session.commit()


def _add_after(report: Report, after: photo_files.Processed | None) -> None:
    """An after-photo: private until a moderator redacts it, like every photo."""
    if after is not None:
        report.photos.append(Photo(role="after", original=after.original,
                                   original_thumb=after.original_thumb, width=after.width,
                                   height=after.height))


def check(report: Report, moderator, passed: bool, note: str, new_due=None,
          after: photo_files.Processed | None = None, today=None) -> None:
    """The moderator's 验收 of an item the department says is rectified: passed (the public
    item says 已整改并验收), or back to rectifying with what is still wrong and a new
    deadline. An after-photo taken at the check goes through the same photo rules."""
    note, today = (note or "").strip(), today or to_local(utcnow()).date()
    if not passed and not note:
        raise CivilityRefused("note", _l("验收不通过时，请写明还有什么没整改好。"))
    if not passed and (new_due is None or new_due <= today):
        raise CivilityRefused("due", _l("请给一个新的整改期限（今天以后）。"))
    values = {"rectification": "checked", "checked_at": utcnow()} if passed else {
        "rectification": "rectifying", "rectify_due": new_due, "rectified_at": None}
    advance(report, Report.rectification == "rectified", Report.status == "published",
            **values, refused=CivilityRefused("invalid", _l("这条整改记录刚刚已更新，请刷新后再看。")))
    _add_after(report, after)
    action = "check_pass" if passed else "check_fail"
    _event(report, action, moderator, note if passed else f"{note}（{new_due.isoformat()}）")
    audit.record(f"civility.{action}", report, note=note[:200],
                 due=None if passed else new_due.isoformat())
    db.session.commit()


@dataclass
class Ranked:
    """A department's month: items due then, those rectified by their deadline, checks done
    and passed (查、督、改、验; "每月一次考核排名")."""
    department: Department
    due: int = 0
    on_time: int = 0
    checks: int = 0
    passed: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.due if self.due else None

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.checks if self.checks else None


def ranking(month) -> list[Ranked]:
    """The departments ranked for a month (its first day): by the share rectified on time,
    then the check pass rate; departments with nothing that month last."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    rows = {d.id: Ranked(d) for d in db.session.scalars(
        select(Department).where(Department.active.is_(True)).order_by(Department.name))}
    for department_id, rectified_at, due in db.session.execute(
            select(Report.department_id, Report.rectified_at, Report.rectify_due).where(
                Report.department_id.is_not(None), Report.rectify_due >= first,
                Report.rectify_due < following)):
        if department_id in rows:
            rows[department_id].due += 1
            rows[department_id].on_time += rectified_at is not None and \
                to_local(rectified_at).date() <= due
    start = to_utc(datetime.combine(first, datetime.min.time()))
    end = to_utc(datetime.combine(following, datetime.min.time()))
    for department_id, action in db.session.execute(
            select(Report.department_id, ReportEvent.action).join(ReportEvent).where(
                ReportEvent.action.in_(("check_pass", "check_fail")),
                ReportEvent.at >= start, ReportEvent.at < end)):
        if department_id in rows:
            rows[department_id].checks += 1
            rows[department_id].passed += action == "check_pass"
    return sorted(rows.values(), key=lambda r: (
        r.due == 0 and r.checks == 0, -(r.on_time_rate or 0), -(r.pass_rate or 0),
        r.department.name))


# -- likes (点赞) on the red list ---------------------------------------------------------------

def like(report: Report, user_id: int, on: bool) -> int:
    """Like (or take back a like of) a red-list item on the board; one per account. Returns
    the item's likes now."""
    if report.kind != "praise" or not report.public(utcnow()):
        raise CivilityRefused("not_praise", _l("只能给红榜上的文明之举点赞。"))
    if on:
        insert_ignore(Like, report_id=report.id, user_id=user_id, created_at=utcnow())
    else:
        db.session.execute(delete(Like).where(Like.report_id == report.id,
                                              Like.user_id == user_id))
    db.session.commit()
    return likes([report.id]).get(report.id, 0)


def likes(report_ids) -> dict[int, int]:
    """Report id → its likes, for the items on a page."""
    return dict(db.session.execute(select(Like.report_id, func.count()).where(
        Like.report_id.in_(list(report_ids))).group_by(Like.report_id)).all())


def liked(report_id: int, user_id: int) -> bool:
    return db.session.get(Like, (report_id, user_id)) is not None


def overdue(report: Report, today) -> bool:
    return report.rectification in ("assigned", "rectifying") and report.rectify_due is not None \
        and today > report.rectify_due


# -- appeals -------------------------------------------------------------------------------------

def appeal(report: Report, *, name: str, phone: str, text: str) -> Appeal:
    """Anyone — first of all the party exposed — may ask for a correction or a withdrawal."""
    if not report.public(utcnow()):
        raise CivilityRefused("not_public", _l("这条内容已不在曝光台上。"))
    entry = Appeal(report=report, name=name, phone=phone, text=text)
    db.session.add(entry)
    _event(report, "appeal", None)
    db.session.commit()
    return entry


def decide(entry: Appeal, moderator, outcome: str, note: str,
           description: str | None = None, place: str | None = None) -> None:
    """Uphold the item, correct it, or withdraw it from the board; the outcome is kept."""
    note = (note or "").strip()
    if outcome not in APPEAL_OUTCOMES or not note:
        raise CivilityRefused("outcome", _l("请选择处理结果并写明理由。"))
    advance(entry, Appeal.status == "open", status=outcome, outcome=note,
            decided_by=moderator.id, decided_at=utcnow(),
            refused=CivilityRefused("conflict", _l("这条申诉刚刚已由其他审核员处理。")))
    report = entry.report
    if outcome == "corrected":
        report.description = (description or report.description).strip()
        report.place = (place or report.place).strip()
    if outcome == "withdrawn":
        _move(report, "withdraw", ("published",), "withdrawn", moderator, note)
    _event(report, f"appeal_{outcome}", moderator, note)
    audit.record("civility.appeal", report, appeal=entry.id, outcome=outcome)
    notify(phone=entry.phone, user_id=None, kind="status",
           body=_l("您对曝光台第%(id)s号内容的申诉已处理：%(note)s", id=report.id, note=note))
    db.session.commit()


# -- the public board ---------------------------------------------------------------------------

def public_query(now: datetime | None = None):
    """Reports anyone may see: published, not withdrawn, within their retention."""
    return select(Report).where(Report.status == "published", Report.expires_at > (now or utcnow()))


def counts() -> dict[tuple[str, str], int]:
    """Published items by kind and category, all time (what stays public after retention).
    A scan of every report ever published, so counted once per worker for each stamp of the
    civility rows (page_cache.stamp: it moves with every change to them)."""
    cache = current_app.extensions.setdefault("tongban.civility.counts", {})
    stamp = page_cache.stamp("civility")  # read before the rows it stands for
    if cache.get("stamp") == stamp:
        return cache["value"]
    rows = db.session.execute(select(Report.kind, ReportCategory.name, func.count())
                              .join(ReportCategory).where(Report.status == "published")
                              .group_by(Report.kind, ReportCategory.name))
    cache.update(value={(kind, name): n for kind, name, n in rows}, stamp=stamp)
    return cache["value"]


# -- keeping no longer than needed -----------------------------------------------------------------

DONE_STATUSES = ("published", "withdrawn", "rejected", "merged")


def purge_due(report: Report, now: datetime) -> bool:
    """Done with: off the board (or rejected or merged, counted from when it came in plus
    the retention) for CIVILITY_PURGE_DAYS more. Appeals and rectification happen before."""
    if report.status not in DONE_STATUSES:
        return False
    left_board = report.expires_at or report.created_at + timedelta(days=retention_days())
    return left_board + timedelta(days=current_app.config["CIVILITY_PURGE_DAYS"]) <= now


def purge(now: datetime | None = None) -> int:
    """Delete the photos (the unredacted originals and every derivative) and the photo's
    position of reports that are done with. Their text and the public counts stay. Returns
    how many reports were purged; run daily (`flask --app wsgi civility purge`)."""
    now = now or utcnow()
    oldest = now - timedelta(days=current_app.config["CIVILITY_PURGE_DAYS"])
    candidates = db.session.scalars(select(Report).where(
        Report.status.in_(DONE_STATUSES), Report.created_at <= oldest,
        Report.photos.any() | Report.latitude.is_not(None))).all()
    files, purged = [], 0
    for report in candidates:
        if not purge_due(report, now):
            continue
        for photo in list(report.photos):
            files += [photo.original, photo.original_thumb, photo.public, photo.public_thumb]
            report.photos.remove(photo)  # delete-orphan: the row goes
        report.latitude = report.longitude = None
        _event(report, "purge", None)
        purged += 1
    if purged:
        audit.record("civility.purge", _PurgeRef(), reports=purged, files=sum(map(bool, files)))
    db.session.commit()
    for name in files:  # after the commit: a file without a row is harmless, not the reverse
        uploads.discard(photo_files.AREA, name)
    return purged


class _PurgeRef:
    """The audit log's name for a purge run."""

    id = "run"


def _tell(report: Report, body) -> None:
    reporter = report.reporter
    notify(phone=reporter.phone, user_id=reporter.id, kind="status", body=body)
