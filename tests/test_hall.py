"""The station hall (取号/叫号): tickets, the calling order and its rule, the clerk's calls
(叫号, 重呼, 过号, 转窗, 重新排队), the calling screen and a ticket's page (numbers only),
the kiosk's ticket machine, estimated waits on a frozen clock, the desk's figures from the
call events, and the races: two clerks calling at once, check-ins numbered at once — in
threads on SQLite and PostgreSQL and over HTTP against gunicorn worker processes."""
from __future__ import annotations

import re
import threading
from datetime import datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal import refs
from portal.booking import service
from portal.booking.models import Booking, BookingEvent, ServiceItem
from portal.desk import stats, tickets, workflow
from portal.desk.models import Ticket
from portal.desk.tickets import ON_TIME, PRIORITY_LEAD, TicketRefused, place_in_line
from portal.extensions import db
from portal.places.models import OpeningPeriod, Station
from portal.timeutil import local_now, local_today, to_utc, utcnow
from tests.conftest import TUESDAY_MORNING, make_user, parse, race, sign_in
from tests.live import Browser, gunicorn

T0 = datetime(2026, 11, 24, 1, 0)  # 09:00 in the town, as naive UTC


# -- the rule, as plain functions ---------------------------------------------------------------------

def test_the_place_in_line_of_each_kind_of_ticket():
    slot = T0
    walk_in = place_in_line(taken_at=T0 - timedelta(minutes=20), slot_start=None, priority=False)
    on_time = place_in_line(taken_at=T0 + timedelta(minutes=5), slot_start=slot, priority=False)
    early = place_in_line(taken_at=T0 - timedelta(hours=1), slot_start=slot, priority=False)
    late = place_in_line(taken_at=T0 + timedelta(minutes=25), slot_start=slot, priority=False)
    green = place_in_line(taken_at=T0 + timedelta(minutes=25), slot_start=None, priority=True)
    assert walk_in == T0 - timedelta(minutes=20)  # when they came
    assert on_time == early == T0 - ON_TIME  # booked and on time: at their slot, less 10 min
    assert late == T0 + timedelta(minutes=25)  # late: like a walk-in
    assert green == T0 + timedelta(minutes=25) - PRIORITY_LEAD
    # In line: the walk-in who waited longest, then the booked on time, then the priority
    # ticket that came 25 minutes after the slot (half an hour ahead of its arrival), then late.
    assert sorted([late, on_time, walk_in, green]) == [walk_in, on_time, green, late]


@st.composite
def arrivals(draw):
    """A day of tickets: (taken minute, booked slot minute or None, priority)."""
    n = draw(st.integers(2, 40))
    return [(draw(st.integers(0, 480)),
             draw(st.one_of(st.none(), st.integers(0, 480).map(lambda m: m - m % 30))),
             draw(st.booleans())) for _ in range(n)]


@settings(max_examples=200, deadline=None)
@given(arrivals())
def test_no_ticket_is_passed_by_one_taken_long_after_its_place(day):
    """No one is starved: a ticket is only ever called after tickets taken before its own
    place in line + PRIORITY_LEAD + 2 × ON_TIME; priority tickets go ahead only that far."""
    start = datetime(2026, 11, 24, 0, 30)
    line = []
    for n, (taken, slot, priority) in enumerate(day):
        taken_at = start + timedelta(minutes=taken)
        slot_at = start + timedelta(minutes=slot) if slot is not None else None
        line.append((place_in_line(taken_at=taken_at, slot_start=slot_at, priority=priority),
                     n, taken_at, priority))
    bound = PRIORITY_LEAD + 2 * ON_TIME
    for place, n, taken_at, priority in line:
        for other_place, m, other_taken, _ in line:
            if (other_place, m) < (place, n):  # called before this one
                assert other_taken <= place + bound
        assert place >= taken_at - bound  # a place is never further back than the bound


def test_estimates_share_the_work_ahead_among_the_windows():
    assert tickets.estimate_minutes([10, 12, 8], [5], 2) == 18  # (30 + 5) / 2, rounded up
    assert tickets.estimate_minutes([], [], 3) == 0
    assert tickets.estimate_minutes([7.5], [], 0) == 8  # at least one window


# -- at the desk ----------------------------------------------------------------------------------------

