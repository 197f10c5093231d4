"""Who may see a booking: its owner, or a browser that proved the phone's last four digits.

Everyone else gets the same 404 page with the look-up form, whether the code exists or not,
so codes cannot be enumerated (and look-ups are rate limited).
"""
from __future__ import annotations

import hmac

from flask import session
from flask_login import current_user

from portal.booking.models import Booking

SESSION_KEY = "booking_refs"
MAX_REMEMBERED = 10


def grant(ref: str) -> None:
    refs = [r for r in session.get(SESSION_KEY, []) if r != ref]
    session[SESSION_KEY] = ([ref] + refs)[:MAX_REMEMBERED]


def may_see(booking: Booking | None) -> bool:
    if booking is None:
        return False
    if current_user.is_authenticated and booking.user_id == current_user.id:
        return True
    return booking.ref in session.get(SESSION_KEY, [])


def phone_matches(booking: Booking | None, last4: str) -> bool:
    expected = booking.phone[-4:] if booking else "----"
    return hmac.compare_digest(expected.encode(), last4.encode()) and booking is not None
