"""The editorial workflow: draft → in review → published (now or at a set time) → withdrawn.

Every save is a revision that can be viewed later; every step is audited. Publishing,
scheduling, withdrawing and pinning need the `editor` role; drafting and submitting for
review are open to every role of the editor pages. A step is one conditional UPDATE on the
state it comes from, so two editors cannot both publish or both withdraw.
"""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import distinct, func, select
from wtforms.fields.choices import SelectChoice

from portal import audit
from portal.database import likely
from portal.extensions import db
from portal.notices.models import STATUS_LABELS, Notice, NoticeRevision
from portal.notices.render import normal_doc_number
from portal.refused import Refused
from portal.transitions import advance
from portal.search import add_to_index
from portal.timeutil import to_local, utcnow

FIELDS = ("title", "doc_number", "agency", "category", "written_on", "validity", "body",
          "body_format")


class NoticeRefused(Refused):
    """An editorial rule said no."""


def _editor(actor) -> None:
    if not actor.has_role("editor"):
        raise NoticeRefused("role", _l("只有信息编辑可以发布、撤回或置顶通知。"))


def save(notice: Notice | None, actor, **values) -> Notice:
    """Create a draft, or edit a notice (not a withdrawn one): a new revision either way."""
    if notice is not None and notice.status == "withdrawn":
        raise NoticeRefused("withdrawn", _l("已撤回的通知要先恢复为草稿才能修改。"))
    values["doc_number"] = normal_doc_number(values.get("doc_number") or "")
    if notice is None:
        notice = Notice(created_by=actor.id, revision=0)
        db.session.add(notice)
    changed = [name for name in FIELDS if getattr(notice, name) != values.get(name)]
    for name in FIELDS:
        setattr(notice, name, values.get(name))
    notice.revision = (notice.revision or 0) + 1
    notice.updated_at = utcnow()
    db.session.flush()
    notice.revisions.append(NoticeRevision(
        number=notice.revision, edited_by=actor.id,
        **{name: getattr(notice, name) for name in FIELDS}))
    audit.record("notice.saved", notice, revision=notice.revision, changed=changed,
                 status=notice.status)
    db.session.commit()
    return notice


def _move(notice: Notice, action: str, froms: tuple[str, ...], to: str, actor, **values) -> None:
    seen = notice.status
    if seen not in froms:
        raise NoticeRefused("invalid", _l("这条通知现在是“%(status)s”，不能这样操作。",
                                          status=STATUS_LABELS.get(seen, seen)))
    advance(notice, Notice.status == seen, status=to, updated_at=utcnow(), **values,
            refused=NoticeRefused("conflict", _l("这条通知刚刚被其他人处理过，请刷新后再看。")))
    audit.record(f"notice.{action}", notice, from_status=seen, to_status=to,
                 **{k: v for k, v in values.items() if k != "updated_at"})
    add_to_index("notice", notice.id)  # a Core UPDATE: the session's flush hook does not see it
    db.session.commit()


def submit(notice: Notice, actor) -> None:
    _move(notice, "submit", ("draft",), "review", actor)


def return_to_draft(notice: Notice, actor) -> None:
    _move(notice, "return", ("review",), "draft", actor)


def publish(notice: Notice, actor, at: datetime | None = None, now: datetime | None = None) -> None:
    """Publish now, or at `at` (UTC; a scheduled notice appears by itself at that time)."""
    _editor(actor)
    now = now or utcnow()
    when = at if at and at > now else now
    _move(notice, "publish", ("review",), "published", actor, publish_at=when,
          published_on=to_local(when).date())


def withdraw(notice: Notice, actor) -> None:
    _editor(actor)
    _move(notice, "withdraw", ("published",), "withdrawn", actor)


def restore(notice: Notice, actor) -> None:
    """A withdrawn notice back to draft, to be corrected and published again."""
    _move(notice, "restore", ("withdrawn",), "draft", actor, publish_at=None)


def pin(notice: Notice, actor, pinned: bool) -> None:
    _editor(actor)
    notice.pinned = pinned
    audit.record("notice.pin", notice, pinned=pinned)
    db.session.commit()


def live_query(now: datetime | None = None):
    """Notices anyone may see: published, and their time has come."""
    return select(Notice).where(Notice.status == "published",
                                likely(Notice.publish_at <= (now or utcnow())))


def category_text(category: str | None) -> str:
    """A category as people read it: the catalogue's path 社会保障\\养老保险 as 社会保障 › 养老保险."""
    return " › ".join(part.strip() for part in (category or "").split("\\") if part.strip())


def filter_choices() -> dict[str, list[SelectChoice]]:
    """What the notice filters offer (category, agency, year): the values live notices have,
    each list led by 全部. The notices list and /search use the same lists."""
    def values(column) -> list[SelectChoice]:
        found = db.session.scalars(select(distinct(column)).where(
            Notice.status == "published", Notice.publish_at <= utcnow(), column != "")
            .order_by(column)).all()
        return [SelectChoice(v, category_text(v)) for v in found]
    years = db.session.scalars(select(distinct(func.extract("year", Notice.published_on))).where(
        Notice.status == "published", Notice.publish_at <= utcnow())).all()
    every = SelectChoice("", _("全部"))
    return {"category": [every] + values(Notice.category),
            "agency": [every] + values(Notice.agency),
            "year": [every] + [SelectChoice(str(int(y)), str(int(y)))
                               for y in sorted((y for y in years if y), reverse=True)]}


def publish_imported(values: dict, actor_id: int | None, now: datetime) -> Notice:
    """An imported notice: published at once (its official date kept), first revision."""
    notice = Notice(status="published", publish_at=now, created_by=actor_id, revision=1,
                    **{k: values.get(k) for k in FIELDS}, published_on=values["published_on"])
    notice.revisions.append(NoticeRevision(number=1, edited_by=actor_id,
                                           **{k: values.get(k) for k in FIELDS}))
    return notice


def year_of(notice: Notice) -> int | None:
    day: date | None = notice.published_on or notice.written_on
    return day.year if day else None
