"""The civility exposure board (不文明行为曝光台) and the red/black lists (红黑榜): reports with
photos, moderation, weekly issues, rectification by the responsible department, appeals.

Nothing of a report is public until a moderator verifies it and it is published in an
issue; only redacted derivatives of photos are ever served publicly; the reporter is never
shown. See DESIGN.md §4 (Civil Code Art. 1019–1020, PIPL).
"""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.timeutil import utcnow

KINDS = ("uncivil", "praise")  # black list, red list
KIND_LABELS = {"uncivil": _l("不文明行为"), "praise": _l("文明之举")}
# submitted → verified → published (in an issue) → withdrawn (after an appeal); or rejected,
# or merged into another report about the same thing.
STATUSES = ("submitted", "verified", "rejected", "merged", "published", "withdrawn")
STATUS_LABELS = {"submitted": _l("待审核"), "verified": _l("已核实，待发布"), "rejected": _l("未采用"),
                 "merged": _l("已合并到其他报告"), "published": _l("已曝光"), "withdrawn": _l("已撤下")}
# assigned → rectifying → rectified (the department says done) → checked (a moderator's 验收
# passed; or back to rectifying with a reason and a new deadline)
RECTIFICATION = ("assigned", "rectifying", "rectified", "checked")
RECTIFICATION_LABELS = {"assigned": _l("已交办"), "rectifying": _l("整改中"),
                        "rectified": _l("整改完成，待验收"), "checked": _l("已整改并验收")}
APPEAL_OUTCOMES = ("upheld", "corrected", "withdrawn")
APPEAL_LABELS = {"open": _l("处理中"), "upheld": _l("维持"), "corrected": _l("已更正"),
                 "withdrawn": _l("已撤下")}

EVENT_LABELS = {
    "submit": _l("已提交"), "verify": _l("文明办已核实"), "reject": _l("未采用"), "merge": _l("已合并"),
    "publish": _l("已公开"), "rectify_start": _l("责任部门开始整改"), "rectify_finish": _l("整改完成"),
    "appeal": _l("收到申诉"), "appeal_upheld": _l("申诉处理：维持"),
    "appeal_corrected": _l("申诉处理：已更正"), "appeal_withdrawn": _l("申诉处理：已撤下"),
    "withdraw": _l("已撤下"), "check_pass": _l("文明办验收通过"),
    "check_fail": _l("文明办验收未通过，退回整改"),
    "purge": _l("照片和定位已按保存期限删除"),
}


class Department(db.Model):
    """A department items are routed to for rectification (城管、交警、文旅 …)."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    active: Mapped[bool] = mapped_column(default=True)


class ReportCategory(db.Model):
    """What a report is about; admins edit the list."""

    __tablename__ = "report_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))

    department: Mapped[Department | None] = relationship()


class Issue(db.Model):
    """A weekly issue (第N期), published as a batch."""

    __tablename__ = "civility_issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    published_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    reports: Mapped[list[Report]] = relationship(back_populates="issue",
                                                 order_by="Report.kind, Report.id")


class Report(db.Model):
    __tablename__ = "civility_reports"
    __table_args__ = (
        CheckConstraint(f"kind IN {KINDS!r}", name="kind"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint(f"rectification IS NULL OR rectification IN {RECTIFICATION!r}",
                        name="rectification"),
        # The red and black lists: the newest published of each kind (still on the board).
        Index("ix_civility_reports_lists", "status", "kind", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="uncivil")
    category_id: Mapped[int] = mapped_column(ForeignKey("report_categories.id"))
    description: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[datetime]  # local time, as the reporter gave it
    # Private: who reported (never shown publicly), and where the photo said it was taken.
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    status: Mapped[str] = mapped_column(String(10), default="submitted", index=True)
    reason: Mapped[str] = mapped_column(Text, default="")  # why rejected (the reporter sees it)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("civility_reports.id"))
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None]
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("civility_issues.id"), index=True)
    published_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # leaves the public board then (retention)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    rectification: Mapped[str | None] = mapped_column(String(12))
    rectify_due: Mapped[date | None]
    rectified_at: Mapped[datetime | None]
    checked_at: Mapped[datetime | None]  # the moderator's 验收 passed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    category: Mapped[ReportCategory] = relationship()
    issue: Mapped[Issue | None] = relationship(back_populates="reports")
    department: Mapped[Department | None] = relationship()
    reporter: Mapped["User"] = relationship(foreign_keys=[reporter_id])  # noqa: F821
    photos: Mapped[list[Photo]] = relationship(back_populates="report", order_by="Photo.id",
                                               cascade="all, delete-orphan")
    events: Mapped[list[ReportEvent]] = relationship(back_populates="report",
                                                     order_by="ReportEvent.id",
                                                     cascade="all, delete-orphan")
    appeals: Mapped[list[Appeal]] = relationship(back_populates="report", order_by="Appeal.id")

    def public(self, now: datetime) -> bool:
        """Shown on the public board now: published and still within its retention."""
        return self.status == "published" and self.expires_at is not None and self.expires_at > now


class Photo(db.Model):
    """One photo of a report. The working copy (`original`) is re-encoded without any
    metadata and seen by moderators only; `public` is the redacted derivative, made when a
    moderator has painted over faces and number plates (or confirmed there are none)."""

    __tablename__ = "civility_photos"
    __table_args__ = (CheckConstraint("role IN ('evidence', 'after')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("civility_reports.id"), index=True)
    role: Mapped[str] = mapped_column(String(10), default="evidence")  # or the after-photo
    original: Mapped[str] = mapped_column(String(80))
    original_thumb: Mapped[str] = mapped_column(String(80))
    public: Mapped[str | None] = mapped_column(String(80))
    public_thumb: Mapped[str | None] = mapped_column(String(80))
    width: Mapped[int]
    height: Mapped[int]
    boxes: Mapped[str] = mapped_column(Text, default="[]")  # JSON [[x, y, w, h], …] in pixels
    # What the jobs worker's detector proposed (faces and plates, civility/detect.py), same
    # form; when it looked, and with what ("centerface+plates", "unavailable", "demo").
    proposed: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    detected_at: Mapped[datetime | None]
    detector: Mapped[str] = mapped_column(String(20), default="", server_default="")
    hidden: Mapped[bool] = mapped_column(default=False)  # never to be shown publicly
    redacted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    redacted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[Report] = relationship(back_populates="photos")

    @property
    def ready(self) -> bool:
        """Decided by a moderator: redacted for the public, or kept private."""
        return self.hidden or self.public is not None


class ReportEvent(db.Model):
    """One step in a report's life: what the reporter's tracking page shows (without the
    moderator's name) and what the audit needs (with it)."""

    __tablename__ = "civility_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("civility_reports.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")

    report: Mapped[Report] = relationship(back_populates="events")


class Appeal(db.Model):
    """A correction or appeal on a published item (from the exposed party or anyone)."""

    __tablename__ = "civility_appeals"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'upheld', 'corrected', 'withdrawn')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("civility_reports.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(11))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    outcome: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[Report] = relationship(back_populates="appeals")



class Like(db.Model):
    """A resident's 点赞 of a red-list item: one per account, taken back by deleting it."""

    __tablename__ = "civility_likes"

    report_id: Mapped[int] = mapped_column(ForeignKey("civility_reports.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
