"""Service items (办事指南) as search documents and hits."""
from __future__ import annotations

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from portal.booking.models import ServiceItem
from portal.extensions import db
from portal.search.documents import HitInfo, Provider, finish, register


def _text(item: ServiceItem) -> str:
    materials = "、".join(m.name for m in item.materials)
    return f"{item.conditions} 需要的材料：{materials}。{item.legal_basis}"


def document(item: ServiceItem) -> dict:
    return finish(dict(key=f"service:{item.id}", kind="service",
                       title=f"{item.name} {item.category.name} {item.code}", body=_text(item),
                       py=item.name, pyi=item.name, validity="valid", published=0))


def hit(item: ServiceItem) -> HitInfo:
    return HitInfo(item.name, url_for("booking.guide", code=item.code), _text(item),
                   (item.category.name, _l("即办") if item.time_limit_days == 0 else
                    _l("%(n)d个工作日", n=item.time_limit_days)))


def _live():
    return select(ServiceItem).where(ServiceItem.active.is_(True)).options(
        selectinload(ServiceItem.materials), selectinload(ServiceItem.category))


def _get(object_id: str):
    item = db.session.get(ServiceItem, int(object_id)) if object_id.isdigit() else None
    return item if item is not None and item.active else None


def _load(ids: list[str]) -> dict:
    return {str(i.id): i for i in db.session.scalars(_live().where(
        ServiceItem.id.in_([int(x) for x in ids])))}


def _fallback(words: list[str], limit: int) -> list:
    return db.session.scalars(_live().where(and_(*[
        or_(ServiceItem.name.contains(w), ServiceItem.conditions.contains(w)) for w in words]))
        .limit(limit)).all()


register(Provider(kind="service", label=_l("办事指南"), live=_live, get=_get, load=_load,
                  document=document, hit=hit, fallback=_fallback))