@pytest.fixture
def desk(clock, app, town):
    """Two village stations without demo cases, a clerk each (on a frozen Tuesday 09:05),
    and two items."""
    from types import SimpleNamespace
    a, b = town.villages[4].station, town.villages[5].station
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == "SB-001"))
    own = db.session.scalar(select(ServiceItem).where(ServiceItem.code == "JY-001"))
    return SimpleNamespace(
        app=app, town=town, a=a, b=b, item=item, own_item=own,
        clerk_a=sign_in(app, "13911110001", "clerk", station=a, name="王窗口"),
        clerk_b=sign_in(app, "13911110002", "clerk", station=b, name="赵窗口"))


def book_at(station, item, *, starts=time(9, 0), phone="13912345678", name="钱居民"):
    return service.book(item=item, station=station, day=local_today(), starts=starts,
                        channel="online", name=name, phone=phone, user_id=None,
                        idempotency_key=None, now=local_now() - timedelta(hours=3))


def items(n: int) -> list[ServiceItem]:
    return db.session.scalars(select(ServiceItem).where(ServiceItem.active.is_(True))
                              .order_by(ServiceItem.id).limit(n)).all()


def ticket_of(booking) -> Ticket:
    db.session.expire_all()
    return db.session.scalar(select(Ticket).where(Ticket.booking_id == booking.id))


def flashed(response) -> str:
    return parse(response).text(".notice")


def test_check_in_at_the_desk_and_at_the_walk_in_form_gives_numbered_tickets(desk, clock,
                                                                             page):
    clerk = desk.clerk_a
    one, two = book_at(desk.a, desk.item), book_at(desk.a, desk.own_item, phone="13912340001")
    clerk.post("/desk/check-in", {"code": one.ref})
    clerk.post("/desk/check-in", {"code": two.ref, "priority": "y"})
    form = page(clerk.get("/desk/walk-in"))
    clerk.post("/desk/walk-in", {"key": form.soup.select_one("#key")["value"],
                                 "item": items(3)[2].id, "name": "孙", "phone": "13900001111"})
    labels = [t.label for t in db.session.scalars(select(Ticket).where(
        Ticket.station_id == desk.a.id).order_by(Ticket.id))]
    assert labels == ["B001", "L001", "A001"]
    case = page(clerk.get(f"/desk/bookings/{one.ref}"))
    assert "B001" in case.text(".case-ticket")
    timeline = [e.action for e in db.session.get(Booking, one.id).events]
    assert timeline == ["book", "check_in", "ticket"]
    # The next day's numbers start again at 001.
    clock.move_to(TUESDAY_MORNING + timedelta(days=1))
    tomorrow = book_at(desk.a, items(4)[3], phone="13912340002")
    clerk.login()
    clerk.post("/desk/check-in", {"code": tomorrow.ref})
    assert ticket_of(tomorrow).label == "B001"


def test_the_clerk_calls_the_line_in_order_and_each_call_is_on_the_timeline(desk, clock, page):
    clerk = desk.clerk_a
    walk = case_checked_in(desk, "walkin", "13900000001", minutes_before=25)
    booked = case_checked_in(desk, "online", "13900000002", minutes_before=1)
    late = case_checked_in(desk, "online", "13900000003", minutes_before=0, starts=time(8, 30))
    clerk.post("/desk/window", {"window": "1"})
    order = []
    for _ in range(3):
        response = clerk.post("/desk/call", {"window": "1"})
        assert response.status_code == 302
        called = db.session.scalar(select(Ticket).where(Ticket.status == "called",
                                                        Ticket.station_id == desk.a.id))
        order.append(called.booking_id)
        workflow.accept(db.session.get(Booking, called.booking_id), clerk.user)
    # The walk-in who came 25 minutes ago, the booked resident on time for 09:00, then the
    # one booked for 08:30 who came at 09:05 (late: in line from when they came).
    assert order == [walk.id, booked.id, late.id]
    assert ticket_of(walk).status == "served"
    assert "现在没有人在等候" in flashed(clerk.post("/desk/call", {"window": "1"},
                                               follow_redirects=True))
    actions = [e.action for e in db.session.get(Booking, booked.id).events]
    assert actions == ["check_in", "ticket", "call", "accept"]


