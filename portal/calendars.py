"""Calendar files (.ics) a resident adds to the phone's calendar: a booking, an activity.

Built with `icalendar` (RFC 5545): the times are the town's wall-clock times with their zone
(TZID Asia/Shanghai and its VTIMEZONE in the file), so a phone set to another zone still
shows the right moment. A file holds no phone or ID number — only what the station's notice
board would show.
"""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Response
from icalendar import Calendar, Event

from portal.timeutil import LOCAL_ZONE, utcnow


def event_file(*, uid: str, summary: str, starts: datetime, ends: datetime, location: str,
               description: str, url: str) -> bytes:
    """One event; `starts` and `ends` are naive local (town) times."""
    calendar = Calendar()
    calendar.add("prodid", "-//Tongban//通办//ZH")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", utcnow().replace(tzinfo=UTC))
    event.add("dtstart", starts.replace(tzinfo=LOCAL_ZONE))
    event.add("dtend", ends.replace(tzinfo=LOCAL_ZONE))
    event.add("summary", summary)
    event.add("location", location)
    event.add("description", description)
    event.add("url", url)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def download(body: bytes, filename: str) -> Response:
    return Response(body, mimetype="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}.ics"',
                             "Cache-Control": "private, no-store"})
