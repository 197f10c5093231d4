"""The audit log: every staff action, with who, what, when and the state it came from."""
from __future__ import annotations

import json
from datetime import datetime

from flask_login import current_user
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import will_write
from portal.extensions import db
from portal.timeutil import utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="{}")


def record(action: str, obj, **detail) -> AuditEvent:
    """Add an audit entry for `action` on `obj` to the current transaction.

    It commits with the change it describes, so there is never a change without its entry.
    Keep personal data out of `detail` (phones and ID numbers masked or absent).
    """
    will_write()  # a GET that audits (an export) takes the write lock first (SQLite)
    if obj.id is None:
        db.session.flush()
    actor = current_user.id if current_user and current_user.is_authenticated else None
    event = AuditEvent(actor_id=actor, action=action, object_type=type(obj).__name__,
                       object_id=str(obj.id),
                       detail=json.dumps(detail, ensure_ascii=False, default=str))
    db.session.add(event)
    return event
