"""The timeline of a wish or an order: each step with who and when, and the resident told at
every step that concerns them. The status itself moves by `transitions.advance`."""
from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.notifications import notify
from portal.volunteer.models import Step


def steps(kind: str, object_id: int) -> list[Step]:
    return db.session.scalars(select(Step).where(Step.object_type == kind,
                                                 Step.object_id == object_id)
                              .order_by(Step.id)).all()


def add(kind: str, obj, action: str, actor_id: int | None, note: str = "") -> None:
    db.session.add(Step(object_type=kind, object_id=obj.id, action=action, actor_id=actor_id,
                        note=note))


def tell(user, body) -> None:
    """A message to a volunteer or resident (`body` a lazy message, see notify)."""
    notify(phone=user.phone, user_id=user.id, kind="volunteer", body=body)
