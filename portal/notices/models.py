"""Policy notices (政策通知/公告) with the fields of the national policy library, their
revisions and attachments."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.timeutil import utcnow

# draft → review → published (live from `publish_at`, which may be in the future) → withdrawn
STATUSES = ("draft", "review", "published", "withdrawn")
STATUS_LABELS = {"draft": _l("草稿"), "review": _l("待审核"), "published": _l("已发布"),
                 "withdrawn": _l("已撤回")}
VALIDITIES = ("valid", "expired", "repealed")
VALIDITY_LABELS = {"valid": _l("有效"), "expired": _l("失效"), "repealed": _l("废止")}
FORMATS = ("markdown", "plain")


class Notice(db.Model):
    __tablename__ = "notices"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint(f"validity IN {VALIDITIES!r}", name="validity"),
        CheckConstraint(f"body_format IN {FORMATS!r}", name="body_format"),
        # The public list: live notices, pinned first, newest first.
        Index("ix_notices_public", "status", "pinned", "published_on"),
        # The latest live ones (the feed, the hub, a search that found nothing).
        Index("ix_notices_live", "status", "publish_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    doc_number: Mapped[str] = mapped_column(String(60), default="")  # 发文字号, e.g. 青政发〔2026〕3号
    agency: Mapped[str] = mapped_column(String(80), default="", index=True)  # 发文机关
    category: Mapped[str] = mapped_column(String(60), default="", index=True)  # 主题分类
    written_on: Mapped[date | None]  # 成文日期
    published_on: Mapped[date | None]  # 发布日期, shown; set when published
    publish_at: Mapped[datetime | None]  # when it goes live (UTC); later than now = scheduled
    validity: Mapped[str] = mapped_column(String(10), default="valid")
    body: Mapped[str] = mapped_column(Text, default="")
    body_format: Mapped[str] = mapped_column(String(10), default="markdown")
    status: Mapped[str] = mapped_column(String(10), default="draft")
    pinned: Mapped[bool] = mapped_column(default=False)
    demo: Mapped[bool] = mapped_column(default=False)  # demo data, marked as such on the page
    revision: Mapped[int] = mapped_column(default=1)  # the number of the latest revision
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    revisions: Mapped[list[NoticeRevision]] = relationship(
        back_populates="notice", order_by="NoticeRevision.number", cascade="all, delete-orphan")
    attachments: Mapped[list[NoticeAttachment]] = relationship(
        back_populates="notice", order_by="NoticeAttachment.id", cascade="all, delete-orphan")

    def live(self, now: datetime) -> bool:
        """Published and its time has come (`now` in UTC)."""
        return self.status == "published" and self.publish_at is not None and self.publish_at <= now


class NoticeRevision(db.Model):
    """The notice as it was after one edit: every edit is kept and can be viewed."""

    __tablename__ = "notice_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    doc_number: Mapped[str] = mapped_column(String(60), default="")
    agency: Mapped[str] = mapped_column(String(80), default="")
    category: Mapped[str] = mapped_column(String(60), default="")
    written_on: Mapped[date | None]
    validity: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text, default="")
    body_format: Mapped[str] = mapped_column(String(10))
    edited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    edited_at: Mapped[datetime] = mapped_column(default=utcnow)

    notice: Mapped[Notice] = relationship(back_populates="revisions")
    editor: Mapped["User | None"] = relationship()  # noqa: F821


class NoticeAttachment(db.Model):
    """A file attached to a notice, stored under a random name outside static/."""

    __tablename__ = "notice_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    filename: Mapped[str] = mapped_column(String(120))  # as shown and downloaded (cleaned)
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # pdf, docx, xlsx, doc, xls, png, jpeg, webp
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    notice: Mapped[Notice] = relationship(back_populates="attachments")