def case_checked_in(desk, channel, phone, *, minutes_before, starts=time(9, 0), station=None,
                    item=None, priority=False):
    """A booking at `starts` today, checked in `minutes_before` minutes before now."""
    station = station or desk.a
    item = item or items(1)[0]
    booking = Booking(ref=refs.new_code(), item=item,
                      station=station, day=local_today(), starts=starts,
                      ends=(datetime.combine(local_today(), starts) + timedelta(minutes=30)).time(),
                      channel=channel, status="booked", name="测试", phone=phone)
    db.session.add(booking)
    db.session.commit()
    with pytest.MonkeyPatch.context() as patch:
        came = utcnow() - timedelta(minutes=minutes_before)
        patch.setattr(workflow, "utcnow", lambda: came)
        workflow.check_in(booking, None, priority=priority)
    return booking


def test_recall_skip_requeue_and_transfer(desk, page):
    clerk = desk.clerk_a
    first = case_checked_in(desk, "walkin", "13900000011", minutes_before=10)
    second = case_checked_in(desk, "walkin", "13900000012", minutes_before=5)
    clerk.post("/desk/call", {"window": "1"})
    ticket = ticket_of(first)
    assert (ticket.status, ticket.window, ticket.calls) == ("called", 1, 1)
    # While window 1 is calling, it cannot call the next one (nobody is lost).
    busy = clerk.post("/desk/call", {"window": "1"}, follow_redirects=True)
    assert "正在呼叫A001" in flashed(busy) and ticket_of(second).status == "waiting"
    clerk.post(f"/desk/tickets/{ticket.id}/recall", {"window": "1"})
    assert ticket_of(first).calls == 2
    clerk.post(f"/desk/tickets/{ticket.id}/transfer", {"window": "1", "to_window": "2"})
    assert (ticket_of(first).window, ticket_of(first).status) == (2, "called")
    # Window 1 may call again; window 2 now has the handed-over person.
    clerk.post("/desk/call", {"window": "1"})
    assert ticket_of(second).window == 1
    clerk.post(f"/desk/tickets/{ticket.id}/skip", {"window": "2"})
    assert ticket_of(first).status == "skipped"
    panel = page(clerk.get("/desk/"))
    assert "A001" in panel.text(".skipped")
    clerk.post(f"/desk/tickets/{ticket.id}/requeue")
    requeued = ticket_of(first)
    assert requeued.status == "waiting" and tickets.ahead_of(requeued) == 0
    actions = [e.action for e in db.session.get(Booking, first.id).events]
    assert actions == ["check_in", "ticket", "call", "recall", "transfer", "skip",
                       "requeue"]
    notes = [e.note for e in db.session.get(Booking, first.id).events if e.action == "transfer"]
    assert notes == ["A001 → 2"]


def test_forged_windows_and_other_stations_tickets_are_refused(desk):
    clerk = desk.clerk_a
    mine = case_checked_in(desk, "walkin", "13900000021", minutes_before=3)
    theirs = case_checked_in(desk, "walkin", "13900000022", minutes_before=3, station=desk.b)
    for window in ("0", "3", "-1", "x", "99999999999999999999", ""):
        response = clerk.post("/desk/call", {"window": window}, follow_redirects=True)
        assert "请选择本站的窗口号" in flashed(response), window
    assert ticket_of(mine).status == "waiting"
    desk.clerk_b.post("/desk/call", {"window": "1"})
    other = ticket_of(theirs)
    assert other.status == "called"
    for action in ("recall", "skip", "transfer", "requeue"):
        response = clerk.post(f"/desk/tickets/{other.id}/{action}",
                              {"window": "1", "to_window": "2"}, follow_redirects=True)
        assert "这张号不是本站的" in flashed(response)
    assert ticket_of(theirs).status == "called" and ticket_of(theirs).calls == 1
    # A clerk cannot call at another station (its desk is not theirs).
    assert clerk.post(f"/desk/call?station={desk.b.id}", {"window": "1"}).status_code == 404
    # The windows a station has are the admin's: a forged select value is refused too.
    assert "请选择本站的窗口号" in flashed(clerk.post("/desk/window", {"window": "7"},
                                                   follow_redirects=True))


# -- the screens: numbers only ------------------------------------------------------------------------

