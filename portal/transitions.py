"""The one way a state moves, in every area: a conditional UPDATE from the state it comes from.

`advance(report, Report.status == "submitted", refused=…, status="verified")` changes the row
only while the condition still holds, so of two people pressing at the same moment exactly
one wins and the other gets `refused` (after a rollback: nothing half-done stays). The caller
then records, in the same transaction, what its area keeps for a step: the timeline event,
the audit entry and the message to the person concerned.
"""
from __future__ import annotations

from sqlalchemy import update

from portal.extensions import db
from portal.refused import Refused


def advance(obj, *still, refused: Refused, **values) -> None:
    """Set `values` on `obj`'s row if every condition in `still` holds; else roll back and
    raise `refused`. `obj` is refreshed, so it shows the new state."""
    model = type(obj)
    done = db.session.execute(update(model).where(model.id == obj.id, *still)
                              .values(**values)).rowcount
    if done != 1:
        db.session.rollback()
        raise refused
    db.session.refresh(obj)
