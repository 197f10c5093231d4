"""Slowing down password guessing without letting a stranger lock a resident out for long.

Failed logins are counted in the rate-limit storage (shared by all workers when it is Redis):
- per account and client address: 5 failures in 5 minutes — the guesser waits, nobody else;
- per client address: 30 failures in 15 minutes — one address trying many accounts;
- per account from anywhere: 10 failures in 15 minutes — guessing spread over many addresses.
The last one could lock a resident out, so it is short and a browser where the resident
signed in before (a signed "known device" cookie) skips it: their own phone still gets in.
"""
from __future__ import annotations

import math
import time

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse

from portal.extensions import limiter

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


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="known-device")


def device_cookie_value(phone: str) -> str:
    return _serializer().dumps(phone)


def is_known_device(phone: str) -> bool:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return False
    try:
        return _serializer().loads(raw) == phone
    except BadSignature:
        return False
