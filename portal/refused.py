"""The one way a domain rule says no, in every area."""
from __future__ import annotations


class Refused(Exception):
    """A rule said no: `code` says which (for code and tests), `message` tells the person why,
    in their language. Each area has its own subclass (BookingRefused, DeskRefused …), so a
    view catches its area's refusals; `web.attempt` catches any."""

    def __init__(self, code: str, message):
        super().__init__(code)
        self.code, self.message = code, message
