"""Messages leave the building: one delivery per message and channel (SMS, e-mail).

`plan()` runs inside the transaction that stores the message, so a change and the deliveries
it causes commit together. `send_due()` (the jobs worker, a few seconds after the commit)
claims each due delivery with a conditional UPDATE, sends it, and records the provider's
message id, or the provider's answer and when to try again (back-off). A delivery is claimed
by one sender at a time and never sent again once `sent`.

What an SMS may say (Chinese SMS goes only through a registered signature and approved
templates): the template of the message's kind with the booking code, the station and the
time, to a phone that has proved itself (answered a code sent to it, `/me/`); to any other
phone only the `brief` template: the code and the station. Messages with no booking send the
`news` template, with no parameters at all, and only to an account's own phone.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from portal import channels
from portal.extensions import db
from portal.notifications import Message, reader_locale
from portal.refused import Refused
from portal.timeutil import to_local, to_utc, utcnow

log = logging.getLogger(__name__)

CHANNELS = ("sms", "email")
STATUSES = ("queued", "sending", "sent", "failed", "refused")
STATUS_LABELS = {"queued": _l("待发送"), "sending": _l("发送中"), "sent": _l("已发送"),
                 "failed": _l("发送失败"), "refused": _l("未发送")}
CHANNEL_LABELS = {"sms": _l("短信"), "email": _l("电子邮件")}
LEASE = timedelta(minutes=5)  # a claim older than this (the sender died) may be taken again
SEND_TIMEOUT = timedelta(seconds=60)  # longer than any provider's timeout (10 s HTTP, 15 s SMTP)
SUBJECTS = {"booked": _l("预约成功"), "moved": _l("预约已改期"), "cancelled": _l("预约已取消"),
            "reminder": _l("办事提醒"), "home_visit": _l("上门服务"), "status": _l("办理进展"),
            "volunteer": _l("志愿服务"), "verify": _l("验证码")}


class Delivery(db.Model):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("message_id", "channel", name="uq_deliveries_message_channel"),
        CheckConstraint("channel IN ('sms', 'email')", name="channel"),
        CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed', 'refused')",
                        name="status"),
        Index("ix_deliveries_due", "status", "due_at"),
        Index("ix_deliveries_address", "channel", "address", "created_at"),
        Index("ix_deliveries_client", "client_addr", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(254))  # the phone number or e-mail address
    template: Mapped[str] = mapped_column(String(40))  # booked, brief, news… (config maps it)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    locale: Mapped[str] = mapped_column(String(5), default="zh")
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)  # not before (quiet hours, back-off)
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(16))  # the sender's claim token
    provider_id: Mapped[str | None] = mapped_column(String(120))  # the provider's message id
    last_error: Mapped[str] = mapped_column(Text, default="")  # the provider's answer
    client_addr: Mapped[str | None] = mapped_column(String(45))  # who caused it (caps)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    message: Mapped[Message] = relationship()


# -- planning (in the transaction of the change) ----------------------------------------------

def plan(message: Message, *, code: str | None, station: str | None, when,
         day: date | None, client: str | None, now: datetime | None = None) -> list[Delivery]:
    """The deliveries of a new message: which channels, what each may say, and when."""
    from portal.accounts.models import User
    now = now or utcnow()
    user = db.session.get(User, message.user_id) if message.user_id else None
    if user is not None and not message.essential and not user.optional_messages:
        return []
    locale = reader_locale(message.user_id)
    if _answers_the_reader(message):
        day = to_local(now).date()  # the answer to what they just did: at once, even at night
    made = []
    if message.phone:
        proved = user is not None and user.phone == message.phone and user.phone_verified_at
        if code and proved:
            with force_locale(locale):
                written = str(when) if when is not None else ""
            template, params = message.kind, {"code": code, "station": station or "",
                                              "time": written}
        elif code:
            template, params = "brief", {"code": code, "station": station or ""}
        elif user is not None and user.phone == message.phone:
            template, params = "news", {}
        else:
            template = None  # a phone with nothing to say that cannot reveal more
        if template:
            sms = Delivery(message_id=message.id, channel="sms", address=message.phone,
                           template=template, params=params, locale=locale, client_addr=client,
                           due_at=_after_quiet_hours(now, day))
            _apply_caps(sms, now)
            made.append(sms)
    if user is not None and user.email:
        made.append(Delivery(message_id=message.id, channel="email", address=user.email,
                             template=message.kind, params={}, locale=locale,
                             client_addr=client, due_at=now))
    db.session.add_all(made)
    if made:
        db.session.info["deliveries"] = True  # the worker is nudged after the commit
    return made


def send_code(user, code: str) -> Delivery:
    """A verification code for the account's phone: asked for now, so sent now (no quiet
    hours), under the caps; the in-app message does not show the code."""
    from flask import has_request_context

    from portal.extensions import client_address
    with force_locale(user.locale or "zh"):
        body = _("已向您的手机发送验证码，10分钟内有效。")
    message = Message(phone=user.phone, user_id=user.id, kind="verify", essential=True, body=body)
    db.session.add(message)
    db.session.flush()
    sms = Delivery(message_id=message.id, channel="sms", address=user.phone, template="verify",
                   params={"code": code}, locale=user.locale or "zh", due_at=utcnow(),
                   client_addr=client_address() if has_request_context() else None)
    _apply_caps(sms, utcnow())
    db.session.add(sms)
    db.session.info["deliveries"] = True
    return sms


CONFIRMATIONS = frozenset({"booked", "moved", "cancelled"})


def _answers_the_reader(message: Message) -> bool:
    """A confirmation of what the person did in this request themselves (booked at the kiosk
    as a guest, moved their own booking), not something staff or a job did to it."""
    from flask import has_request_context
    from flask_login import current_user
    if message.kind not in CONFIRMATIONS or not has_request_context():
        return False
    return not current_user.is_authenticated or current_user.id == message.user_id


def _after_quiet_hours(now: datetime, day: date | None) -> datetime:
    """No SMS in the town's quiet hours (21:00–08:00) unless it is about today."""
    start, end = current_app.config["SMS_QUIET_HOURS"]
    local = to_local(now)
    if start <= local.hour or local.hour < end:
        if day is not None and day == local.date():
            return now
        morning = local.date() + timedelta(days=1 if local.hour >= start else 0)
        return to_utc(datetime.combine(morning, time(end)))
    return now


