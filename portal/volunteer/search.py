"""Volunteer activities as search documents and hits (kind "activity")."""
from __future__ import annotations

from datetime import UTC

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.search.documents import HitInfo, Provider, finish, register
from portal.timeutil import local_now
from portal.templating import date_text
from portal.volunteer.models import SKILL_LABELS, Activity


def _text(activity: Activity) -> str:
    return f"{activity.description} {activity.place} {activity.bring}".strip()


def document(activity: Activity) -> dict:
    skill = SKILL_LABELS.get(activity.skill or "", "")
    title = f"{activity.title} {activity.team.name} {activity.station.name} {skill}".strip()
    return finish(dict(key=f"activity:{activity.id}", kind="activity", title=title,
                       body=_text(activity), py=activity.title, pyi=activity.title,
                       validity="valid",
                       published=int(activity.created_at.replace(tzinfo=UTC).timestamp())))


def hit(activity: Activity) -> HitInfo:
    now = local_now()
    ended = (activity.day, activity.ends) < (now.date(), now.time())
    facts = (f"{date_text(activity.day)} {activity.starts:%H:%M}–{activity.ends:%H:%M}",
             activity.station.name, activity.team.name) + ((str(_l("已结束")),) if ended else ())
    return HitInfo(activity.title, url_for("volunteer.activity", activity_id=activity.id),
                   _text(activity), facts, expired=ended)


def _live():
    return select(Activity).where(Activity.status == "open").options(
        joinedload(Activity.team), joinedload(Activity.station)).order_by(
        Activity.created_at.desc(), Activity.id.desc())


def _get(object_id: str):
    activity = db.session.get(Activity, int(object_id)) if object_id.isdigit() else None
    return activity if activity is not None and activity.status == "open" else None


def _load(ids: list[str]) -> dict:
    return {str(a.id): a for a in db.session.scalars(_live().where(
        Activity.id.in_([int(i) for i in ids])))}


def _fallback(words: list[str], limit: int) -> list:
    return db.session.scalars(_live().where(and_(*[
        or_(Activity.title.contains(w), Activity.description.contains(w)) for w in words]))
        .limit(limit)).all()


register(Provider(kind="activity", label=_l("志愿活动"), live=_live, get=_get, load=_load,
                  document=document, hit=hit, fallback=_fallback))
