"""Notices as search documents and hits."""
from __future__ import annotations

from datetime import UTC

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select

from portal.extensions import db
from portal.templating import date_text
from portal.notices.models import VALIDITY_LABELS, Notice
from portal.notices.render import plain_text
from portal.notices.workflow import live_query, year_of
from portal.search.documents import HitInfo, Provider, finish, register


def document(notice: Notice) -> dict:
    published = notice.publish_at.replace(tzinfo=UTC).timestamp() if notice.publish_at else 0
    meta = " ".join(filter(None, (notice.doc_number, notice.agency, notice.category)))
    doc = dict(key=f"notice:{notice.id}", kind="notice", title=f"{notice.title} {meta}",
               body=plain_text(notice.body, notice.body_format), py=notice.title,
               pyi=notice.title, category=notice.category or "", agency=notice.agency or "",
               validity=notice.validity, published=int(published))
    if (year := year_of(notice)) is not None:
        doc["year"] = str(year)
    return finish(doc)


def hit(notice: Notice) -> HitInfo:
    facts = [notice.agency, date_text(notice.published_on),
             notice.doc_number]
    if notice.validity != "valid":
        facts.append(str(VALIDITY_LABELS[notice.validity]))
    return HitInfo(notice.title, url_for("notices.show", notice_id=notice.id),
                   plain_text(notice.body, notice.body_format), tuple(f for f in facts if f),
                   expired=notice.validity != "valid")


def _get(object_id: str) -> Notice | None:
    notice = db.session.get(Notice, int(object_id)) if object_id.isdigit() else None
    return notice if notice is not None and notice.status == "published" else None


def _load(ids: list[str]) -> dict[str, Notice]:
    rows = db.session.scalars(select(Notice).where(Notice.id.in_([int(i) for i in ids])))
    return {str(n.id): n for n in rows}


def _fallback(words: list[str], limit: int) -> list[Notice]:
    query = live_query().where(and_(*[or_(Notice.title.contains(w), Notice.body.contains(w))
                                      for w in words]))
    return db.session.scalars(query.order_by(Notice.published_on.desc()).limit(limit)).all()


register(Provider(
    kind="notice", label=_l("通知公告"),
    # Newest first: a rebuild writes them in this order, which broad queries rely on.
    live=lambda: select(Notice).where(Notice.status == "published").order_by(
        Notice.publish_at.desc(), Notice.id.desc()),
    get=_get, load=_load, document=document, hit=hit, fallback=_fallback))
