"""Booking through the real pages: station → day → slot → check → confirm, and after."""
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.booking import service
from portal.booking.models import Booking, HomeVisitRequest, ServiceItem, SlotUsage
from portal.extensions import db
from portal.notifications import Message
from portal.places.hours import periods_on
from portal.timeutil import local_now
from tests.conftest import make_user


@pytest.fixture
def item(town):
    return db.session.scalar(select(ServiceItem).where(ServiceItem.code == "SB-001"))


def walk_to_check(client, page, item, station):
    """Follow the steps by their first available links, as a person tapping would."""
    day_page = page(client.get(f"/services/{item.code}/book/{station.id}"))
    day_link = day_page.soup.select_one("a.choice")["href"]
    slot_page = page(client.get(day_link))
    slot_link = slot_page.soup.select_one("a.choice.slot")["href"]
    return slot_link, page(client.get(slot_link))


def test_catalogue_lists_47_plus_n_by_category_and_filters_by_name(client, town, page):
    p = page(client.get("/services/"))
    assert len(p.soup.select(".item-list li")) == 53
    assert len(p.soup.select(".item-list .tag")) == 6  # the town's own N items
    filtered = page(client.get("/services/?q=社会保障卡"))
    names = [a.get_text() for a in filtered.soup.select(".item-list a")]
    assert names and all("社会保障卡" in n for n in names)
    partial = client.get("/services/?q=生育", headers={"HX-Request": "true"})
    assert b"<html" not in partial.data and "生育".encode() in partial.data


def test_the_guide_shows_everything_a_resident_needs(client, item, page):
    p = page(client.get(f"/services/{item.code}"))
    text = p.text("main")
    for words in ("办理条件", "需要带的材料", "居民身份证", "复印件", "20个工作日", "免费",
                  "转镇政务服务中心办结", "可以委托他人代办"):
        assert words in text
    assert client.get("/services/NOPE-1").status_code == 404


def test_a_resident_books_at_another_village_and_sees_it_in_me(client, auth, town, item, page):
    user = auth.login(phone="13911110000")
    user.village = town.villages[0]
    db.session.commit()
    stations = page(client.get(f"/services/{item.code}/book"))
    first = stations.soup.select_one(".choice-list a.choice")
    assert town.villages[0].name in first.get_text()  # own village first
    other = town.villages[5].station
    slot_link, check = walk_to_check(client, page, item, other)
    assert check.soup.select_one("#name") is None  # signed in: the account books
    response = client.post(slot_link, data={"csrf_token": check.csrf(),
                                            "key": check.soup.select_one("#key")["value"]})
    assert response.status_code == 302
    booking = db.session.scalar(select(Booking).where(Booking.user_id == user.id))
    assert booking.station == other and booking.status == "booked" and booking.channel == "online"
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{8}", booking.ref)
    confirmation = page(client.get(response.headers["Location"]))
    assert booking.ref in confirmation.text(".ref")
    assert confirmation.soup.select_one("img.qr")["src"].startswith("data:image/svg+xml")
    assert "居民身份证" in confirmation.text() and other.address in confirmation.text()
    me = page(client.get("/me/"))
    assert booking.ref in me.text() and "您已预约" in me.text()


def test_a_double_submitted_confirm_makes_one_booking(client, town, item, page):
    station = town.villages[1].station
    slot_link, check = walk_to_check(client, page, item, station)
    data = {"csrf_token": check.csrf(), "key": check.soup.select_one("#key")["value"],
            "name": "路人甲", "phone": "13922223333"}
    first = client.post(slot_link, data=data)
    second = client.post(slot_link, data=data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Booking).where(
        Booking.phone == "13922223333")) == 1


@pytest.mark.parametrize("changes, field, words", [
    ({"name": ""}, "name", "请输入姓名"),
    ({"phone": "123"}, "phone", "11位"),
    ({"name": "名" * 41}, "name", "40"),
])
def test_bad_contact_details_get_messages_and_keep_answers(client, town, item, page,
                                                          changes, field, words):
    slot_link, check = walk_to_check(client, page, item, town.villages[1].station)
    data = {"csrf_token": check.csrf(), "key": "k1", "name": "路人乙", "phone": "13922224444"}
    data.update(changes)
    p = page(client.post(slot_link, data=data))
    assert p.status == 422 and words in p.text(f"#{field}-error")
    assert p.soup.select_one("#key")["value"] == "k1"


@pytest.mark.parametrize("url", [
    "/services/SB-001/book/99999",                     # forged station
    "/services/FAKE-9/book/2",                          # forged item
    "/services/SB-001/book/2/2026-02-30",               # no such day
    "/services/SB-001/book/2/not-a-day",
    "/services/SB-001/book/2/2030-01-07/0931",           # not a slot start (and far away)
    "/services/SB-001/book/2/2030-01-07/2599",
])
def test_forged_steps_are_404_not_500(client, town, url):
    assert client.get(url).status_code == 404