def test_the_calling_screen_and_the_ticket_page_show_numbers_never_names(desk, client, page):
    booking = case_checked_in(desk, "walkin", "13977776666", minutes_before=4)
    booking.name = "欧阳娜娜"
    db.session.commit()
    waiting = case_checked_in(desk, "walkin", "13977775555", minutes_before=2)
    desk.clerk_a.post("/desk/call", {"window": "2"})
    screen = page(client.get(f"/stations/{desk.a.id}/display"))
    assert screen.text(".display-number") == "A001"
    assert "到2号窗口" in screen.text(".display-window")
    assert screen.soup.select_one("#calls")["data-say"] == "请A001号到2号窗口"
    mine = page(client.get(f"/tickets/{ticket_of(booking).code}"))
    assert "请到2号窗口" in mine.text(".ticket-state")
    theirs = page(client.get(f"/tickets/{ticket_of(waiting).code}"))
    assert "下一位就是您" in theirs.text(".ticket-state")
    for shown in (screen, mine, theirs):
        body = shown.response.get_data(as_text=True)
        assert "欧阳娜娜" not in body and "测试" not in body
        assert "7777" not in body and "6666" not in body and "5555" not in body
    assert client.get("/tickets/NOSUCHCO").status_code == 404
    assert client.get("/stations/99999/display").status_code == 404


def test_the_screen_polls_a_fragment_and_nothing_when_nothing_changed(desk, client, page):
    case_checked_in(desk, "walkin", "13900000031", minutes_before=4)
    screen = page(client.get(f"/stations/{desk.a.id}/display"))
    poll = screen.soup.select_one("#calls")["hx-get"]
    assert screen.soup.select_one("#calls")["hx-trigger"] == "every 1s"
    quiet = client.get(poll, headers={"HX-Request": "true"})
    assert quiet.status_code == 204 and quiet.data == b""
    desk.clerk_a.post("/desk/call", {"window": "1"})
    news = client.get(poll, headers={"HX-Request": "true"})
    assert news.status_code == 200 and b"<html" not in news.data and b"A001" in news.data
    # Without htmx the same URL is the whole page (a TV without JavaScript reloads it).
    assert page(client.get(poll)).soup.find("h1") is not None


def test_every_screen_gets_a_new_call_in_its_own_language_answered_before_flask(desk, client):
    """The polls come before Flask (kiosk.hall.ScreenPolls): unchanged is 204, a change the
    calls another screen of this worker has already fetched, in each screen's language."""
    case_checked_in(desk, "walkin", "13900000035", minutes_before=4)
    first = client.get(f"/stations/{desk.a.id}/display")
    poll = re.search(r'hx-get="([^"]+)"', first.get_data(as_text=True)).group(1)
    desk.clerk_a.post("/desk/call", {"window": "2"})
    english = desk.app.test_client()
    english.set_cookie("tb_lang", "en")
    seen = []
    for screen in (client, english, client, english):
        response = screen.get(poll.replace("&amp;", "&"), headers={"HX-Request": "true"})
        assert response.status_code == 200 and b"A001" in response.data
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        seen.append(response.get_data(as_text=True))
    assert "到2号窗口" in seen[0] and "to window 2" in seen[1]
    assert seen[0] == seen[2] and seen[1] == seen[3]  # the same part, kept once per language
    again = re.search(r'hx-get="([^"]+)"', seen[0]).group(1).replace("&amp;", "&")
    quiet = english.get(again, headers={"HX-Request": "true"})
    assert quiet.status_code == 204 and quiet.headers["X-Content-Type-Options"] == "nosniff"


def test_the_dashboard_and_the_api_tell_the_wait_for_a_number_taken_now(desk, client, page):
    for n in range(3):
        case_checked_in(desk, "walkin", f"1390000006{n}", minutes_before=5 - n)
    now = page(client.get(f"/dashboard/now?town={desk.town.id}"))
    row = next(r for r in now.soup.select("tbody tr") if desk.a.name in r.get_text())
    assert "约30分钟" in row.get_text()  # three ahead, 10 minutes each (no history), 1 window
    stations = client.get(f"/api/v1/stations?town={desk.town.id}").get_json()
    mine = next(s for s in stations["items"] if s["id"] == desk.a.id)
    assert mine["wait_minutes"] == 30 and mine["waiting"] == 3


