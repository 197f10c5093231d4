"""Ratings (好差评), the follow-up of bad ones in working days, and the station's figures."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from portal.booking.models import Booking
from portal.desk import stats, workflow
from portal.extensions import db
from portal.notifications import Message
from portal.places.models import CalendarDay
from portal.places.workdays import Calendar, add_working_days, working_days_between
from portal.ratings import rules
from portal.ratings.models import Rating
from portal.timeutil import to_utc
from tests.conftest import Forms
from tests.test_desk import case_in, fresh

FRIDAY = date(2026, 11, 27)


# -- working days --------------------------------------------------------------------------------

def test_working_days_skip_weekends_holidays_and_count_make_up_days():
    plain = Calendar()
    assert add_working_days(FRIDAY, 1, plain) == date(2026, 11, 30)  # Monday
    assert add_working_days(FRIDAY, 15, plain) == date(2026, 12, 18)
    holiday = Calendar(holidays=frozenset({date(2026, 11, 30)}))
    assert add_working_days(FRIDAY, 1, holiday) == date(2026, 12, 1)
    make_up = Calendar(workdays=frozenset({date(2026, 11, 28)}))  # a Saturday worked (调休)
    assert add_working_days(FRIDAY, 1, make_up) == date(2026, 11, 28)
    national_day = Calendar(holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),
                            workdays=frozenset({date(2026, 10, 10)}))
    assert add_working_days(date(2026, 9, 30), 1, national_day) == date(2026, 10, 8)
    assert add_working_days(date(2026, 10, 9), 1, national_day) == date(2026, 10, 10)
    assert working_days_between(FRIDAY, date(2026, 12, 18), plain) == 15


# -- rating ----------------------------------------------------------------------------------------

def completed(d, n=1) -> Booking:
    booking = case_in(d.a, d.item, "accepted", n)
    booking.responsible_id = d.clerk_a.user.id
    db.session.commit()
    workflow.complete(booking, d.clerk_a.user)
    return fresh(booking)


def test_only_a_completed_booking_can_be_rated_and_only_once(desk, client, forms, page):
    booking = case_in(desk.a, desk.item, "in_progress", 1)
    forms.post(f"/bookings/{booking.ref}", {"ref": booking.ref, "phone4": booking.phone[-4:]},
               token_from="/bookings/")
    assert client.get(f"/bookings/{booking.ref}/rate").status_code == 404
    workflow.complete(booking, desk.clerk_a.user)
    status = page(client.get(f"/bookings/{booking.ref}"))
    assert status.soup.select_one(f'a[href="/bookings/{booking.ref}/rate"]') is not None
    rate = page(client.get(f"/bookings/{booking.ref}/rate"))
    assert len(rate.soup.select("button[name=level]")) == 5
    response = forms.post(f"/bookings/{booking.ref}/rate", {"level": "5", "comment": "很快"})
    assert response.status_code == 302
    again = page(forms.post(f"/bookings/{booking.ref}/rate", {"level": "1"},
                            token_from=f"/bookings/{booking.ref}"))
    assert "谢谢您的评价" in again.text("h1") and "非常满意" in again.text()
    ratings = db.session.scalars(select(Rating).where(Rating.booking_id == booking.id)).all()
    assert [(r.level, r.comment, r.channel) for r in ratings] == [(5, "很快", "online")]
    assert ratings[0].follow_up is None  # a good rating opens no case


def test_rating_input_is_checked(desk):
    booking = completed(desk)
    with pytest.raises(rules.RatingRefused):
        rules.rate(booking, level=7, comment="", channel="online")
    with pytest.raises(rules.RatingRefused):
        rules.rate(booking, level=3, comment="长" * 501, channel="online")
    rules.rate(booking, level=3, comment="", channel="online")
    with pytest.raises(rules.RatingRefused) as second:
        rules.rate(booking, level=4, comment="", channel="online")
    assert second.value.code == "rated"


def test_ratings_are_never_deleted(desk):
    rating = rules.rate(completed(desk), level=1, comment="", channel="online")
    db.session.delete(rating.follow_up)
    with pytest.raises(PermissionError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(Rating, rating.id))
    with pytest.raises(PermissionError):
        db.session.flush()
    db.session.rollback()


def test_a_bad_rating_at_the_kiosk_opens_a_follow_up_due_in_working_days(desk, clock, page):
    clock.move_to(datetime(2026, 11, 27, 16, 0, tzinfo=ZoneInfo("Asia/Shanghai")))  # Friday
    db.session.add(CalendarDay(day=date(2026, 11, 30), workday=False, name="演示假日"))
    db.session.commit()
    booking = completed(desk, 3)
    kiosk = desk.app.test_client()
    forms = Forms(kiosk)
    kiosk.get("/kiosk/")
    wrong = page(forms.post("/kiosk/rate", {"ref": booking.ref, "phone4": "0000"}))
    assert wrong.status == 422 and "不正确" in wrong.text(".error-summary")
    response = forms.post("/kiosk/rate", {"ref": booking.ref, "phone4": booking.phone[-4:]})
    assert response.headers["Location"].endswith(f"/bookings/{booking.ref}/rate")
    rate = page(kiosk.get(response.headers["Location"]))
    assert "不满意" in rate.text(".rating-levels")
    forms.post(f"/bookings/{booking.ref}/rate", {"level": "2", "comment": "等太久"})
    rating = db.session.scalar(select(Rating).where(Rating.booking_id == booking.id))
    assert (rating.level, rating.channel, rating.comment) == (2, "kiosk", "等太久")
    case = rating.follow_up
    assert case.callback_due == date(2026, 12, 1)  # Monday is a holiday: by Tuesday
    assert case.rectify_due == date(2026, 12, 21)  # 15 working days, the holiday skipped


def test_town_staff_see_overdue_cases_highlighted_and_steps_go_in_order(desk, clock, page):
    rating = rules.rate(completed(desk), level=1, comment="态度不好", channel="online")
    case = rating.follow_up
    assert case.callback_due == date(2026, 11, 25)  # rated Tuesday: by Wednesday
    link = f'a[href="/desk/follow-ups/{case.id}"]'

    def row():
        return page(desk.centre.get("/desk/follow-ups")).soup.select_one(link).find_parent("tr")

    assert "overdue" not in row().get("class", [])
    clock.move_to(datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))  # Thursday
    for person in (desk.centre, desk.clerk_a, desk.clerk_b):
        person.login()
    assert "overdue" in row()["class"] and "已超期" in row().get_text()
    assert desk.clerk_b.get(f"/desk/follow-ups/{case.id}").status_code == 404
    assert "态度不好" not in page(desk.clerk_b.get("/desk/follow-ups")).text()

    with pytest.raises(rules.RatingRefused) as early:
        rules.record_step(case, "reply", desk.clerk_a.user, "已整改")
    assert early.value.code == "order"
    url = f"/desk/follow-ups/{case.id}"
    for text in ("已电话回访，居民说等了40分钟", "增开一个窗口，AB岗补位", "已答复：谢谢您的意见，已增开窗口"):
        assert desk.clerk_a.post(url, {"text": text}).status_code == 302
    db.session.refresh(case)
    assert case.callback_note.startswith("已电话回访") and case.rectified_by == desk.clerk_a.user.id
    assert case.replied_at is not None and rules.next_step(case) is None
    told = db.session.scalars(select(Message.body).where(
        Message.phone == rating.booking.phone)).all()
    assert any("谢谢您的意见，已增开窗口" in body for body in told)
    done = page(desk.clerk_a.get(url))
    assert done.soup.select_one("textarea") is None and not desk.clerk_a.post(
        url, {"text": "改一下"}).status_code == 302


# -- figures ---------------------------------------------------------------------------------

def handled(d, n, day, *, status, wait, handle, forwarded=False, returned=False, level=None):
    """A case on `day` at 09:00 at station A, checked in at 09:00 and accepted after `wait`."""
    b = case_in(d.a, d.item, status, n)
    b.day, b.starts, b.ends = day, time(9, 0), time(9, 30)
    came = to_utc(datetime.combine(day, time(9, 0)))
    b.checked_in_at, b.accepted_at = came, came + timedelta(minutes=wait)
    left = b.accepted_at + timedelta(minutes=handle)
    b.forwarded_at = left if forwarded else None
    b.finished_at = None if forwarded else left
    b.returned_at = left if returned else None
    db.session.commit()
    if level:
        db.session.add(Rating(booking_id=b.id, station_id=d.a.id, level=level, channel="kiosk"))
        db.session.commit()
    return b


def test_figures_by_day_and_their_exports(desk, page):
    monday = date(2026, 12, 7)  # no demo cases that day
    handled(desk, 1, monday, status="completed", wait=10, handle=20, level=5)
    handled(desk, 2, monday, status="completed", wait=20, handle=10, level=2)
    handled(desk, 3, monday, status="forwarded", wait=30, handle=30, forwarded=True)
    handled(desk, 4, monday, status="returned", wait=0, handle=5, returned=True)
    rows, total = stats.figures([desk.a.id], monday, monday)
    day = rows[0]
    assert (day.accepted, day.completed, day.on_the_spot, day.forwarded, day.returned) == \
        (4, 2, 2, 1, 1)
    assert day.on_the_spot_share == 0.5 and day.wait_median == 15 and day.handling_median == 15
    assert day.rating_mean == 3.5 and day.bad_ratings == 1
    assert total.accepted == 4

    query = f"?station={desk.a.id}&start=2026-12-07&end=2026-12-07"
    csv_response = desk.clerk_a.get(f"/desk/stats.csv{query}")
    assert csv_response.headers["Content-Disposition"].startswith("attachment;")
    lines = list(csv.reader(io.StringIO(csv_response.data.decode("utf-8-sig"))))
    assert lines[0][0] == "日期" and lines[1][:5] == ["2026-12-07", "4", "4", "2", "2"]
    assert lines[-1][0] == "合计"
    xlsx = desk.clerk_a.get(f"/desk/stats.xlsx{query}")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][:4] == ("2026-12-07", 4, 4, 2) and values[1][5] == 0.5
    shown = page(desk.clerk_a.get(f"/desk/stats{query}"))
    assert "50%" in shown.text("table") and "差评1" in shown.text("table")
    everyone = page(desk.centre.get("/desk/stats?start=2026-12-07&end=2026-12-07"))
    assert "全镇" in everyone.text("h1")
    bad = page(desk.clerk_a.get("/desk/stats?start=2026-12-07&end=2026-11-01"))
    assert bad.status == 422 and "结束日期不能早于开始日期" in bad.text(".error-summary")


def test_admins_keep_the_holiday_calendar_that_deadlines_use(app, town, auth, forms, page):
    from portal.audit import AuditEvent
    from portal.places.workdays import calendar
    auth.login(role="admin")
    forms.post("/admin/calendar", {"day": "2026-12-07", "kind": "holiday", "name": "演示假日"})
    forms.post("/admin/calendar", {"day": "2026-12-05", "kind": "workday", "name": "演示调休"})
    cal = calendar()
    assert date(2026, 12, 7) in cal.holidays and date(2026, 12, 5) in cal.workdays
    assert add_working_days(date(2026, 12, 4), 2, cal) == date(2026, 12, 8)
    listing = page(auth.client.get("/admin/calendar"))
    assert "演示假日" in listing.text("table") and "调休上班" in listing.text("table")
    bad = page(forms.post("/admin/calendar", {"day": "", "kind": "holiday", "name": ""}))
    assert bad.status == 422 and len(bad.errors()) == 2
    forms.post("/admin/calendar/2026-12-07/delete", {}, token_from="/admin/calendar")
    assert date(2026, 12, 7) not in calendar().holidays
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == "CalendarDay")).all()
    assert actions == ["calendar.saved", "calendar.saved", "calendar.removed"]