def test_a_past_or_closed_slot_cannot_be_confirmed(client, town, item, forms, page):
    station = town.villages[1].station
    yesterday = (local_now() - timedelta(days=1)).date().isoformat()
    url = f"/services/{item.code}/book/{station.id}/{yesterday}/0900"
    token = forms.token(f"/services/{item.code}")
    p = page(client.post(url, data={"csrf_token": token, "key": "x", "name": "甲",
                                    "phone": "13922225555"}))
    assert p.status == 409 and "不能预约" in p.text(".error-summary")
    assert db.session.scalar(select(func.count()).select_from(Booking).where(
        Booking.phone == "13922225555")) == 0


def test_a_day_beyond_the_two_week_window_cannot_be_booked(client, town, item, forms, page):
    station = town.villages[1].station
    now = local_now()
    beyond = next(now.date() + timedelta(days=n) for n in range(14, 30)
                  if periods_on(station, now.date() + timedelta(days=n)))
    starts = periods_on(station, beyond)[0][0]
    url = f"/services/{item.code}/book/{station.id}/{beyond.isoformat()}/{starts:%H%M}"
    assert client.get(url).status_code == 404  # not offered
    token = forms.token(f"/services/{item.code}")
    p = page(client.post(url, data={"csrf_token": token, "key": "x", "name": "甲",
                                    "phone": "13922225556"}))
    assert p.status == 409 and "14天内" in p.text(".error-summary")
    with pytest.raises(service.BookingRefused) as refused:
        service.book(item=item, station=station, day=beyond, starts=starts, channel="online",
                     name="甲", phone="13922225556", user_id=None, idempotency_key=None, now=now)
    assert refused.value.code == "out_of_window"
    assert db.session.scalar(select(func.count()).select_from(Booking).where(
        Booking.phone == "13922225556")) == 0


def test_limits_per_person(app, client, town, page):
    items = db.session.scalars(select(ServiceItem).order_by(ServiceItem.position)).all()[20:24]
    station = town.villages[3].station
    codes = []
    for n, item in enumerate(items):
        slot_link, check = walk_to_check(client, page, item, station)
        response = client.post(slot_link, data={"csrf_token": check.csrf(), "key": f"k{n}",
                                                "name": "多约", "phone": "13933334444"})
        codes.append(response.status_code)
        if n == 3:
            assert "最多同时保留3个" in page(response).text(".error-summary")
    assert codes == [302, 302, 302, 409]
    slot_link, check = walk_to_check(client, page, items[0], station)
    again = page(client.post(slot_link, data={"csrf_token": check.csrf(), "key": "k9",
                                              "name": "多约", "phone": "13933334444"}))
    assert again.status == 409 and "已经预约了这个事项" in again.text(".error-summary")


def book_one(town, item, phone="13944445555", station=None):
    station = station or town.villages[1].station
    now = local_now()
    day, slot = service.first_free(station, "online", now + timedelta(days=1))
    return service.book(item=item, station=station, day=day, starts=slot.starts,
                        channel="online", name="查询人", phone=phone, user_id=None,
                        idempotency_key=None, now=now)


def test_status_needs_the_owner_or_code_and_last_four_digits(app, town, item, page):
    booking = book_one(town, item)
    stranger = app.test_client()
    hidden = page(stranger.get(f"/bookings/{booking.ref}"))
    assert hidden.status == 404 and booking.name not in hidden.text()
    unknown = page(stranger.get("/bookings/ZZZZZZZZ"))
    assert unknown.status == 404 and unknown.text("h1") == hidden.text("h1")  # no enumeration
    wrong = page(stranger.post(f"/bookings/{booking.ref}", data={
        "csrf_token": hidden.csrf(), "ref": booking.ref, "phone4": "0000"}))
    assert wrong.status == 422 and "不正确" in wrong.text(".error-summary")
    right = stranger.post(f"/bookings/{booking.ref}", data={
        "csrf_token": hidden.csrf(), "ref": booking.ref.lower(), "phone4": "5555"})
    assert right.status_code == 302
    shown = page(stranger.get(f"/bookings/{booking.ref}"))
    assert shown.status == 200 and "已预约" in shown.text(".status")
    assert "139****5555" in shown.text() and "13944445555" not in shown.text()


@pytest.mark.parametrize("digits, status", [("５５５５", 302), (" 55 55 ", 302),
                                            ("٥٥٥٥", 422), ("55٥5", 422)])
