"""A phone proves itself: a six-digit code sent to it by SMS, typed back within 10 minutes.

Until then an SMS to that phone says no more than a booking code and a station (see
portal/deliveries.py): anyone can type another person's number into a form.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal import deliveries
from portal.extensions import db
from portal.refused import Refused
from portal.timeutil import utcnow

VALID = timedelta(minutes=10)
AGAIN_AFTER = timedelta(seconds=60)
TRIES = 5


class VerifyRefused(Refused):
    pass


def _digest(user, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{user.id}:{user.phone}:{code}".encode(), hashlib.sha256).hexdigest()


def send_code(user, now: datetime | None = None) -> str:
    """Send a new code to the account's phone (the earlier one stops counting)."""
    now = now or utcnow()
    if user.phone_code_sent_at and now - user.phone_code_sent_at < AGAIN_AFTER:
        raise VerifyRefused("wait", _l("验证码刚刚已发送，请1分钟后再试。"))
    code = f"{secrets.randbelow(10 ** 6):06d}"
    user.phone_code_hash, user.phone_code_sent_at, user.phone_code_tries = \
        _digest(user, code), now, 0
    deliveries.send_code(user, code)
    db.session.commit()
    return code


def confirm(user, code: str, now: datetime | None = None) -> None:
    """Check a code typed back: right, in time, within the tries."""
    now = now or utcnow()
    if not user.phone_code_hash or now - user.phone_code_sent_at > VALID:
        raise VerifyRefused("expired", _l("验证码已过期，请重新获取。"))
    if user.phone_code_tries >= TRIES:
        raise VerifyRefused("tries", _l("输错次数太多，请重新获取验证码。"))
    if not hmac.compare_digest(user.phone_code_hash, _digest(user, (code or "").strip())):
        user.phone_code_tries += 1
        db.session.commit()
        raise VerifyRefused("wrong", _l("验证码不正确。"))
    user.phone_verified_at, user.phone_code_hash = now, None
    db.session.commit()
