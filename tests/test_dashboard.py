"""The public dashboard: the rollup's sums, the small-count rule, periods, the stations right
now, open data as CSV and JSON, the catalogue reached from a station, and the statement pages."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from itertools import count

import pytest
from sqlalchemy import select

from portal import refs
from portal.booking.models import Booking, ServiceItem
from portal.dashboard import figures, rollup
from portal.dashboard.figures import FEW, period
from portal.dashboard.models import StationDay
from portal.desk import stats
from portal.extensions import db
from portal.ratings.models import FollowUp, Rating
from portal.timeutil import local_today, to_utc
from tests.conftest import parse

_PHONES = count(13500000000)
DAY = date(2026, 11, 10)  # a Tuesday; the tests' clock is at TUESDAY_MORNING (24 November)


def _case(station, day, status="completed", *, wait=10, channel="walkin", level=None,
          callback=None, rectify=None, due=(None, None)):
    """A handled booking with its times, straight into the tables (as the desk leaves them)."""
    item = db.session.scalar(select(ServiceItem).order_by(ServiceItem.id))
    came = to_utc(datetime.combine(day, time(9, 0)))
    accepted = came + timedelta(minutes=wait) if status != "no_show" else None
    booking = Booking(ref=refs.new_code(), item=item, station=station, day=day,
                      starts=time(9, 0), ends=time(9, 30), channel=channel, status=status,
                      name="测试", phone=str(next(_PHONES)), created_at=came,
                      checked_in_at=came if status != "no_show" else None, accepted_at=accepted,
                      finished_at=accepted + timedelta(minutes=5) if accepted else None,
                      forwarded_at=accepted + timedelta(minutes=5) if status == "forwarded" else None,
                      returned_at=accepted + timedelta(minutes=5) if status == "returned" else None)
    db.session.add(booking)
    db.session.flush()
    if level is not None:
        rating = Rating(booking_id=booking.id, station_id=station.id, level=level, channel="kiosk")
        db.session.add(rating)
        if level <= 2:
            db.session.flush()
            db.session.add(FollowUp(rating_id=rating.id, station_id=station.id,
                                    callback_due=due[0], rectify_due=due[1],
                                    called_back_at=callback, rectified_at=rectify))
    return booking


@pytest.fixture
def stations(clock, town):
    return [s for s in town.stations if s.kind == "village"][2:5]  # none of the demo's history


def test_the_rollup_sums_what_the_desk_figures_count(clock, app, town):
    """The demo's history, summed per station and day, equals the desk's own figures."""
    first = db.session.scalar(select(db.func.min(Booking.day)))
    written = rollup.rollup(first, local_today() - timedelta(days=1), local_today())
    assert written > 0
    station = town.villages[0].station
    rows, total = stats.figures([station.id], first, local_today() - timedelta(days=1))
    summed = db.session.execute(select(*figures._SUMS).where(
        StationDay.station_id == station.id)).one()
    assert total.booked > 0 and summed.booked == total.booked
    for name in ("accepted", "completed", "on_the_spot", "forwarded", "returned", "no_show"):
        assert getattr(summed, name) == getattr(total, name), name
    assert summed.waits == len(total.waits)
    assert summed.wait_minutes == pytest.approx(sum(total.waits))
    assert summed.l1 + summed.l2 + summed.l3 + summed.l4 + summed.l5 == len(total.levels)
    assert sum(getattr(summed, b) for b in ("w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7",
                                            "w8", "w9")) == summed.waits
    from portal.dashboard.models import StationMonth
    months = db.session.execute(select(*figures._MONTH_SUMS).where(
        StationMonth.station_id == station.id)).one()
    assert tuple(months) == tuple(summed)  # the monthly rows hold the same sums


def test_summing_again_replaces_and_never_doubles(clock, app, town, stations):
    for _ in range(6):
        _case(stations[0], DAY)
    db.session.commit()
    rollup.rollup(DAY, DAY, local_today())
    rollup.rollup(DAY, DAY, local_today())
    row = db.session.get(StationDay, (stations[0].id, DAY))
    assert row.booked == 6 and row.walk_ins == 6 and row.completed == 6


def test_waits_land_in_their_buckets_and_the_90th_percentile_is_an_edge(clock, app, town, stations):
    for wait in (0, 3, 5, 9, 12, 14, 19, 25, 44, 130):
        _case(stations[0], DAY, wait=wait)
    db.session.commit()
    rollup.rollup(DAY, DAY, local_today())
    row = db.session.get(StationDay, (stations[0].id, DAY))
    assert [row.w0, row.w1, row.w2, row.w3, row.w4, row.w5, row.w9] == [2, 2, 2, 1, 1, 1, 1]
    assert figures.wait_p90(row) == 45  # nine of ten waited under 45 minutes
    _case(stations[0], DAY, wait=200)
    _case(stations[0], DAY, wait=300)
    db.session.commit()
    rollup.rollup(DAY, DAY, local_today())
    assert figures.wait_p90(db.session.get(StationDay, (stations[0].id, DAY))) == -120


def test_a_figure_built_on_fewer_than_five_people_is_held_back(clock, app, town, stations):
    """Three ratings at one station: 样本不足 in the page, null in the JSON and in the CSV
    the words; five at another: the numbers."""
    few, enough = stations[0], stations[1]
    for level in (5, 4, 1):
        _case(few, DAY, level=level, due=(DAY, DAY))
    for level in (5, 5, 4, 3, 2):
        _case(enough, DAY, level=level, due=(DAY + timedelta(days=1), DAY + timedelta(days=20)),
              callback=to_utc(datetime.combine(DAY, time(15))))
    db.session.commit()
    rollup.rollup(DAY, DAY, local_today())
    p = period("month", DAY, local_today())
    _service, ratings, _t, _rt = figures.service([few, enough], p)
    assert ratings[0].cells["ratings"] is FEW and ratings[0].cells["l1"] is FEW
    assert ratings[0].cells["satisfied"] is FEW and ratings[0].cells["callback_late"] is FEW
    assert ratings[1].cells["ratings"] == 5 and ratings[1].cells["satisfied"] == pytest.approx(0.8)
    assert ratings[1].cells["callback_on_time"] == 1 and ratings[1].cells["rectify_late"] == 0
    assert _service[0].cells["booked"] is FEW and _service[1].cells["booked"] == 5

    client = app.test_client()
    query = f"?period=month&date={DAY.isoformat()}&station={few.id}"
    page = parse(client.get("/dashboard/" + query))
    assert page.status == 200
    assert "样本不足" in page.text("#table-ratings")
    data = client.get(f"/dashboard/ratings.json?period=month&date={DAY.isoformat()}").get_json()
    by_station = {row["station_id"]: row for row in data["rows"]}
    assert by_station[few.id]["l5"] is None and by_station[few.id]["ratings"] is None
    assert by_station[enough.id]["ratings"] == 5 and by_station[enough.id]["l2"] == 1
    assert data["few_below"] == 5 and data["first"] == "2026-11-01" and data["last"] == "2026-11-23"
    text = client.get(f"/dashboard/ratings.csv?period=month&date={DAY.isoformat()}").data
    rows = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    line = next(r for r in rows if r[0] == few.name)
    assert "样本不足" in line and str(5) in next(r for r in rows if r[0] == enough.name)


def test_shares_over_nothing_are_a_dash_not_held_back(clock, app, town, stations):
    p = period("week", DAY, local_today())
    service, ratings, _t, _rt = figures.service([stations[2]], p)
    assert service[0].cells["on_the_spot"] is None and service[0].cells["booked"] == 0
    assert ratings[0].cells["l5"] == 0 and ratings[0].cells["satisfied"] is None


@pytest.mark.parametrize("kind, day, first, last", [
    ("week", date(2026, 11, 12), date(2026, 11, 9), date(2026, 11, 15)),
    ("month", date(2026, 2, 10), date(2026, 2, 1), date(2026, 2, 28)),
    ("quarter", date(2026, 8, 31), date(2026, 7, 1), date(2026, 9, 30)),
    ("quarter", date(2025, 12, 31), date(2025, 10, 1), date(2025, 12, 31)),
    ("year", date(2025, 6, 1), date(2025, 1, 1), date(2025, 12, 31)),
    ("month", date(2026, 11, 30), date(2026, 11, 1), date(2026, 11, 23)),  # up to yesterday
])
def test_periods_are_calendar_units_up_to_yesterday(kind, day, first, last):
    p = period(kind, day, date(2026, 11, 24))
    assert (p.first, p.last) == (first, last)


def test_without_a_day_the_page_opens_on_a_month_with_something_in_it():
    assert figures.default_day(date(2026, 11, 24)) == date(2026, 11, 23)
    assert figures.default_day(date(2026, 12, 2)) == date(2026, 11, 30)
    assert figures.default_day(date(2026, 11, 24), "week") == date(2026, 11, 22)  # a Tuesday
    assert figures.default_day(date(2026, 11, 30), "week") == date(2026, 11, 29)  # a Monday
    assert figures.default_day(date(2026, 11, 24), "year") == date(2026, 11, 23)


def test_follow_ups_on_time_late_and_still_running(clock, app, town, stations):
    today = local_today()  # 24 November
    on_time = to_utc(datetime.combine(DAY, time(16)))
    late = to_utc(datetime.combine(DAY + timedelta(days=3), time(10)))
    _case(stations[0], DAY, level=1, due=(DAY, DAY), callback=on_time, rectify=late)
    _case(stations[0], DAY, level=2, due=(DAY, today), callback=None, rectify=None)
    db.session.commit()
    rollup.rollup(DAY, DAY, today)
    row = db.session.get(StationDay, (stations[0].id, DAY))
    assert (row.callback_on_time, row.callback_late) == (1, 1)
    assert (row.rectify_on_time, row.rectify_late) == (0, 1)  # the other still has today


def test_the_nightly_job_sums_recent_days_and_the_page_shows_them_at_once(clock, app, town, stations):
    from portal import jobs
    client = app.test_client()
    query = f"?period=month&date={DAY.isoformat()}&station={stations[0].id}"
    assert "样本不足" not in parse(client.get("/dashboard/" + query)).text("#table-service")
    for _ in range(7):
        _case(stations[0], DAY)
    db.session.commit()
    result = jobs.JOBS["dashboard"].run(to_utc(datetime.combine(local_today(), time(1))))
    assert "station-days" in result
    cells = parse(client.get("/dashboard/" + query)).soup.select("#table-service tbody tr")[0]
    assert cells.select("td")[0].get_text(strip=True) == "7"  # the kept tables followed


def test_right_now_counts_the_room_and_puts_the_least_busy_first(clock, app, town, stations):
    today = local_today()
    busy, quiet = stations[0], stations[1]
    for status in ("checked_in", "checked_in", "accepted"):
        case = _case(busy, today, status="completed")
        case.status = status
    db.session.commit()
    lines = figures.now([busy, quiet])
    assert [line.station_id for line in lines] == [quiet.id, busy.id]
    assert (lines[1].cells["waiting"], lines[1].cells["in_hand"]) == (2, 1)
    assert lines[0].cells["next_free"] is not None
    client = app.test_client()
    fragment = client.get(f"/dashboard/now?town={town.id}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and b"<html" not in fragment.data
    assert b'hx-trigger="every 30s"' in fragment.data
    full = parse(client.get("/dashboard/now"))
    assert full.status == 200 and busy.name in full.text("#now")
    data = client.get(f"/dashboard/now.json?town={town.id}").get_json()
    assert {row["station_id"]: row["waiting"] for row in data["rows"]}[busy.id] == 2


def test_bad_filters_get_a_message_and_the_default_period(clock, app, town):
    client = app.test_client()
    response = client.get("/dashboard/?date=1899-01-01&period=decade&town=abc&station=-5")
    page = parse(response)
    assert response.status_code == 422
    assert "2000" in page.text("#date-error")
    assert "统计期：2026-11-01 至 2026-11-23" in page.text()
    for url in ("/dashboard/?date=2026-02-30", "/dashboard/service.json?date=%00",
                "/dashboard/?period=+++&date=+++&town=+++&station=+++",
                "/dashboard/now?town=99999999999999999999", "/dashboard/stars.csv?period=%ff"):
        assert client.get(url).status_code in (200, 422), url


def test_civility_and_volunteer_tables_come_from_the_demo(clock, app, town):
    client = app.test_client()
    page = parse(client.get("/dashboard/?period=year"))
    assert page.status == 200
    assert "本期没有数据" not in page.text("#table-categories")
    assert "本期没有数据" not in page.text("#table-teams")
    stars = client.get("/dashboard/stars.json?period=year").get_json()
    assert [row["label"] for row in stars["rows"]] == ["0", "1", "2", "3", "4", "5"]
    csv_text = client.get("/dashboard/volunteering.csv?period=year").data.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("名称,活动,名额")


def test_no_name_or_phone_reaches_the_dashboard(clock, app, town, stations):
    for _ in range(6):
        _case(stations[0], DAY, level=5)
    db.session.commit()
    rollup.everything(local_today())
    client = app.test_client()
    body = client.get("/dashboard/?period=year").data.decode()
    for table in ("service", "ratings", "now", "categories", "teams"):
        body += client.get(f"/dashboard/{table}.json?period=year").data.decode()
    assert "1350000" not in body and "测试" not in body
    assert "13800000001" not in body and "演示居民" not in body


def test_a_station_picked_on_the_dashboard_leads_straight_to_its_days(clock, app, town, stations):
    client = app.test_client()
    station = stations[1]
    catalogue = parse(client.get(f"/services/?station={station.id}"))
    assert station.name in catalogue.text(".notice")
    link = catalogue.soup.select_one("#catalogue-results a")["href"]
    assert f"station={station.id}" in link
    guide = parse(client.get(link))
    book = guide.soup.select_one(".actions a.button-primary")["href"]
    assert book.endswith(f"/book/{station.id}")
    assert client.get(book).status_code == 200
    # an unknown or closed station is simply not picked
    assert "notice" not in str(parse(client.get("/services/?station=999999")).soup.select_one("main h1 ~ p.notice"))
    station.active = False
    db.session.commit()
    assert station.name not in parse(client.get(f"/services/?station={station.id}")).text("main")


def test_every_footer_links_the_statements_and_they_say_what_they_promise(app, town):
    client = app.test_client()
    page = parse(client.get("/"))
    hrefs = [a["href"] for a in page.soup.select("footer a")]
    assert "/accessibility" in hrefs and "/dashboard/" in hrefs
    statement = parse(client.get("/accessibility"))
    assert "长辈模式" in statement.text() and town.phone in statement.text()
    assert "还没有做到的" in statement.text()
    open_data = parse(client.get("/open-data"))
    assert "CC BY 4.0" in open_data.text() and "few_below" in open_data.text()
    for name in ("service", "ratings", "now", "teams"):
        assert open_data.soup.select_one(f"#table-{name}") is not None


def test_english_dashboard(clock, app, town):
    client = app.test_client()
    assert "各站点办理情况" in parse(client.get("/dashboard/")).text()  # kept in Chinese first
    client.set_cookie("tb_lang", "en")
    page = parse(client.get("/dashboard/"))
    assert page.status == 200 and page.text("h1") == "Public dashboard"
    assert "Service at each station" in page.text() and "各站点办理情况" not in page.text()
    assert "Period:" in page.text() and "样本不足" not in page.text()


# -- calendar files -----------------------------------------------------------------------------

def _parse_ics(data: bytes):
    from icalendar import Calendar
    calendar = Calendar.from_ical(data)
    events = [c for c in calendar.walk("VEVENT")]
    assert len(events) == 1
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    return events[0]


def test_a_booking_as_a_calendar_file_in_the_towns_time(clock, app, town, auth):
    from portal.booking import service
    from portal.timeutil import LOCAL_ZONE, local_now
    user = auth.login()
    station = town.villages[3].station
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == "SB-001"))
    day, slot = service.first_free(station, "online", local_now())
    booking = service.book(item=item, station=station, day=day, starts=slot.starts,
                           channel="online", name=user.name, phone=user.phone, user_id=user.id,
                           idempotency_key=None, now=local_now())
    db.session.commit()
    client = auth.client
    for page in (f"/bookings/{booking.ref}", f"/bookings/{booking.ref}/confirmation"):
        assert f"/bookings/{booking.ref}/calendar.ics" in client.get(page).data.decode()
    response = client.get(f"/bookings/{booking.ref}/calendar.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    event = _parse_ics(response.data)
    start = event.decoded("dtstart")
    assert start.tzinfo is not None and str(start.tzinfo) == "Asia/Shanghai"
    assert start.replace(tzinfo=None) == datetime.combine(day, slot.starts)
    assert start.astimezone(LOCAL_ZONE).utcoffset() == timedelta(hours=8)
    assert event.decoded("dtend").replace(tzinfo=None) == datetime.combine(day, booking.ends)
    assert station.name in str(event["location"]) and station.address in str(event["location"])
    description = str(event["description"])
    assert booking.ref in description and item.materials[0].name in description
    assert user.phone not in response.data.decode()
    # someone else's browser does not get it
    assert app.test_client().get(f"/bookings/{booking.ref}/calendar.ics").status_code == 404


def test_an_activity_as_a_calendar_file_with_my_check_in_code(clock, app, town):
    from portal.volunteer.models import Activity, SignUp
    signup = db.session.scalar(select(SignUp).where(SignUp.status == "confirmed")
                               .order_by(SignUp.id))
    activity = db.session.get(Activity, signup.activity_id)
    anyone = app.test_client().get(f"/volunteer/activities/{activity.id}/calendar.ics")
    event = _parse_ics(anyone.data)
    assert activity.title in str(event["summary"]) and signup.code not in anyone.data.decode()
    assert event.decoded("dtstart").replace(tzinfo=None) == datetime.combine(activity.day,
                                                                              activity.starts)
    assert activity.place in str(event["location"])
    from tests.conftest import Forms
    from portal.seed import DEMO_PASSWORD
    client = app.test_client()
    phone = signup.volunteer.user.phone
    assert Forms(client).post("/login", {"phone": phone, "password": DEMO_PASSWORD}).status_code == 302
    mine = client.get(f"/volunteer/activities/{activity.id}/calendar.ics")
    assert signup.code in str(_parse_ics(mine.data)["description"])
    assert app.test_client().get("/volunteer/activities/99999999/calendar.ics").status_code == 404


def test_a_county_opens_on_one_line_per_town_and_a_town_to_choose(clock, app, town, stations):
    from portal.places.models import Station, Town
    other = Town(code="other", name="第二镇", phone="0000-1")
    db.session.add(other)
    db.session.flush()
    far = Station(town_id=other.id, kind="centre", name="第二镇中心", address="某路1号")
    db.session.add(far)
    db.session.flush()
    for _ in range(5):
        _case(far, DAY)
    for _ in range(6):
        _case(stations[0], DAY)
    db.session.commit()
    rollup.rollup(DAY, DAY, local_today())
    client = app.test_client()
    query = f"?period=month&date={DAY.isoformat()}"
    page = parse(client.get("/dashboard/" + query))
    labels = [th.get_text(strip=True) for th in page.soup.select("#table-service tbody th")]
    assert labels == [town.name, "第二镇", "合计"]
    cells = [tr.select("td")[0].get_text(strip=True) for tr in page.soup.select("#table-service tbody tr")]
    assert cells[1] == "5" and int(cells[2]) == int(cells[0]) + 5
    assert page.soup.select_one("#now a[href$='town=%d']" % other.id) is not None
    assert page.soup.select_one("#now table") is None
    one = parse(client.get("/dashboard/" + query + f"&town={other.id}"))
    assert [th.get_text(strip=True) for th in one.soup.select("#table-service tbody th")] == \
        ["第二镇中心", "合计"]
    assert "第二镇中心" in one.text("#now")
    data = client.get("/dashboard/service.json" + query).get_json()
    assert [row["town_id"] for row in data["rows"]] == [town.id, other.id, None]


# -- the read-only API ---------------------------------------------------------------------------

def test_the_catalogue_api_pages_and_answers_304_until_the_catalogue_changes(app, town):
    client = app.test_client()
    first = client.get("/api/v1/catalogue?per_page=20")
    body = first.get_json()
    assert first.status_code == 200 and body["total"] == 53 and body["pages"] == 3
    assert len(body["items"]) == 20 and body["next"].endswith("/api/v1/catalogue?per_page=20&page=2")
    item = body["items"][0]
    assert item["materials"] and item["guide"].endswith(f"/services/{item['code']}")
    last = client.get("/api/v1/catalogue?per_page=20&page=3").get_json()
    assert len(last["items"]) == 13 and last["next"] is None
    codes = {i["code"] for p in (1, 2, 3)
             for i in client.get(f"/api/v1/catalogue?per_page=20&page={p}").get_json()["items"]}
    assert len(codes) == 53
    etag = first.headers["ETag"]
    again = client.get("/api/v1/catalogue?per_page=20", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    changed = db.session.scalar(select(ServiceItem).where(ServiceItem.code == item["code"]))
    changed.fee = "工本费10元"
    db.session.commit()
    fresh = client.get("/api/v1/catalogue?per_page=20", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.get_json()["items"][0]["fee"] == "工本费10元"
    for bad in ("page=-1", "page=abc", "per_page=100000", "page=99999"):
        assert client.get("/api/v1/catalogue?" + bad).status_code == 200, bad


def test_the_stations_api_gives_hours_coordinates_and_the_next_free_slot(app, town):
    room = town.villages[5].station
    for _ in range(2):
        _case(room, local_today()).status = "checked_in"
    db.session.commit()
    client = app.test_client()
    body = client.get(f"/api/v1/stations?town={town.id}").get_json()
    assert body["total"] == len(town.stations) == 19
    centre = body["items"][0]
    assert centre["kind"] == "centre" and centre["latitude"] is not None
    assert centre["hours"]["mon"] and all(len(p) == 2 for p in centre["hours"]["mon"])
    assert centre["next_free"] is not None and centre["waiting"] == 0
    assert {s["id"]: s["waiting"] for s in body["items"]}[room.id] == 2
    assert "clerk" not in str(body) and "13800000101" not in str(body)


def test_the_notices_api_has_only_what_is_published_and_live(app, town):
    from portal.notices.models import Notice
    from portal.timeutil import utcnow
    client = app.test_client()
    before = client.get("/api/v1/notices?per_page=200").get_json()
    live = {n["id"] for n in before["items"]}
    draft = Notice(title="草稿不公开", status="draft", body="x")
    later = Notice(title="明天才发布", status="published", body="x",
                   publish_at=utcnow() + timedelta(days=1))
    db.session.add_all([draft, later])
    db.session.commit()
    after = client.get("/api/v1/notices?per_page=200").get_json()
    assert {n["id"] for n in after["items"]} == live and before["total"] == after["total"]
    assert all(n["url"].endswith(f"/notices/{n['id']}") for n in after["items"])
    assert {"doc_number", "agency", "category", "validity", "published_on"} <= set(after["items"][0])
