"""Slowing down password guessing without letting a stranger lock a resident out for long.

Failed logins are counted in the rate-limit storage (shared by all workers when it is Redis):
- per account and client address: 5 failures in 5 minutes — the guesser waits, nobody else;
- per client address: 30 failures in 15 minutes — one address trying many accounts;
- per account from anywhere: 10 failures in 15 minutes — guessing spread over many addresses.
The last one could lock a resident out, so it is short and a browser where the resident
signed in before (a "known device" cookie: a random token whose hash the database keeps with
the account, nothing personal in it) skips it: their own phone still gets in.
"""
from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from datetime import timedelta

from flask import request
from limits import parse
from sqlalchemy import delete, select, update

from portal.accounts.models import KnownDevice
from portal.extensions import db, limiter
from portal.timeutil import utcnow

PER_ACCOUNT_AND_ADDRESS = parse("5 per 5 minutes")
PER_ADDRESS = parse("30 per 15 minutes")
PER_ACCOUNT = parse("10 per 15 minutes")
DEVICE_COOKIE = "tb_device"
DEVICE_MAX_AGE = 180 * 24 * 3600


def _checks(phone: str, address: str, known_device: bool):
    yield PER_ACCOUNT_AND_ADDRESS, ("login-pair", phone, address)
    yield PER_ADDRESS, ("login-address", address)
    if not known_device:
        yield PER_ACCOUNT, ("login-account", phone)


def _on() -> bool:
    """False when rate limiting is switched off (RATELIMIT_ENABLED=False, e.g. for a load
    test): Flask-Limiter then has no storage, and login must still work."""
    return limiter.enabled and limiter.limiter is not None


def wait_seconds(phone: str, address: str, known_device: bool) -> int:
    """Seconds until another attempt is allowed; 0 when the attempt may go ahead."""
    if not _on():
        return 0
    waits = [
        limiter.limiter.get_window_stats(item, *keys).reset_time - time.time()
        for item, keys in _checks(phone, address, known_device)
        if not limiter.limiter.test(item, *keys)
    ]
    return max(1, math.ceil(max(waits))) if waits else 0


def record_failure(phone: str, address: str, known_device: bool) -> None:
    if not _on():
        return
    for item, keys in _checks(phone, address, known_device):
        limiter.limiter.hit(item, *keys)


def record_success(phone: str, address: str) -> None:
    """A correct password clears this browser's own failures, not the account-wide count."""
    if _on():
        limiter.limiter.clear(PER_ACCOUNT_AND_ADDRESS, "login-pair", phone, address)


_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_known_device(user_id: int | None) -> bool:
    """True when this browser's device token was given to `user_id` at a sign-in here."""
    token = request.cookies.get(DEVICE_COOKIE)
    if not token or user_id is None or len(token) > 100:
        return False
    return db.session.scalar(select(KnownDevice.user_id).where(
        KnownDevice.token_hash == _hash(token), KnownDevice.user_id == user_id,
        KnownDevice.expires_at > utcnow())) is not None


def remember_device(user_id: int) -> str:
    """Record this browser as known to `user_id` (after a correct password); returns the
    token for the cookie (the browser's own, if it has one, so one cookie serves several
    accounts on a family's shared phone)."""
    token = request.cookies.get(DEVICE_COOKIE) or ""
    if not _TOKEN.fullmatch(token):  # none yet, or not one of ours (the old signed phone)
        token = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(seconds=DEVICE_MAX_AGE)
    updated = db.session.execute(update(KnownDevice).where(
        KnownDevice.token_hash == _hash(token), KnownDevice.user_id == user_id).values(
        expires_at=expires)).rowcount
    if not updated:
        db.session.add(KnownDevice(token_hash=_hash(token), user_id=user_id, expires_at=expires))
    db.session.execute(delete(KnownDevice).where(KnownDevice.user_id == user_id,
                                                 KnownDevice.expires_at <= utcnow()))
    db.session.commit()
    return token
