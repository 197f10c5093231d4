"""One convention for time: the database stores naive UTC; pages show Asia/Shanghai.

Flask-Babel's `format_datetime` treats naive datetimes as UTC and converts them to the
configured zone, so templates never convert by hand.
"""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """Now, as naive UTC (what every DateTime column holds)."""
    return datetime.now(UTC).replace(tzinfo=None)


def local_today() -> date:
    """Today's date in the town (stations open and close on local days)."""
    return datetime.now(LOCAL_ZONE).date()


def local_now() -> datetime:
    """Now in the town, as a naive local datetime (slots are local wall-clock times)."""
    return datetime.now(LOCAL_ZONE).replace(tzinfo=None)


def to_local(moment: datetime) -> datetime:
    """A naive UTC moment from the database as naive local (town) time."""
    return moment.replace(tzinfo=UTC).astimezone(LOCAL_ZONE).replace(tzinfo=None)


def to_utc(local: datetime) -> datetime:
    """A naive local (town) time as naive UTC, for comparing with stored moments."""
    return local.replace(tzinfo=LOCAL_ZONE).astimezone(UTC).replace(tzinfo=None)