def _apply_caps(sms: Delivery, now: datetime) -> None:
    """At most SMS_PER_PHONE_PER_DAY messages to one number and SMS_PER_CLIENT_PER_DAY caused
    by one client address in 24 hours: anyone can type another person's number."""
    since = now - timedelta(days=1)
    counted = (Delivery.channel == "sms", Delivery.created_at >= since,
               Delivery.status != "refused")
    config = current_app.config
    to_phone = db.session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.address == sms.address, *counted))
    if to_phone >= config["SMS_PER_PHONE_PER_DAY"]:
        sms.status, sms.last_error = "refused", f"cap: {to_phone} SMS to this number in 24 h"
        return
    if sms.client_addr:
        by_client = db.session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.client_addr == sms.client_addr, *counted))
        if by_client >= config["SMS_PER_CLIENT_PER_DAY"]:
            sms.status = "refused"
            sms.last_error = f"cap: {by_client} SMS caused by {sms.client_addr} in 24 h"


# -- sending (the worker, after the commit) ---------------------------------------------------

def _due(now: datetime):
    return or_((Delivery.status == "queued") & (Delivery.due_at <= now),
               (Delivery.status == "sending") & (Delivery.claimed_until < now))


def due_count(now: datetime | None = None) -> int:
    return db.session.scalar(select(func.count()).select_from(Delivery).where(
        _due(now or utcnow())))


def send_due(now: datetime | None = None, limit: int = 100) -> int:
    """Send what is due (oldest first): up to `limit` deliveries claimed at once by this
    sender alone, then each sent and its outcome committed. Returns how many were sent;
    failures are kept with the provider's answer and tried again later."""
    now = now or utcnow()
    token = secrets.token_hex(8)
    oldest = select(Delivery.id).where(_due(now)).order_by(Delivery.due_at, Delivery.id) \
        .limit(limit).scalar_subquery()
    # The outer condition is checked again on each row: a row another sender claimed a moment
    # ago is no longer due, and PostgreSQL re-reads it after waiting for that sender's lock.
    until = utcnow() + LEASE
    db.session.execute(update(Delivery).where(Delivery.id.in_(oldest), _due(now)).values(
        status="sending", claimed_until=until, claimed_by=token))
    db.session.commit()
    claimed = db.session.scalars(select(Delivery).where(
        Delivery.claimed_by == token, Delivery.status == "sending")
        .options(selectinload(Delivery.message)).order_by(Delivery.id)).all()
    work = [_outgoing(delivery) for delivery in claimed]
    db.session.commit()  # no transaction (and on SQLite no lock) while providers answer
    sent = 0
    for item in work:
        if utcnow() > until - SEND_TIMEOUT:
            break  # a slow provider: leave the rest to be claimed again once the lease ends
        sent += _send(item)
    return sent