def test_last_four_digits_in_other_scripts_are_a_message_not_a_500(app, town, item, page,
                                                                    digits, status):
    booking = book_one(town, item)
    client = app.test_client()
    token = page(client.get("/bookings/")).csrf()
    response = client.post("/bookings/", data={"csrf_token": token, "ref": booking.ref,
                                               "phone4": digits})
    assert response.status_code == status


def test_another_residents_booking_is_404(app, client, auth, town, item):
    owner = make_user("13955556666")
    booking = book_one(town, item, phone=owner.phone)
    booking.user_id = owner.id
    db.session.commit()
    auth.login()
    assert client.get(f"/bookings/{booking.ref}").status_code == 404
    assert client.get(f"/bookings/{booking.ref}/slip").status_code == 404
    assert client.get(f"/bookings/{booking.ref}/cancel").status_code == 404


def test_lookup_is_rate_limited(app, town, item, page):
    booking = book_one(town, item)
    client = app.test_client()
    token = page(client.get("/bookings/")).csrf()
    codes = [client.post("/bookings/", data={"csrf_token": token, "ref": booking.ref,
                                             "phone4": f"{n:04d}"}).status_code
             for n in range(11)]
    assert codes[:10] == [422] * 10 and codes[10] == 429


def test_cancel_frees_the_place_and_tells_the_resident(app, town, item, page):
    booking = book_one(town, item)
    client = app.test_client()
    with client.session_transaction() as session:
        session["booking_refs"] = [booking.ref]
    usage = lambda: db.session.scalar(select(SlotUsage.taken).where(  # noqa: E731
        SlotUsage.station_id == booking.station_id, SlotUsage.day == booking.day,
        SlotUsage.starts == booking.starts, SlotUsage.pool == "online"))
    before = usage()
    assert before >= 1
    confirm = page(client.get(f"/bookings/{booking.ref}/cancel"))
    response = client.post(f"/bookings/{booking.ref}/cancel", data={"csrf_token": confirm.csrf()})
    assert response.status_code == 302
    db.session.refresh(booking)
    assert booking.status == "cancelled" and usage() == before - 1
    assert [e.action for e in booking.events] == ["book", "cancel"]
    assert db.session.scalar(select(Message.body).where(Message.kind == "cancelled"))


def test_moving_keeps_the_reference(app, town, item, page):
    booking = book_one(town, item)
    client = app.test_client()
    with client.session_transaction() as session:
        session["booking_refs"] = [booking.ref]
    target = town.villages[2].station
    day_page = page(client.get(f"/services/{item.code}/book/{target.id}?move={booking.ref}"))
    assert "正在为预约" in day_page.text()
    slot_page = page(client.get(day_page.soup.select_one("a.choice")["href"]))
    slot_link = slot_page.soup.select_one("a.choice.slot")["href"]
    assert f"move={booking.ref}" in slot_link
    check = page(client.get(slot_link))
    response = client.post(slot_link, data={"csrf_token": check.csrf(), "key": "m1"})
    assert response.status_code == 302 and response.headers["Location"].endswith(booking.ref)
    ref = booking.ref
    db.session.refresh(booking)
    assert booking.ref == ref and booking.station == target and booking.status == "booked"


def test_availability_kept_by_a_worker_follows_every_change(town, item):
    """A worker keeps each station's two weeks of slots; a booking, a move, a cancellation
    or a capacity change anywhere (another worker, here the same one) must show at once."""
    station, other = town.villages[1].station, town.villages[2].station
    now = local_now()

    def left(where, day, starts) -> int:
        db.session.commit()  # as a new request: fresh rows, so the station's current version
        return next(s.left for d, slots in service.availability(where, "online", now)
                    if d == day for s in slots if s.starts == starts)

    day, slot = service.first_free(station, "online", now + timedelta(days=1))
    before = left(station, day, slot.starts)
    booking = service.book(item=item, station=station, day=day, starts=slot.starts,
                           channel="online", name="缓存", phone="13944446666", user_id=None,
                           idempotency_key=None, now=now)
    assert left(station, day, slot.starts) == before - 1
    day2, slot2 = service.first_free(other, "online", now + timedelta(days=1))
    other_before = left(other, day2, slot2.starts)
    service.move(booking, station=other, day=day2, starts=slot2.starts, now=now, actor_id=None)
    assert left(station, day, slot.starts) == before
    assert left(other, day2, slot2.starts) == other_before - 1
    service.cancel(booking, now=now, actor_id=None)
    assert left(other, day2, slot2.starts) == other_before
    other.capacity_online += 3
    assert left(other, day2, slot2.starts) == other_before + 3
    for when in (now, now.replace(hour=8, minute=40), now.replace(hour=23, minute=50)):
        assert service.days_left(other, "online", when) == [
            (d, bool(slots), sum(s.left for s in slots))
            for d, slots in service.availability(other, "online", when)]


