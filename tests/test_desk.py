"""The clerk's desk: every transition and every refused one, per-station authorization,
walk-ins and phone callers, proxy handling, masking and audited reveal, no-shows, home
visits and the queue. The clock is frozen on a Tuesday morning (time-machine)."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from portal import refs
from portal.audit import AuditEvent
from portal.booking import service
from portal.booking.models import (STATUSES, Booking, HomeVisitRequest, OpenBookingCount,
                                   ServiceItem, SlotUsage)
from portal.desk import workflow
from portal.desk.workflow import TRANSITIONS, DeskRefused
from portal.extensions import db
from portal.notifications import Message
from portal.timeutil import local_now, local_today
from tests.conftest import TUESDAY_MORNING, make_user, parse, race

def book_today(station, item, phone="13912345678", starts=time(10, 0), name="钱居民"):
    return service.book(item=item, station=station, day=local_today(), starts=starts,
                        channel="online", name=name, phone=phone, user_id=None,
                        idempotency_key=None, now=local_now())


def fresh(booking: Booking) -> Booking:
    db.session.expire_all()
    return db.session.get(Booking, booking.id)


def flashed(response) -> str:
    return parse(response).text(".notice")


def holds(phone: str) -> int:
    return db.session.scalar(select(OpenBookingCount.open_count)
                             .where(OpenBookingCount.phone == phone)) or 0


# -- the whole path through the pages ------------------------------------------------------------

def test_check_in_accept_return_resume_and_complete(desk, page):
    booking = book_today(desk.a, desk.item)
    clerk = desk.clerk_a
    response = clerk.post("/desk/check-in", {"code": f" {booking.ref.lower()} "})
    assert response.headers["Location"].endswith(f"/desk/bookings/{booking.ref}")
    assert fresh(booking).status == "checked_in" and booking.checked_in_at is not None

    clerk.post(f"/desk/bookings/{booking.ref}/accept")
    booking = fresh(booking)
    assert booking.status == "accepted" and booking.responsible_id == clerk.user.id

    materials = booking.item.materials
    found = {f"m-{m.id}": "brought" for m in materials[:-2]}
    found[f"m-{materials[-2].id}"] = "not_needed"  # e.g. a proxy's papers, when in person
    clerk.post(f"/desk/bookings/{booking.ref}/materials", found)
    response = clerk.post(f"/desk/bookings/{booking.ref}/return", {"return-note": "请带户口簿原件"})
    assert response.headers["Location"].endswith(f"/desk/bookings/{booking.ref}/notice")
    notice = page(clerk.get(f"/desk/bookings/{booking.ref}/notice"))
    listed = notice.text(".missing")
    assert materials[-1].name in listed
    assert materials[0].name not in listed and materials[-2].name not in listed
    assert "请带户口簿原件" in notice.text() and "王窗口" in notice.text()
    assert fresh(booking).status == "returned" and holds(booking.phone) == 0

    clerk.post(f"/desk/bookings/{booking.ref}/resume")
    assert fresh(booking).status == "in_progress" and holds(booking.phone) == 1
    clerk.post(f"/desk/bookings/{booking.ref}/complete")
    booking = fresh(booking)
    assert booking.status == "completed" and booking.responsible_id == clerk.user.id
    assert holds(booking.phone) == 0
    steps = [e.action for e in booking.events]
    assert steps == ["book", "check_in", "ticket", "accept", "return", "resume", "complete"]
    told = " ".join(m.body for m in db.session.scalars(
        select(Message).where(Message.phone == booking.phone)))
    assert "首问负责人：王窗口" in told and materials[-1].name in told and "已办结" in told
    audited = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_id == str(booking.id), AuditEvent.object_type == "Booking")).all()
    assert {"booking.check_in", "booking.accept", "booking.materials", "booking.return",
            "booking.resume", "booking.complete"} <= set(audited)


def test_the_resident_sees_every_step_and_what_is_missing(desk, client, forms, page):
    booking = book_today(desk.a, desk.item)
    workflow.check_in(booking, desk.clerk_a.user)
    workflow.accept(booking, desk.clerk_a.user)
    workflow.return_for_supplement(booking, desk.clerk_a.user, "")
    response = forms.post(f"/bookings/{booking.ref}", {"ref": booking.ref, "phone4": "5678"},
                          token_from="/bookings/")
    status = page(client.get(response.headers["Location"]))
    assert "首问负责人：王窗口" in status.text()
    assert all(m.name in status.text("#missing-title + ul") for m in booking.item.materials)
    timeline = status.text(".timeline")
    for words in ("预约", "到场签到", "受理", "退回补正"):
        assert words in timeline


# -- every transition, and every refused one --------------------------------------------------------

def case_in(station, item, status: str, n: int) -> Booking:
    """A case at `station` today at 08:30 (its slot is over at 09:05), put in `status`."""
    booking = Booking(ref=refs.new_code(), item=item, station=station, day=local_today(),
                      starts=time(8, 30), ends=time(9, 0), channel="walkin", status=status,
                      name="测试", phone=f"1370000{n:04d}")
    db.session.add(booking)
    db.session.commit()
    return booking


CALLS = {
    "check_in": lambda b, u: workflow.check_in(b, u),
    "accept": lambda b, u: workflow.accept(b, u),
    "start": lambda b, u: workflow.start(b, u),
    "complete": lambda b, u: workflow.complete(b, u),
    "return": lambda b, u: workflow.return_for_supplement(b, u, "缺材料"),
    "resume": lambda b, u: workflow.resume(b, u),
    "reject": lambda b, u: workflow.reject(b, u, "不符合条件"),
    "forward": lambda b, u: workflow.forward(b, u),
    "no_show": lambda b, u: workflow.mark_no_show(b, u),
}


@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_each_action_from_every_state(desk, action):
    froms, to = TRANSITIONS[action]
    for n, status in enumerate(STATUSES):
        booking = case_in(desk.a, desk.item, status, n)
        if status in froms:
            CALLS[action](booking, desk.clerk_a.user)
            assert fresh(booking).status == to, (action, status)
            step = [e for e in booking.events if e.action == action]  # (a check-in: a ticket too)
            assert len(step) == 1 and step[0].from_status == status
        else:
            with pytest.raises(DeskRefused) as refused:
                CALLS[action](booking, desk.clerk_a.user)
            assert refused.value.code == "invalid", (action, status)
            assert fresh(booking).status == status and not booking.events


def test_refused_steps_through_the_pages_say_why_and_change_nothing(desk):
    clerk = desk.clerk_a
    cancelled = case_in(desk.a, desk.item, "cancelled", 1)
    response = clerk.post(f"/desk/bookings/{cancelled.ref}/complete", follow_redirects=True)
    assert "已取消" in flashed(response) and "不能办结" in flashed(response)
    assert fresh(cancelled).status == "cancelled"
    accepted = case_in(desk.a, desk.item, "checked_in", 2)
    clerk.post(f"/desk/bookings/{accepted.ref}/accept")
    response = clerk.post(f"/desk/bookings/{accepted.ref}/accept", follow_redirects=True)
    assert "已受理" in flashed(response) and "不能受理" in flashed(response)
    assert [e.action for e in fresh(accepted).events] == ["accept"]


def test_rejecting_needs_a_reason_which_the_resident_sees(desk, page):
    booking = case_in(desk.a, desk.item, "accepted", 1)
    empty = page(desk.clerk_a.post(f"/desk/bookings/{booking.ref}/reject", {"reject-note": " "}))
    assert empty.status == 422 and "请写明不予办理的理由" in empty.text(".error-summary")
    desk.clerk_a.post(f"/desk/bookings/{booking.ref}/reject", {"reject-note": "不在本镇户籍"})
    assert fresh(booking).status == "rejected"
    assert booking.events[-1].note == "不在本镇户籍"


def test_a_return_with_nothing_missing_must_say_what_is_needed(desk):
    booking = case_in(desk.a, desk.item, "accepted", 1)
    workflow.record_materials(booking, desk.clerk_a.user,
                              {m.id: "brought" for m in booking.item.materials[1:]})
    assert [m.name for m in service.missing_materials(booking)] == [booking.item.materials[0].name]
    workflow.record_materials(booking, desk.clerk_a.user,
                              {booking.item.materials[0].id: "not_needed", 10**6: "brought"})
    assert service.missing_materials(booking) == []
    with pytest.raises(DeskRefused) as refused:
        workflow.return_for_supplement(booking, desk.clerk_a.user, "")
    assert refused.value.code == "nothing_missing"
    assert workflow.return_for_supplement(booking, desk.clerk_a.user, "需本人到场签字") == ["需本人到场签字"]
    assert fresh(booking).supplement_note == "需本人到场签字"


def test_no_show_only_after_the_slot_and_it_frees_the_persons_hold(desk, clock):
    booking = book_today(desk.a, desk.item)
    assert holds(booking.phone) == 1
    with pytest.raises(DeskRefused) as refused:
        workflow.mark_no_show(booking, desk.clerk_a.user)
    assert refused.value.code == "too_early"
    clock.move_to(TUESDAY_MORNING.replace(hour=10, minute=31))
    desk.clerk_a.post(f"/desk/bookings/{booking.ref}/no_show")
    assert fresh(booking).status == "no_show" and holds(booking.phone) == 0


def test_a_caller_past_the_online_cut_off_is_cancelled_at_the_desk_until_the_slot(desk, page):
    booking = book_today(desk.a, desk.item)  # 10:00; the clock says 09:05
    with pytest.raises(service.BookingRefused) as online:
        service.cancel(booking, now=local_now(), actor_id=None)
    assert online.value.code == "cutoff"
    url = f"/desk/bookings/{booking.ref}/cancel"
    assert page(desk.clerk_a.get(f"/desk/bookings/{booking.ref}")).soup.select_one(
        f'form[action="{url}"]') is not None
    assert desk.clerk_b.post(url, {"cancel-note": "本人来电"}).status_code == 404
    blank = page(desk.clerk_a.post(url, {"cancel-note": " "}))
    assert blank.status == 422 and "请写明谁要求取消" in blank.text(".error-summary")
    assert fresh(booking).status == "booked"

    desk.clerk_a.post(url, {"cancel-note": "本人来电，家里有事"})
    booking = fresh(booking)
    assert booking.status == "cancelled" and holds(booking.phone) == 0
    assert booking.events[-1].actor_id == desk.clerk_a.user.id
    assert booking.events[-1].note == "本人来电，家里有事"
    assert db.session.scalar(select(SlotUsage.taken).where(
        SlotUsage.station_id == desk.a.id, SlotUsage.day == booking.day,
        SlotUsage.starts == booking.starts)) == 0
    assert any("已取消" in body for body in db.session.scalars(
        select(Message.body).where(Message.phone == booking.phone)))
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "booking.cancel_at_desk")).actor_id == desk.clerk_a.user.id
    again = desk.clerk_a.post(url, {"cancel-note": "再点一次"}, follow_redirects=True)
    assert "不能再取消" in flashed(again)

    begun = case_in(desk.a, desk.item, "booked", 2)  # 08:30, already begun
    with pytest.raises(DeskRefused) as late:
        workflow.cancel_for_caller(begun, desk.clerk_a.user, "来电")
    assert late.value.code == "started" and fresh(begun).status == "booked"


def test_check_in_only_on_the_booked_day(desk):
    booking = service.book(item=desk.item, station=desk.a, day=local_today() + timedelta(days=1),
                           starts=time(10, 0), channel="online", name="钱", phone="13912345678",
                           user_id=None, idempotency_key=None, now=local_now())
    response = desk.clerk_a.post("/desk/check-in", {"code": booking.ref}, follow_redirects=True)
    assert "11月25日" in flashed(response) and fresh(booking).status == "booked"


def test_a_scanned_status_url_checks_in_too(desk):
    booking = book_today(desk.a, desk.item)
    desk.clerk_a.post("/desk/check-in", {"code": f"https://tongban.example/bookings/{booking.ref}"})
    assert fresh(booking).status == "checked_in"


# -- two clerks at the same moment ---------------------------------------------------------------

def test_two_clerks_accepting_at_once_leave_exactly_one_responsible(desk, wide_app):
    from portal.places.models import Station
    station = db.session.get(Station, desk.a.id)  # this app context's session
    booking = case_in(station, db.session.get(ServiceItem, desk.item.id), "checked_in", 1)
    clerks = [make_user(f"1391222{n:04d}", "clerk", station=station) for n in range(8)]
    ids = [c.id for c in clerks]

    def accept(k, barrier):
        from portal.accounts.models import User
        me, case = db.session.get(User, ids[k]), db.session.get(Booking, booking.id)
        barrier.wait()
        workflow.accept(case, me)

    outcomes = race(wide_app, len(ids), accept, DeskRefused)
    assert outcomes.count("ok") == 1 and len(outcomes) == 8
    assert set(outcomes) <= {"ok", "conflict", "invalid"}
    booking = fresh(booking)
    assert booking.status == "accepted" and booking.responsible_id in ids
    assert [e.action for e in booking.events] == ["accept"]


# -- who may see and act ---------------------------------------------------------------------------

def test_a_clerk_of_another_station_gets_404_for_everything(desk):
    booking = book_today(desk.a, desk.item)
    other = desk.clerk_b
    for url in (f"/desk/bookings/{booking.ref}", f"/desk/bookings/{booking.ref}/notice",
                f"/desk/?station={desk.a.id}", f"/desk/stats?station={desk.a.id}",
                f"/desk/stats.csv?station={desk.a.id}", f"/desk/walk-in?station={desk.a.id}"):
        assert other.get(url).status_code == 404, url
    for action in ("check_in", "accept", "reject", "return", "materials", "proxy", "reveal",
                   "cancel"):
        response = other.post(f"/desk/bookings/{booking.ref}/{action}")
        assert response.status_code == 404, action
    response = other.post("/desk/check-in", {"code": booking.ref}, follow_redirects=True)
    assert "本站没有" in flashed(response)
    assert fresh(booking).status == "booked"


def test_town_staff_watch_villages_and_finish_what_was_forwarded(desk, page):
    booking = case_in(desk.a, desk.item, "checked_in", 1)
    centre = desk.centre
    assert centre.get(f"/desk/bookings/{booking.ref}").status_code == 200
    response = centre.post(f"/desk/bookings/{booking.ref}/accept", follow_redirects=True)
    assert "不由您办理" in flashed(response) and fresh(booking).status == "checked_in"
    workflow.accept(booking, desk.clerk_a.user)
    desk.clerk_a.post(f"/desk/bookings/{booking.ref}/forward", {"forward-note": "需民政办审核"})
    assert fresh(booking).status == "forwarded"
    queue = page(centre.get("/desk/"))
    assert booking.ref in queue.text("#queue")
    response = desk.clerk_a.post(f"/desk/bookings/{booking.ref}/complete", follow_redirects=True)
    assert "不由您办理" in flashed(response) and fresh(booking).status == "forwarded"
    centre.post(f"/desk/bookings/{booking.ref}/complete")
    booking = fresh(booking)
    assert booking.status == "completed" and booking.responsible_id == desk.clerk_a.user.id
    assert booking.events[-1].actor_id == centre.user.id


def test_the_queue_shows_the_own_station_only_and_refreshes_as_a_fragment(desk, page):
    mine = book_today(desk.a, desk.item)
    theirs = book_today(desk.b, desk.item, phone="13912340000")
    workflow.check_in(case_in(desk.a, desk.own_item, "booked", 7), desk.clerk_a.user)
    full = page(desk.clerk_a.get("/desk/"))
    assert mine.ref in full.text("#queue") and theirs.ref not in full.text()
    assert "已等0分钟" in full.text("#q-waiting + div")
    assert full.soup.select_one("#queue")["hx-trigger"].startswith("every")
    fragment = desk.clerk_a.get("/desk/", headers={"HX-Request": "true"})
    assert b"<html" not in fragment.data and mine.ref.encode() in fragment.data
    assert "139****5678" in full.text() and mine.phone not in full.text()


def test_the_queue_refreshing_itself_does_not_keep_an_idle_desk_signed_in(desk, clock):
    poll = {"HX-Request": "true", "X-Background-Refresh": "1",
            "HX-Current-URL": "http://localhost/desk/?station=1"}
    person = {"HX-Request": "true"}  # the same fragment, fetched because someone clicked
    other = desk.clerk_b  # the control: a desk someone uses
    for minutes in (50, 100):
        clock.move_to(TUESDAY_MORNING + timedelta(minutes=minutes))
        assert desk.clerk_a.get("/desk/", headers=poll).status_code == 200
        assert other.get("/desk/", headers=person).status_code == 200
    clock.move_to(TUESDAY_MORNING + timedelta(minutes=125))  # 2 h 5 min after the last click
    ended = desk.clerk_a.get("/desk/", headers=poll)
    assert ended.status_code == 200 and ended.data == b""
    assert ended.headers["HX-Redirect"] == "/login?next=/desk/?station%3D1"
    assert desk.clerk_a.get("/desk/").headers["Location"].startswith("/login")
    assert other.get("/desk/", headers=poll).status_code == 200


# -- bookings made at the desk -------------------------------------------------------------------

def test_a_walk_in_uses_the_walk_in_reserve_and_is_checked_in(desk, page):
    form = page(desk.clerk_a.get("/desk/walk-in"))
    response = desk.clerk_a.post("/desk/walk-in", {
        "key": form.soup.select_one("#key")["value"], "item": desk.own_item.id,
        "name": "孙大爷", "phone": "139 0000 1111", "id_card": ""})
    ref = re.search(r"/desk/bookings/(\w+)", response.headers["Location"]).group(1)
    booking = db.session.scalar(select(Booking).where(Booking.ref == ref))
    assert booking.channel == "walkin" and booking.status == "checked_in"
    assert booking.starts == time(9, 0)  # the slot under way at 09:05
    used = db.session.scalar(select(SlotUsage.taken).where(
        SlotUsage.station_id == desk.a.id, SlotUsage.day == local_today(),
        SlotUsage.starts == time(9, 0), SlotUsage.pool == "walkin"))
    assert used == 1
    again = page(desk.clerk_a.post("/desk/walk-in", {
        "key": "another", "item": desk.own_item.id, "name": "孙大爷", "phone": "13900001111"}))
    assert again.status == 409 and "已经预约了这个事项" in again.text(".error-summary")


def test_walk_ins_are_refused_clearly_when_the_reserve_is_used_up(desk, page):
    desk.a.capacity_walkin = 0
    db.session.commit()
    p = page(desk.clerk_a.post("/desk/walk-in", {"key": "k1", "item": desk.own_item.id,
                                                  "name": "孙", "phone": "13900001111"}))
    assert p.status == 409 and "现场办理名额已经用完" in p.text(".error-summary")
    bad = page(desk.clerk_a.post("/desk/walk-in", {"key": "k2", "item": 0, "name": "",
                                                    "phone": "12", "id_card": "123"}))
    assert bad.status == 422 and len(bad.errors()) >= 3


def test_a_phone_caller_is_booked_from_the_phone_capacity(desk, page):
    picked = page(desk.clerk_a.post("/desk/phone-booking", {"pick": "1",
                                                            "day": local_today().isoformat()}))
    slot = picked.soup.select("#slot option")[1]["value"]
    key = picked.soup.select_one("#key")["value"]
    response = desk.clerk_a.post("/desk/phone-booking", {
        "key": key, "item": desk.item.id, "day": local_today().isoformat(), "slot": slot,
        "name": "来电居民", "phone": "13800138000", "id_card": "11010519491231002X"})
    assert response.status_code == 302
    booking = db.session.scalar(select(Booking).where(Booking.phone == "13800138000"))
    assert booking.channel == "phone" and booking.id_card == "11010519491231002X"
    assert db.session.scalar(select(SlotUsage.pool).where(
        SlotUsage.station_id == desk.a.id, SlotUsage.day == booking.day,
        SlotUsage.starts == booking.starts, SlotUsage.taken == 1)) == "phone"
    case = page(desk.clerk_a.get(f"/desk/bookings/{booking.ref}"))
    assert "11010519491231002X" not in case.text() and "1101" in case.text("#person")


# -- proxy handling, masking, the audited reveal --------------------------------------------------

def test_proxy_handling_is_recorded_where_the_item_allows_it(desk, page):
    booking = case_in(desk.a, desk.item, "accepted", 1)
    desk.clerk_a.post(f"/desk/bookings/{booking.ref}/proxy", {
        "proxy_name": "钱小明", "proxy_phone": "13600001234", "relation": "child"})
    booking = fresh(booking)
    assert (booking.proxy_name, booking.proxy_relation) == ("钱小明", "child")
    case = page(desk.clerk_a.get(f"/desk/bookings/{booking.ref}"))
    assert "钱小明（子女）" in case.text("#person") and "136****1234" in case.text("#person")
    bad = page(desk.clerk_a.post(f"/desk/bookings/{booking.ref}/proxy", {"proxy_name": "x"}))
    assert bad.status == 422 and "请选择与申请人的关系" in bad.text(".error-summary")
    own = case_in(desk.a, desk.own_item, "accepted", 2)
    assert page(desk.clerk_a.get(f"/desk/bookings/{own.ref}")).soup.select_one("#proxy-title") is None
    response = desk.clerk_a.post(f"/desk/bookings/{own.ref}/proxy", {
        "proxy_name": "钱小明", "proxy_phone": "13600001234", "relation": "child"},
        follow_redirects=True)
    assert "须本人办理" in flashed(response) and fresh(own).proxy_name is None


def test_phone_numbers_are_masked_until_revealed_on_purpose(desk, page):
    booking = book_today(desk.a, desk.item)
    case = page(desk.clerk_a.get(f"/desk/bookings/{booking.ref}"))
    assert "139****5678" in case.text("#person") and "13912345678" not in case.text()
    shown = page(desk.clerk_a.post(f"/desk/bookings/{booking.ref}/reveal"))
    assert "13912345678" in shown.text("#person")
    entry = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "booking.reveal"))
    assert entry.actor_id == desk.clerk_a.user.id and entry.object_id == str(booking.id)
    assert "13912345678" not in entry.detail
    assert "13912345678" not in page(desk.clerk_a.get(f"/desk/bookings/{booking.ref}")).text()


# -- home visits ---------------------------------------------------------------------------------

def test_home_visits_are_scheduled_and_recorded_by_the_own_station(desk, page):
    visit = HomeVisitRequest(item=desk.item, station=desk.a, name="周奶奶", phone="13700001111",
                             address="东岭村3组", reason="elderly")
    db.session.add(visit)
    db.session.commit()
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    assert desk.clerk_b.post(f"/desk/home-visits/{visit.id}/schedule",
                             {"day": tomorrow, "at": "10:00"}).status_code == 404
    past = desk.clerk_a.post(f"/desk/home-visits/{visit.id}/schedule",
                             {"day": "2026-11-01", "at": "10:00"}, follow_redirects=True)
    assert "不能早于今天" in flashed(past)
    desk.clerk_a.post(f"/desk/home-visits/{visit.id}/schedule", {"day": tomorrow, "at": "10:00"})
    db.session.refresh(visit)
    assert visit.status == "scheduled" and visit.visit_at == datetime(2026, 11, 25, 10, 0)
    told = db.session.scalar(select(Message.body).where(Message.phone == "13700001111"))
    assert "11月25日 10:00" in told and "王窗口" in told
    desk.clerk_a.post(f"/desk/home-visits/{visit.id}/done", {"outcome": "已上门办理并收取材料"})
    db.session.refresh(visit)
    assert visit.status == "done" and visit.outcome == "已上门办理并收取材料"
    listing = page(desk.clerk_b.get("/desk/home-visits"))
    assert "周奶奶" not in listing.text()


def test_desk_pages_are_whole_pages_with_one_h1(desk, page):
    booking = case_in(desk.a, desk.item, "returned", 1)
    for url in ("/desk/", "/desk/walk-in", "/desk/phone-booking", "/desk/home-visits",
                "/desk/follow-ups", "/desk/stats", f"/desk/bookings/{booking.ref}",
                f"/desk/bookings/{booking.ref}/notice"):
        assert page(desk.clerk_a.get(url)).status == 200, url
    assert page(desk.centre.get("/desk/")).status == 200
    assert db.session.scalar(select(func.count()).select_from(Booking)) > 0