@dataclass(frozen=True)
class Outgoing:
    """What one send needs, read before the provider is called."""
    id: int
    channel: str
    address: str
    attempts: int
    template: str = ""
    params: dict | None = None
    subject: str = ""
    body: str = ""
    attachments: tuple = ()  # (filename, maintype, subtype, bytes) for an e-mail


# Files an e-mail of a kind carries, made when it is sent (so they show the thing as it is
# then): kind → function(message) → (filename, maintype, subtype, bytes) or None. Areas add
# theirs (the booking area: its calendar file on "booked" and "moved").
ATTACHMENTS: dict = {}


def attach(kinds: tuple[str, ...], make) -> None:
    for kind in kinds:
        ATTACHMENTS[kind] = make


def _outgoing(delivery: Delivery) -> Outgoing:
    if delivery.channel == "sms":
        return Outgoing(delivery.id, "sms", delivery.address, delivery.attempts,
                        template=template_code(delivery), params=dict(delivery.params))
    subject, body = email_text(delivery)
    make = ATTACHMENTS.get(delivery.message.kind)
    with force_locale(delivery.locale):
        attachment = make(delivery.message) if make else None
    return Outgoing(delivery.id, "email", delivery.address, delivery.attempts,
                    subject=subject, body=body, attachments=(attachment,) if attachment else ())


def _send(item: Outgoing) -> bool:
    """Send one claimed delivery and record the outcome (each in its own short transaction)."""
    config = current_app.config
    try:
        if item.channel == "sms":
            provider_id = channels.sms_provider(config).send(
                item.address, item.template, item.params, out_id=str(item.id))
        else:
            provider_id = channels.send_email(config, item.address, item.subject, item.body,
                                              item.attachments)
    except channels.SendFailed as failure:
        _failed(item, str(failure), permanent=failure.permanent)
        return False
    except Exception as error:  # a provider's surprise is a failed attempt, not a dead worker
        log.exception("delivery %s", item.id)
        _failed(item, f"{type(error).__name__}: {error}", permanent=False)
        return False
    _record(item, status="sent", sent_at=utcnow(), provider_id=provider_id,
            attempts=item.attempts + 1)
    return True


def _failed(item: Outgoing, answer: str, *, permanent: bool) -> None:
    config = current_app.config
    attempts = item.attempts + 1
    if permanent or attempts >= config["DELIVERY_MAX_ATTEMPTS"]:
        _record(item, status="failed", attempts=attempts, last_error=answer[:2000])
    else:
        _record(item, status="queued", attempts=attempts, last_error=answer[:2000],
                due_at=utcnow() + backoff(attempts, config["DELIVERY_RETRY_SECONDS"]))


def _record(item: Outgoing, **values) -> None:
    db.session.execute(update(Delivery).where(Delivery.id == item.id)
                       .values(claimed_until=None, **values))
    db.session.commit()


def backoff(attempts: int, base: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min… at most an hour between tries."""
    return timedelta(seconds=min(base * 2 ** (attempts - 1), 3600))


def template_code(delivery: Delivery) -> str:
    """The provider's approved template for this kind and language (configuration)."""
    templates = current_app.config["SMS_TEMPLATES"]
    codes = templates.get(delivery.template) or templates["news"]
    return codes.get(delivery.locale) or codes["zh"]


def email_text(delivery: Delivery) -> tuple[str, str]:
    """Subject and body of an e-mail, in the resident's language."""
    message = delivery.message
    with force_locale(delivery.locale):
        subject = _("通办：%(what)s", what=SUBJECTS.get(message.kind, _("消息")))
        footer = _("这是通办自动发送的消息，请勿回复。不想再收到可选消息，可在“我的”里关闭。")
    return subject, f"{message.body}\n\n--\n{footer}\n{current_app.config['PUBLIC_BASE_URL']}/me/"


def resend(delivery: Delivery) -> None:
    """Staff try again a delivery that failed or was not sent (caps): due now."""
    if delivery.status not in ("failed", "refused"):
        raise Refused("state", _l("只有发送失败或未发送的消息可以重发。"))
    done = db.session.execute(update(Delivery).where(
        Delivery.id == delivery.id, Delivery.status == delivery.status).values(
        status="queued", due_at=utcnow(), attempts=0, claimed_until=None)).rowcount
    if not done:
        raise Refused("conflict", _l("这条消息的状态刚刚变了，请刷新后再看。"))
    db.session.info["deliveries"] = True