def test_no_cancel_after_the_cutoff(town, item):
    booking = book_one(town, item)
    late = datetime.combine(booking.day, booking.starts) - timedelta(hours=1)
    with pytest.raises(service.BookingRefused) as refused:
        service.cancel(booking, now=late, actor_id=None)
    assert refused.value.code == "cutoff"


def test_home_visit_request_is_stored_for_the_station(client, auth, town, page, forms):
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.home_visit.is_(True)))
    user = auth.login(phone="13966667777")
    user.village = town.villages[4]
    db.session.commit()
    form = page(client.get(f"/services/{item.code}/home-visit"))
    assert form.soup.select_one("#phone")["value"] == "13966667777"
    bad = page(forms.post(f"/services/{item.code}/home-visit", {
        "name": "张三", "phone": "13966667777", "address": "", "reason": "",
        "station": str(town.villages[4].station.id)}))
    assert bad.status == 422 and bad.soup.select_one("#address-error")
    done = page(forms.post(f"/services/{item.code}/home-visit", {
        "name": "张三", "phone": "13966667777", "address": "青禾镇东岭村3组12号",
        "reason": "elderly", "station": str(town.villages[4].station.id),
        "preferred_days": "工作日上午"}))
    assert done.status == 200 and "已收到" in done.text("h1")
    visit = db.session.scalar(select(HomeVisitRequest))
    assert visit.station == town.villages[4].station and visit.user_id == user.id
    not_offered = db.session.scalar(select(ServiceItem).where(ServiceItem.home_visit.is_(False)))
    assert client.get(f"/services/{not_offered.code}/home-visit").status_code == 404


def test_reminders_go_out_once_the_day_before(runner, town, item):
    booking = book_one(town, item, phone="13977778888")
    day = booking.day.isoformat()
    first = runner.invoke(args=["bookings", "remind", "--day", day])
    assert first.exit_code == 0 and "reminded" in first.output
    reminders = db.session.scalars(select(Message).where(
        Message.kind == "reminder", Message.phone == "13977778888")).all()
    assert len(reminders) == 1 and booking.ref in reminders[0].body
    runner.invoke(args=["bookings", "remind", "--day", day])
    assert db.session.scalar(select(func.count()).select_from(Message).where(
        Message.kind == "reminder", Message.phone == "13977778888")) == 1


def test_clerks_see_their_own_stations_home_visits_only(app, town, client, auth, page):
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.home_visit.is_(True)))
    mine, other = town.villages[0].station, town.villages[1].station
    for station, name in ((mine, "本站老人"), (other, "外站老人")):
        db.session.add(HomeVisitRequest(item=item, station=station, name=name,
                                        phone="13912340000", address="某村", reason="elderly"))
    db.session.commit()
    auth.login(role="clerk", station=mine)
    p = page(client.get("/desk/home-visits"))
    assert "本站老人" in p.text() and "外站老人" not in p.text()
    assert "139****0000" in p.text() and "13912340000" not in p.text()
    staff = app.test_client()
    auth.client, auth.forms = staff, type(auth.forms)(staff)
    auth.login(role="town_staff")
    both = page(staff.get("/desk/home-visits"))
    assert "本站老人" in both.text() and "外站老人" in both.text()


def test_a_station_of_another_town_is_refused(client, auth, town, item):
    from portal.places.models import Station, Town
    other_town = Town(code="elsewhere", name="别的镇")
    far = Station(town=other_town, kind="centre", name="别的镇中心")
    db.session.add_all([other_town, far])
    user = auth.login(phone="13911112222")
    user.village = town.villages[0]
    db.session.commit()
    assert client.get(f"/services/{item.code}/book/{far.id}").status_code == 404
    stations = client.get(f"/services/{item.code}/book").get_data(as_text=True)
    assert "别的镇中心" not in stations


def test_with_several_towns_anonymous_visitors_choose_the_town_first(client, town, item, page):
    from portal.places.models import Station, Town
    other = Town(code="second", name="第二镇")
    db.session.add_all([other, Station(town=other, kind="centre", name="第二镇中心")])
    db.session.commit()
    p = page(client.get(f"/services/{item.code}/book"))
    assert [a.get_text(strip=True) for a in p.soup.select(".choice-list a")] == [town.name, "第二镇"]
    second = page(client.get(f"/services/{item.code}/book?town={other.id}"))
    assert "第二镇中心" in second.text() and town.villages[0].name not in second.text()
    assert client.get(f"/services/{item.code}/book?town=99999").status_code == 404


def test_anonymous_home_visit_offers_every_station(client, town, page):
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.home_visit.is_(True)))
    p = page(client.get(f"/services/{item.code}/home-visit"))
    assert len(p.soup.select("#station option")) == len(town.stations)
