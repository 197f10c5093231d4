"""Demo data for the civility board: departments, categories, a department account, reports
in every state, two published weekly issues, with drawn demo photos whose "faces" and
"number plates" are already painted over."""
from __future__ import annotations

import io
import json
from datetime import timedelta

from PIL import Image, ImageDraw
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.civility import photos as photo_files
from portal.civility import workflow
from portal.civility.models import Department, Like, Report, ReportCategory
from portal.extensions import db
from portal.timeutil import to_utc, local_now, utcnow

DEPARTMENTS = ("镇综合行政执法队（演示）", "镇交警中队（演示）", "镇文旅办（演示）", "各村委会（演示）")
CATEGORIES = (("不文明交通", 1), ("不文明旅游", 2), ("不文明晾晒", 3), ("不文明遛狗", 3),
              ("占道经营", 0), ("乱扔杂物", 3), ("文明之举", None), ("其他", 3))
# (kind, category, description, place, what happens to it)
REPORTS = (
    ("uncivil", "占道经营", "集市东口流动摊贩占用人行道卖水果，行人只能走机动车道。", "东岭村集市东口", "issue1"),
    ("uncivil", "不文明交通", "电动车逆行闯红灯，差点撞到放学的学生。", "镇中心小学门口路口", "issue1"),
    ("praise", "文明之举", "村民自发清理河道垃圾，连续三个周末。", "西河村小河边", "issue1"),
    ("uncivil", "乱扔杂物", "建筑垃圾倒在村道边的绿化带里。", "南塘村村道", "issue2"),
    ("praise", "文明之举", "志愿者为独居老人修缮漏雨的屋顶。", "北坡村", "issue2"),
    ("uncivil", "不文明遛狗", "大型犬不牵绳在广场追逐行人。", "桃园村文化广场", "verified"),
    ("uncivil", "不文明晾晒", "在村道护栏上晾晒被褥，挡住了转弯视线。", "柳湾村村口", "submitted"),
    ("uncivil", "占道经营", "集市东口流动摊贩占道卖水果。", "东岭村集市东口", "submitted"),
    ("uncivil", "其他", "邻居家的空调外机滴水（非公共问题）。", "杏花村", "rejected"),
)
LIKERS = ("13800000001", "13800000002")  # the demo residents like red-list items
DEPARTMENT_ACCOUNT = "13800000601"  # the demo department account, bound to the first department


def seed_civility(reporter: User) -> int:
    """Load the demo board once; returns how many reports there are."""
    departments = {}
    for name in DEPARTMENTS:
        departments[name] = db.session.scalar(select(Department).where(Department.name == name)) \
            or Department(name=name)
        db.session.add(departments[name])
    db.session.flush()
    names = list(DEPARTMENTS)
    for position, (name, department) in enumerate(CATEGORIES):
        if db.session.scalar(select(ReportCategory).where(ReportCategory.name == name)) is None:
            db.session.add(ReportCategory(name=name, position=position,
                                          department_id=departments[names[department]].id
                                          if department is not None else None))
    account = db.session.scalar(select(User).where(User.phone == DEPARTMENT_ACCOUNT))
    if account is not None and account.department_id is None:
        account.department_id = departments[DEPARTMENTS[0]].id
    db.session.commit()
    existing = db.session.scalar(select(func.count()).select_from(Report))
    if existing:
        return existing
    moderator = db.session.scalar(select(User).where(User.phone == "13800000401"))
    now = utcnow()
    made = {"issue1": [], "issue2": []}
    for n, (kind, category, description, place, fate) in enumerate(REPORTS):
        report = workflow.submit(
            reporter, kind=kind, description=description, place=place,
            category=db.session.scalar(select(ReportCategory).where(ReportCategory.name == category)),
            occurred_at=local_now().replace(second=0, microsecond=0) - timedelta(days=12 - n),
            processed=[photo_files.process(_demo_photo(n, kind))])
        report.created_at = to_utc(report.occurred_at + timedelta(hours=2))  # sent that day
        for photo in report.photos:  # drawings: the proposals are where the drawing put them
            photo.proposed, photo.detector = json.dumps(_sensitive(n)), "demo"
            photo.detected_at = utcnow()
        if fate == "submitted":
            continue
        for photo in report.photos:
            workflow.redact(photo, moderator, [list(box) for box in _sensitive(n)])
        if fate == "rejected":
            workflow.reject(report, moderator, "属于邻里纠纷，建议联系村委会调解（演示数据）。")
            continue
        workflow.verify(report, moderator)
        if fate in made:
            made[fate].append(report.id)
    workflow.publish_issue(moderator, made["issue1"], now - timedelta(days=8))
    second = workflow.publish_issue(moderator, made["issue2"], now - timedelta(days=1))
    first_uncivil = db.session.scalar(select(Report).where(
        Report.issue_id != second.id, Report.kind == "uncivil", Report.status == "published"))
    workflow.rectify(first_uncivil, moderator, "start", "已约谈摊贩，划定临时摊位（演示数据）。")
    for done in db.session.scalars(select(Report).where(  # one rectified and checked (验收)
            Report.kind == "uncivil", Report.status == "published", Report.id != first_uncivil.id)
            .order_by(Report.id).limit(1)).all():
        workflow.rectify(done, moderator, "start", "已到现场（演示数据）。")
        workflow.rectify(done, moderator, "finish", "已清理完毕（演示数据）。")
        workflow.check(done, moderator, True, "现场复查已整改（演示数据）。")
    residents = db.session.scalars(select(User.id).where(User.phone.in_(LIKERS))).all()
    for n, praised in enumerate(db.session.scalars(select(Report.id).where(
            Report.kind == "praise", Report.status == "published").order_by(Report.id))):
        db.session.add_all([Like(report_id=praised, user_id=u) for u in residents[n % 2:]])
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(Report))


def _sensitive(n: int) -> tuple[tuple[int, int, int, int], ...]:
    """Where the demo photo's "face" and "number plate" are (in its 800 × 600 pixels)."""
    return ((120 + 20 * (n % 3), 140, 120, 130), (470, 430, 200, 60))


def _demo_photo(n: int, kind: str) -> bytes:
    """A drawn street scene with a "face" and a "number plate" to paint over."""
    image = Image.new("RGB", (800, 600), (170, 200, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 380, 800, 600], fill=(120, 120, 120))  # the road
    draw.rectangle([420, 300, 720, 500], fill=(200, 60, 50) if kind == "uncivil" else (60, 160, 90))
    (fx, fy, fw, fh), (px, py, pw, ph) = _sensitive(n)
    draw.ellipse([fx, fy, fx + fw, fy + fh], fill=(240, 200, 170))  # a "face"
    draw.rectangle([fx + 10, fy + fh, fx + fw - 10, fy + fh + 170], fill=(40, 70, 140))
    draw.rectangle([px, py, px + pw, py + ph], fill=(30, 60, 200))  # a "number plate"
    draw.text((px + 20, py + 20), "DEMO 12345", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()

