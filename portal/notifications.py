"""One way to tell a resident something: `notify()`.

Every message is stored (and shown in /me/); senders configured in `NOTIFICATION_SENDERS`
(dotted paths to callables taking the Message) deliver it further, e.g. by SMS. The default
sends nothing: the stored message is the record.
"""
from __future__ import annotations

from datetime import datetime
from importlib import import_module

from flask import current_app
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.timeutil import utcnow

KINDS = ("booked", "moved", "cancelled", "reminder", "home_visit", "status", "volunteer")


class Message(db.Model):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    phone: Mapped[str] = mapped_column(String(11), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def notify(*, phone: str, user_id: int | None, kind: str, body: str,
           booking_id: int | None = None) -> Message:
    """Store a message for a resident and hand it to the configured senders.

    Called inside the transaction of the change it reports, so both commit together.
    """
    message = Message(phone=phone, user_id=user_id, kind=kind, body=body, booking_id=booking_id)
    db.session.add(message)
    for path in current_app.config.get("NOTIFICATION_SENDERS", ()):
        module, _, name = path.partition(":")
        getattr(import_module(module), name)(message)
    return message


def messages_for(user_id: int, limit: int = 20) -> list[Message]:
    return db.session.scalars(db.select(Message).where(Message.user_id == user_id)
                              .order_by(Message.id.desc()).limit(limit)).all()