def test_the_estimated_wait_comes_from_the_stations_own_handling_times(desk, clock, client,
                                                                      page):
    """Frozen clock. Item A has taken the station 12 minutes, item B 20 (from the call to
    done); the line ahead of me is A, B; nobody at a window; one window calling lately."""
    a, b = items(2)
    history_day = local_today() - timedelta(days=1)
    for n, (item, minutes) in enumerate([(a, 10), (a, 12), (a, 14), (b, 20)]):
        called = to_utc(datetime.combine(history_day, time(9, 0))) + timedelta(hours=n)
        done = Booking(ref=f"HIST{n:04d}", item=item, station=desk.a, day=history_day,
                       starts=time(9, 0), ends=time(9, 30), channel="walkin",
                       status="completed", name="历史", phone=f"1380000{n:04d}",
                       checked_in_at=called - timedelta(minutes=5),
                       accepted_at=called + timedelta(minutes=2),
                       finished_at=called + timedelta(minutes=minutes))
        db.session.add(done)
        service.record_event(done, "call", "checked_in", "checked_in", None, "x")
        done.events[-1].at = called
    db.session.commit()
    first = case_checked_in(desk, "walkin", "13900000041", minutes_before=9, item=a)
    case_checked_in(desk, "walkin", "13900000042", minutes_before=8, item=b)
    me = case_checked_in(desk, "walkin", "13900000043", minutes_before=7, item=a)
    outlook = tickets.outlook(ticket_of(me), db.session.get(Station, desk.a.id))
    assert outlook == tickets.Outlook(2, 32)  # 12 + 20 minutes, one window
    mine = page(client.get(f"/tickets/{ticket_of(me).code}"))
    assert "前面还有2人" in mine.text() and "预计等候约32分钟" in mine.text()
    # The first is called to window 1 and has been there 5 minutes: 7 of its 12 are left.
    desk.clerk_a.post("/desk/call", {"window": "1"})
    assert ticket_of(first).status == "called"
    later = ticket_of(first).called_at + timedelta(minutes=5)
    assert tickets.outlook(ticket_of(me), db.session.get(Station, desk.a.id), now=later) \
        == tickets.Outlook(1, 27)  # 20 ahead + 7 left
    # The desk's figures: waiting from check-in to the call, handling from the call.
    rows, total = stats.figures([desk.a.id], history_day, history_day)
    assert sorted(total.handlings) == [10.0, 12.0, 14.0, 20.0]
    assert total.waits == [5.0] * 4


# -- the kiosk's ticket machine ---------------------------------------------------------------------

def kiosk(app, clerk_phone, station):
    """A kiosk browser set up for `station` by its clerk (who then ends the session)."""
    client = app.test_client()
    from tests.conftest import Forms, PASSWORD
    forms = Forms(client)
    client.get("/kiosk/")
    assert forms.post("/login", {"phone": clerk_phone, "password": PASSWORD}).status_code == 302
    setup = forms.post("/kiosk/setup", {"station": str(station.id)})
    assert setup.status_code == 302 and setup.headers["Location"] == "/kiosk/ticket"
    forms.post("/kiosk/reset", {}, token_from="/kiosk/")
    return client, forms


def test_a_kiosk_nobody_set_up_says_so_and_setup_needs_staff(desk, client, forms, page):
    client.get("/kiosk/")
    shown = page(client.get("/kiosk/ticket"))
    assert "还没有设置所在的服务站" in shown.text()
    assert client.get("/kiosk/setup").headers["Location"].startswith("/login")
    resident = make_user("13911119999")
    assert forms.post("/login", {"phone": resident.phone, "password": "correct-horse-42"}
                      ).status_code == 302
    assert client.get("/kiosk/setup").status_code == 403
    # A forged cookie is no station.
    client.set_cookie("tb_hall", "1.forged")
    assert "还没有设置" in page(client.get("/kiosk/ticket")).text()


