"""One way to tell a resident something: `notify()`.

Every message is stored (and shown in /me/: the in-app channel) and, in the same transaction,
gets its deliveries: an SMS to the phone, an e-mail where the account has an address
(`portal.deliveries` decides which, and what each may say). The jobs worker sends them after
the commit.
"""
from __future__ import annotations

from datetime import date, datetime
from datetime import time as time_of_day

from babel.dates import format_date
from flask import has_request_context
from flask_babel import force_locale, get_locale
from sqlalchemy import ForeignKey, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import client_address, db
from portal.timeutil import utcnow

KINDS = ("booked", "moved", "cancelled", "reminder", "home_visit", "status", "volunteer",
         "verify", "points")
# What a resident may switch off (/me/): everything else is about a booking or a case they
# started and is always sent.
OPTIONAL_KINDS = frozenset({"reminder", "volunteer"})


class Message(db.Model):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    phone: Mapped[str] = mapped_column(String(11), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    essential: Mapped[bool] = mapped_column(default=True, server_default=true())


class When:
    """A local day (and time) written in the reader's language when the message is written:
    12月3日 09:30, or 3 Dec, 09:30."""

    def __init__(self, day: date, at: time_of_day | None = None):
        self.day, self.at = day, at

    def __str__(self) -> str:
        locale = str(get_locale() or "zh")
        english = locale.startswith("en")
        text = format_date(self.day, "d MMM" if english else "M月d日", locale=locale)
        return text + (f"{',' if english else ''} {self.at:%H:%M}" if self.at else "")


def reader_locale(user_id: int | None) -> str:
    """The language a message to this person is written in: the account's, else the page's
    (a guest at the kiosk in English), else Chinese."""
    if user_id is not None:
        from portal.accounts.models import User
        user = db.session.get(User, user_id)
        if user is not None and user.locale:
            return user.locale
    return str(get_locale() or "zh") if has_request_context() else "zh"


def notify(*, phone: str, user_id: int | None, kind: str, body,
           booking_id: int | None = None, code: str | None = None, station: str | None = None,
           when: When | None = None, day: date | None = None) -> Message:
    """Store a message for a resident and its deliveries, in the caller's transaction.

    `body` is a lazy message (`_l("…%(name)s…", name=…)`): it is written down in the reader's
    language. `code`, `station` and `when` are what an SMS template may carry (no free text
    goes to the SMS provider); `day` is the day the message is about (a same-day change is
    sent even in the quiet hours).
    """
    from portal import deliveries
    with force_locale(reader_locale(user_id)):
        text = str(body)
    message = Message(phone=phone, user_id=user_id, kind=kind, body=text, booking_id=booking_id,
                      essential=kind not in OPTIONAL_KINDS)
    db.session.add(message)
    db.session.flush()
    deliveries.plan(message, code=code, station=station, when=when, day=day,
                    client=client_address() if has_request_context() else None)
    return message


def messages_for(user_id: int, limit: int = 20) -> list[Message]:
    return db.session.scalars(db.select(Message).where(Message.user_id == user_id)
                              .order_by(Message.id.desc()).limit(limit)).all()
