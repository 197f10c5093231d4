"""The timeline of a wish or an order: each step with who and when, the resident told at
every step that concerns them, and the one way a status moves (a conditional UPDATE, so of
two people pressing at once one wins and the other is told)."""
from __future__ import annotations

from sqlalchemy import select, update

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


def tell(user, body: str) -> None:
    notify(phone=user.phone, user_id=user.id, kind="volunteer", body=body)


def move(model, obj, frm: tuple[str, ...], to: str, **values) -> bool:
    """Change the status only if it is still one of `frm` (the race is decided here).
    Call it inside database.write_transaction(), which also rolls back a refusal."""
    done = db.session.execute(update(model).where(model.id == obj.id, model.status.in_(frm))
                              .values(status=to, **values))
    if done.rowcount != 1:
        return False
    db.session.refresh(obj)
    return True