def test_at_the_kiosk_a_booked_resident_scans_and_a_walk_in_takes_a_ticket(desk, page):
    client, forms = kiosk(desk.app, "13911110001", desk.a)
    booking = book_at(desk.a, desk.item, starts=time(9, 30))
    scanned = forms.post("/kiosk/ticket", {"code": f"http://x/bookings/{booking.ref}"},
                         token_from="/kiosk/ticket")
    assert scanned.status_code == 302
    ticket = ticket_of(booking)
    assert scanned.headers["Location"] == f"/tickets/{ticket.code}" and ticket.label == "B001"
    assert db.session.get(Booking, booking.id).status == "checked_in"
    again = forms.post("/kiosk/ticket", {"code": booking.ref}, token_from="/kiosk/ticket")
    assert again.headers["Location"] == scanned.headers["Location"]  # the same ticket again
    form = page(client.get("/kiosk/ticket/walk-in"))
    assert form.soup.select_one("#id_card") is None  # no ID number at a shared screen
    walked = forms.post("/kiosk/ticket/walk-in", {
        "key": form.soup.select_one("#key")["value"], "item": desk.own_item.id,
        "name": "周大妈", "phone": "13900005555", "priority": "y"},
        token_from="/kiosk/ticket/walk-in")
    assert walked.status_code == 302
    walk_in = db.session.scalar(select(Booking).where(Booking.phone == "13900005555"))
    assert walk_in.channel == "walkin" and walk_in.status == "checked_in"
    assert ticket_of(walk_in).label == "L001" and ticket_of(walk_in).priority
    printed = page(client.get(walked.headers["Location"]))
    assert printed.text("h1") == "L001" and printed.soup.select_one("img.qr")
    assert desk.own_item.name in printed.text()


def test_the_kiosk_refuses_what_it_cannot_check_in(desk, page):
    client, forms = kiosk(desk.app, "13911110001", desk.a)
    elsewhere = book_at(desk.b, desk.item)
    tomorrow = service.book(item=desk.own_item, station=desk.a,
                            day=local_today() + timedelta(days=1), starts=time(10, 0),
                            channel="online", name="钱", phone="13912345000", user_id=None,
                            idempotency_key=None, now=local_now())
    for code, said in ((elsewhere.ref, "不是在本站办理"), (tomorrow.ref, "不是今天"),
                       ("ZZZZZZZZ", "没有找到这个预约编号")):
        shown = page(forms.post("/kiosk/ticket", {"code": code}, token_from="/kiosk/ticket"))
        assert shown.status == 409 and said in shown.text(".error-summary"), code
    assert db.session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.station_id == desk.a.id)) == 0
    desk.a.capacity_walkin = 0
    db.session.commit()
    form = page(client.get("/kiosk/ticket/walk-in"))
    full = page(forms.post("/kiosk/ticket/walk-in", {
        "key": form.soup.select_one("#key")["value"], "item": desk.own_item.id,
        "name": "周", "phone": "13900005556"}, token_from="/kiosk/ticket/walk-in"))
    assert full.status == 409 and "现场办理名额已经用完" in full.text(".error-summary")


def test_a_skipped_person_scans_the_ticket_to_line_up_again(desk, page):
    client, forms = kiosk(desk.app, "13911110001", desk.a)
    booking = case_checked_in(desk, "walkin", "13900000051", minutes_before=10)
    case_checked_in(desk, "walkin", "13900000052", minutes_before=2)
    desk.clerk_a.post("/desk/call", {"window": "1"})
    ticket = ticket_of(booking)
    desk.clerk_a.post(f"/desk/tickets/{ticket.id}/skip", {"window": "1"})
    skipped = page(client.get(f"/tickets/{ticket.code}"))
    assert "已过号" in skipped.text(".ticket-state")
    back = forms.post("/kiosk/ticket", {"code": f"http://x/tickets/{ticket.code}"},
                      token_from="/kiosk/ticket")
    assert back.headers["Location"] == f"/tickets/{ticket.code}"
    again = ticket_of(booking)
    assert again.status == "waiting"
    assert tickets.ahead_of(again) == 1  # behind the one who stayed


# -- races ------------------------------------------------------------------------------------------

def test_windows_calling_at_the_same_instant_call_different_people(desk, wide_app):
    station = db.session.get(Station, desk.a.id)
    station.windows = 8
    db.session.commit()
    for n in range(5):
        case_checked_in(desk, "walkin", f"1390000{n:04d}", minutes_before=20 - n,
                        station=station)
    clerks = [make_user(f"1391333{n:04d}", "clerk", station=station) for n in range(8)]
    ids, station_id, day = [c.id for c in clerks], station.id, local_today()

    def call(k, barrier):
        from portal.accounts.models import User
        me, at = db.session.get(User, ids[k]), db.session.get(Station, station_id)
        barrier.wait()
        tickets.call_next(at, k + 1, me, day)

    outcomes = race(wide_app, len(ids), call, TicketRefused)
    assert outcomes.count("ok") == 5 and set(outcomes) == {"ok", "nobody"}, outcomes
    called = db.session.scalars(select(Ticket).where(Ticket.status == "called",
                                                     Ticket.station_id == station_id)).all()
    assert len(called) == 5 and len({t.window for t in called}) == 5
    assert all(t.calls == 1 for t in called)
    assert db.session.scalar(select(func.count()).select_from(BookingEvent).join(Booking).where(
        BookingEvent.action == "call", Booking.station_id == station_id)) == 5


def test_check_ins_at_the_same_instant_get_different_numbers(desk, wide_app):
    station = db.session.get(Station, desk.a.id)
    station.capacity_online = 30
    db.session.commit()
    booked = [book_at(station, db.session.get(ServiceItem, desk.item.id), phone=f"1366600{n:04d}")
              for n in range(12)]
    ids = [b.id for b in booked]

    def check_in(k, barrier):
        booking = db.session.get(Booking, ids[k])
        booking.station  # loaded before the race, as a page would have it
        barrier.wait()
        workflow.check_in(booking, None)

    outcomes = race(wide_app, len(ids), check_in, TicketRefused)
    assert outcomes == ["ok"] * 12
    numbers = sorted(db.session.scalars(select(Ticket.number).where(
        Ticket.prefix == "B", Ticket.station_id == station.id)))
    assert numbers == list(range(1, 13))


def test_over_http_kiosks_and_clerks_racing_never_share_a_number_or_a_person(
        app, database_url, tmp_path, town):
    """Against gunicorn (three worker processes, the real clock): eight kiosks take walk-in
    tickets at the same instant, then four windows press 叫号 at the same instant."""
    if local_now().time() > time(23, 40):
        pytest.skip("the walk-in slot under way: none in the day's last minutes")
    station = town.villages[4].station
    station.capacity_walkin, station.windows, station.slot_minutes = 20, 4, 5
    station.periods = [OpeningPeriod(weekday=d, opens=time(0, 0), closes=time(23, 55))
                       for d in range(7)]
    station.closed_days = []
    db.session.commit()
    phones = [make_user(f"1391444{n:04d}", "clerk", station=station).phone for n in range(4)]
    item_ids, station_id = [i.id for i in items(8)], station.id
    db.session.remove()
    with gunicorn(database_url, tmp_path, workers=3, threads=4) as base:
        kiosks = [Browser(base) for _ in range(8)]
        for browser in kiosks:  # each kiosk set up by the station's clerk
            browser.get("/kiosk/")
            browser.login(phones[0], "correct-horse-42")
            browser.post("/kiosk/setup", {"csrf_token": browser.token("/kiosk/setup"),
                                          "station": str(station_id)})
            browser.post("/kiosk/reset", {"csrf_token": browser.token("/kiosk/")})
        forms = []
        for browser in kiosks:
            html = browser.get("/kiosk/ticket/walk-in")
            forms.append({name: re.search(rf'name="{name}"[^>]*value="([^"]*)"', html).group(1)
                          for name in ("csrf_token", "key")})
        barrier, codes = threading.Barrier(8), [0] * 8

        def take(n):
            barrier.wait(timeout=60)
            codes[n] = kiosks[n].post("/kiosk/ticket/walk-in", {
                **forms[n], "item": str(item_ids[n]), "name": f"居民{n}",
                "phone": f"1355500{n:04d}"})

        _all(take, 8)
        assert codes == [302] * 8, codes
        desks = [Browser(base) for _ in range(4)]
        tokens = []
        for phone, browser in zip(phones, desks):
            browser.login(phone, "correct-horse-42")
            tokens.append(browser.token("/desk/"))
        barrier, calls = threading.Barrier(4), [0] * 4

        def call(n):
            barrier.wait(timeout=60)
            calls[n] = desks[n].post("/desk/call", {"csrf_token": tokens[n],
                                                    "window": str(n + 1)})

        _all(call, 4)
        assert calls == [302] * 4
    with app.app_context():
        taken = db.session.scalars(select(Ticket).where(Ticket.station_id == station_id)).all()
        assert sorted(t.number for t in taken) == list(range(1, 9))
        called = [t for t in taken if t.status == "called"]
        assert len(called) == 4 and sorted(t.window for t in called) == [1, 2, 3, 4]


def _all(work, n: int) -> None:
    threads = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
