"""Volunteer service: places and the waitlist (also under concurrency), clashes and the
cut-off, attendance and the history of every hours decision, star levels at the thresholds,
the wish and order state machines, who may see and do what, and the pages around them."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.accounts.validation import mask_id_card
from portal.audit import AuditEvent
from portal.extensions import db
from portal.notifications import Message
from portal.timeutil import local_now
from portal.volunteer import hours, orders, signups, wishes
from portal.volunteer.models import (
    Activity,
    Coordination,
    HourRecord,
    ServiceOffer,
    ServiceOrder,
    SignUp,
    Team,
    Volunteer,
    VolunteerStation,
    Wish,
)
from portal.volunteer.signups import VolunteerRefused
from tests.conftest import PASSWORD, SHANGHAI, Forms, make_user, race, sign_in

TUESDAY = date(2026, 11, 24)  # the `clock` fixture's day (09:05 Asia/Shanghai)


def id_card(n: int) -> str:
    from portal.accounts.validation import id_card_check_char
    first17 = f"33010019900101{n % 1000:03d}"
    return first17 + id_card_check_char(first17)


def make_volunteer(phone: str, name: str = "志愿者", teams=()) -> Volunteer:
    user = make_user(phone, name=name)
    volunteer = Volunteer(user_id=user.id, real_name=name, id_card=id_card(int(phone[-4:])),
                          gender="female", skills="digital", availability="weekend")
    volunteer.teams = list(teams)
    db.session.add(volunteer)
    db.session.commit()
    return volunteer


@pytest.fixture
def vol(clock, app):
    """Two teams and two stations; a coordinator of team A and station A only."""
    team_a, team_b = Team(name="数码助老队"), Team(name="健康义诊队")
    station_a = VolunteerStation(name="东岭驿站", address="东岭村村委会")
    station_b = VolunteerStation(name="西河驿站", address="西河村礼堂")
    db.session.add_all([team_a, team_b, station_a, station_b])
    db.session.commit()
    coordinator = sign_in(app, "13922220001", "coordinator", name="孙协调")
    db.session.add_all([Coordination(user_id=coordinator.user.id, team_id=team_a.id),
                        Coordination(user_id=coordinator.user.id, station_id=station_a.id)])
    db.session.commit()

    def activity(capacity=2, day=TUESDAY + timedelta(days=2), starts=time(9), ends=time(11),
                 team=team_a, station=station_a, title="教老人用手机", weeks=1):
        return signups.create(team=team, station=station, title=title, place="村委会",
                              day=day, starts=starts, ends=ends, capacity=capacity,
                              now=local_now(), actor_id=None, weeks=weeks)[0]

    return SimpleNamespace(team_a=team_a, team_b=team_b, station_a=station_a,
                           station_b=station_b, coordinator=coordinator, activity=activity)


def counters(activity: Activity) -> tuple[int, int, int, int]:
    """(taken, waiting) as kept, and as counted from the sign-ups."""
    db.session.expire_all()
    fresh = db.session.get(Activity, activity.id)
    count = lambda status: db.session.scalar(select(func.count()).select_from(SignUp).where(
        SignUp.activity_id == activity.id, SignUp.status == status))
    return fresh.taken, fresh.waiting, count("confirmed"), count("waitlisted")


# -- places, the waitlist, clashes, the cut-off -----------------------------------------------------

def test_places_fill_then_the_waitlist_and_each_freed_place_promotes_the_first_waiting(vol):
    act = vol.activity(capacity=2)
    a, b, c, d = (make_volunteer(f"1390000000{n}", f"人{n}") for n in range(4))
    assert [signups.sign_up(act, v, now=local_now()).status for v in (a, b, c, d)] == [
        "confirmed", "confirmed", "waitlisted", "waitlisted"]
    assert counters(act) == (2, 2, 2, 2)

    mine = db.session.scalar(select(SignUp).where(SignUp.volunteer_id == a.id))
    promoted = signups.cancel(mine, now=local_now())
    assert promoted.volunteer_id == c.id and promoted.status == "confirmed"
    assert counters(act) == (2, 1, 2, 1)
    told = db.session.scalars(select(Message.body).where(Message.user_id == c.user_id)).all()
    assert len(told) == 1 and "候补成功" in told[0] and promoted.code in told[0]

    waiting = db.session.scalar(select(SignUp).where(SignUp.volunteer_id == d.id))
    assert signups.cancel(waiting, now=local_now()) is None  # leaving the waitlist frees nothing
    assert counters(act) == (2, 0, 2, 0)
    second = db.session.scalar(select(SignUp).where(SignUp.volunteer_id == b.id))
    assert signups.cancel(second, now=local_now()) is None
    assert counters(act) == (1, 0, 1, 0)
    with pytest.raises(VolunteerRefused) as again:
        signups.cancel(second, now=local_now())
    assert again.value.code == "not_active"


def test_signing_up_twice_keeps_one_place_and_signing_up_again_after_cancelling_works(vol):
    act = vol.activity(capacity=3)
    v = make_volunteer("13900000011")
    first = signups.sign_up(act, v, now=local_now())
    assert signups.sign_up(act, v, now=local_now()).id == first.id
    assert counters(act) == (1, 0, 1, 0)
    signups.cancel(first, now=local_now())
    again = signups.sign_up(act, v, now=local_now())
    assert again.id == first.id and again.status == "confirmed" and counters(act) == (1, 0, 1, 0)


def test_overlapping_activities_are_refused_even_from_the_waitlist(vol):
    morning = vol.activity(capacity=1, starts=time(9), ends=time(11), title="上午")
    overlapping = vol.activity(capacity=5, starts=time(10, 30), ends=time(12), title="交叉")
    after = vol.activity(capacity=5, starts=time(11), ends=time(12), title="紧接着")
    other_day = vol.activity(capacity=5, day=TUESDAY + timedelta(days=3), title="另一天")
    signups.sign_up(morning, make_volunteer("13900000021"), now=local_now())
    v = make_volunteer("13900000022")
    assert signups.sign_up(morning, v, now=local_now()).status == "waitlisted"
    with pytest.raises(VolunteerRefused) as clash:
        signups.sign_up(overlapping, v, now=local_now())
    assert clash.value.code == "clash" and "上午" in str(clash.value.message)
    assert signups.sign_up(after, v, now=local_now()).status == "confirmed"  # touching is fine
    assert signups.sign_up(other_day, v, now=local_now()).status == "confirmed"


def test_cancelling_a_place_closes_at_the_cut_off_but_the_waitlist_can_always_be_left(vol, clock):
    act = vol.activity(capacity=1, day=TUESDAY, starts=time(12), ends=time(13))
    holder, waiting = make_volunteer("13900000031"), make_volunteer("13900000032")
    place = signups.sign_up(act, holder, now=local_now())
    queued = signups.sign_up(act, waiting, now=local_now())
    clock.move_to(datetime(2026, 11, 24, 10, 30, tzinfo=SHANGHAI))  # 90 minutes before
    with pytest.raises(VolunteerRefused) as late:
        signups.cancel(place, now=local_now())
    assert late.value.code == "cutoff"
    assert signups.cancel(queued, now=local_now()) is None
    clock.move_to(datetime(2026, 11, 24, 12, 1, tzinfo=SHANGHAI))
    with pytest.raises(VolunteerRefused) as started:
        signups.sign_up(act, make_volunteer("13900000033"), now=local_now())
    assert started.value.code == "started"


def test_after_the_cut_off_the_coordinator_releases_a_place_and_the_next_in_line_moves_up(
        vol, app, clock, page):
    act = vol.activity(capacity=1, day=TUESDAY, starts=time(12), ends=time(13))
    holder = make_volunteer("13900000034", "钱阿姨")
    waiting = make_volunteer("13900000035", "周师傅")
    place = signups.sign_up(act, holder, now=local_now())
    signups.sign_up(act, waiting, now=local_now())
    clock.move_to(datetime(2026, 11, 24, 10, 30, tzinfo=SHANGHAI))  # past the cut-off
    url = f"/volunteer/manage/activities/{act.id}/signups/{place.id}/release"
    roster = page(vol.coordinator.get(f"/volunteer/manage/activities/{act.id}"))
    assert roster.soup.select_one(f'form[action="{url}"]') is not None

    assert vol.coordinator.post(url, {"reason": " "}).status_code == 302  # no reason: nothing
    assert counters(act) == (1, 1, 1, 1)
    sized = page(vol.coordinator.post(f"/volunteer/manage/activities/{act.id}/capacity",
                                      {"capacity": "0"}, follow_redirects=True))
    assert "名额要在1到500之间" in sized.text(".notice") and counters(act) == (1, 1, 1, 1)
    other = sign_in(app, "13900000102", "coordinator", name="别的协调员")
    assert other.post(url, {"reason": "越权"}).status_code == 404
    elsewhere = vol.activity(capacity=3, title="另一个活动", day=TUESDAY + timedelta(days=4))
    assert vol.coordinator.post(f"/volunteer/manage/activities/{elsewhere.id}/signups/{place.id}"
                                "/release", {"reason": "x"}).status_code == 404
    assert counters(act) == (1, 1, 1, 1)

    done = page(vol.coordinator.post(url, {"reason": "家里有事，来电请假"}, follow_redirects=True))
    assert "已取消钱阿姨的报名" in done.text() and "周师傅已递补" in done.text()
    assert counters(act) == (1, 0, 1, 0)
    told = db.session.scalars(select(Message.body).where(Message.user_id == holder.user_id)).all()
    assert len(told) == 1 and "家里有事，来电请假" in told[0]
    assert any("候补成功" in body for body in db.session.scalars(
        select(Message.body).where(Message.user_id == waiting.user_id)))
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "volunteer.signup_release"))
    assert event.actor_id == vol.coordinator.user.id
    again = page(vol.coordinator.post(url, {"reason": "再点一次"}, follow_redirects=True))
    assert "这个报名已经取消了" in again.text() and counters(act) == (1, 0, 1, 0)


@pytest.mark.parametrize("change, code", [
    ({"day": TUESDAY - timedelta(days=1)}, "past"),
    ({"day": TUESDAY, "starts": time(9)}, "past"),  # the clock says 09:05
    ({"starts": time(11), "ends": time(9)}, "ends_first"),
    ({"capacity": 0}, "capacity"),
    ({"weeks": 27}, "weeks"),
])
def test_bad_activities_are_refused(vol, change, code):
    with pytest.raises(VolunteerRefused) as refused:
        vol.activity(**change)
    assert refused.value.code == code


def test_a_weekly_series_is_one_activity_per_week_each_with_its_own_places(vol):
    first = vol.activity(capacity=4, weeks=4)
    series = db.session.scalars(select(Activity).where(Activity.series == first.series)
                                .order_by(Activity.day)).all()
    assert [a.day for a in series] == [first.day + timedelta(weeks=w) for w in range(4)]
    assert all(a.capacity == 4 and a.taken == 0 for a in series)


def test_more_places_promote_the_waitlist_and_fewer_than_taken_are_refused(vol):
    act = vol.activity(capacity=1)
    people = [make_volunteer(f"139000000{40 + n}") for n in range(4)]
    for v in people:
        signups.sign_up(act, v, now=local_now())
    assert counters(act) == (1, 3, 1, 3)
    promoted = signups.change_capacity(act, 3, now=local_now(), actor_id=None)
    assert [s.volunteer_id for s in promoted] == [people[1].id, people[2].id]
    assert counters(act) == (3, 1, 3, 1)
    with pytest.raises(VolunteerRefused) as fewer:
        signups.change_capacity(act, 2, now=local_now(), actor_id=None)
    assert fewer.value.code == "below_taken"
    started = signups.starts_at(act)
    for late in (lambda: signups.change_capacity(act, 5, now=started, actor_id=None),
                 lambda: signups.cancel_activity(act, "下雨", now=started, actor_id=None)):
        with pytest.raises(VolunteerRefused) as refused:
            late()
        assert refused.value.code == "started"
    assert counters(act) == (3, 1, 3, 1)
    assert signups.cancel_activity(act, "下雨", now=local_now(), actor_id=None) == 4
    assert counters(act) == (0, 0, 0, 0)


# -- concurrency -------------------------------------------------------------------------------

@pytest.fixture
def crowd(clock, wide_app):
    team, station = Team(name="队"), VolunteerStation(name="站")
    db.session.add_all([team, station])
    db.session.commit()
    people = [make_volunteer(f"1388888{n:04d}", f"人{n}") for n in range(24)]
    act = signups.create(team=team, station=station, title="抢名额", place="广场",
                         day=TUESDAY + timedelta(days=1), starts=time(9), ends=time(10),
                         capacity=5, now=local_now(), actor_id=None)[0]
    return SimpleNamespace(app=wide_app, act=act, people=[p.id for p in people])


def test_no_activity_is_ever_over_capacity_whatever_the_concurrency(crowd):
    def work(k, barrier):
        volunteer = db.session.get(Volunteer, crowd.people[k])
        activity = db.session.get(Activity, crowd.act.id)
        barrier.wait()
        signups.sign_up(activity, volunteer, now=local_now())

    outcomes = race(crowd.app, 24, work, VolunteerRefused)
    assert outcomes == ["ok"] * 24
    assert counters(crowd.act) == (5, 19, 5, 19)


def test_concurrent_cancellations_promote_each_waiting_volunteer_exactly_once(crowd):
    for k in range(10):  # 5 places taken, 5 waiting
        signups.sign_up(db.session.get(Activity, crowd.act.id),
                        db.session.get(Volunteer, crowd.people[k]), now=local_now())
    holders = db.session.scalars(select(SignUp.id).where(
        SignUp.activity_id == crowd.act.id, SignUp.status == "confirmed")).all()

    def work(k, barrier):
        signup = db.session.get(SignUp, holders[k])
        barrier.wait()
        signups.cancel(signup, now=local_now())

    assert race(crowd.app, 5, work, VolunteerRefused) == ["ok"] * 5
    assert counters(crowd.act) == (5, 0, 5, 0)
    promoted = db.session.scalars(select(SignUp).where(SignUp.promoted_at.is_not(None))).all()
    assert sorted(s.volunteer_id for s in promoted) == sorted(crowd.people[5:10])
    told = db.session.scalars(select(Message.user_id).where(Message.kind == "volunteer")).all()
    assert len(told) == len(set(told)) == 5  # each told once


def test_two_volunteers_racing_for_one_wish_one_wins(clock, wide_app):
    team, station = Team(name="队"), VolunteerStation(name="站")
    db.session.add_all([team, station])
    db.session.commit()
    resident = make_user("13877770000")
    wish = wishes.post_wish(user=resident, station=station, title="老花镜", story="看不清字",
                            value_yuan=50, address="村东")
    wishes.screen(wish, actor_id=resident.id, approve=True, public_name="王奶奶")
    people = [make_volunteer(f"1387777{n:04d}").id for n in range(1, 7)]

    def work(k, barrier):
        volunteer, found = db.session.get(Volunteer, people[k]), db.session.get(Wish, wish.id)
        barrier.wait()
        wishes.claim(found, volunteer, team=None, member_teams=set())

    outcomes = race(wide_app, 6, work, VolunteerRefused)
    assert sorted(outcomes) == ["ok"] + ["taken"] * 5


# -- attendance and hours --------------------------------------------------------------------

def test_check_in_and_out_by_code_records_hours_and_every_decision_is_kept(vol, clock):
    act = vol.activity(capacity=3, day=TUESDAY, starts=time(10, 30), ends=time(12, 30))
    v = make_volunteer("13900000051", "陈小红")
    signup = signups.sign_up(act, v, now=local_now())
    with pytest.raises(VolunteerRefused) as early:  # 09:05: more than an hour before
        hours.scan(act, signup.code, now=local_now(), actor_id=None)
    assert early.value.code == "window"
    clock.move_to(datetime(2026, 11, 24, 10, 22, tzinfo=SHANGHAI))
    assert hours.scan(act, signup.code.lower(), now=local_now(), actor_id=None)[1] == "in"
    clock.move_to(datetime(2026, 11, 24, 12, 50, tzinfo=SHANGHAI))
    assert hours.scan(act, f" {signup.code[:3]}-{signup.code[3:]} ", now=local_now(),
                      actor_id=None)[1] == "out"
    with pytest.raises(VolunteerRefused) as twice:
        hours.scan(act, signup.code, now=local_now(), actor_id=None)
    assert twice.value.code == "done"
    with pytest.raises(VolunteerRefused) as unknown:
        hours.scan(act, "VXXXXXXXX", now=local_now(), actor_id=None)
    assert unknown.value.code == "unknown"

    record = db.session.scalar(select(HourRecord).where(HourRecord.volunteer_id == v.id))
    assert record.minutes == 120 and record.status == "pending"  # clipped to 10:30–12:30
    coordinator = vol.coordinator.user
    hours.decide(record, "approve", actor_id=coordinator.id)
    with pytest.raises(VolunteerRefused) as reasonless:
        hours.decide(record, "adjust", actor_id=coordinator.id, minutes=90)
    assert reasonless.value.code == "reason"
    with pytest.raises(VolunteerRefused) as negative:
        hours.decide(record, "adjust", actor_id=coordinator.id, minutes=-30, reason="早退")
    assert negative.value.code == "minutes"
    hours.decide(record, "adjust", actor_id=coordinator.id, minutes=90, reason="提前离开")
    hours.decide(record, "reject", actor_id=coordinator.id, reason="核实未到岗")
    db.session.expire_all()
    record = db.session.get(HourRecord, record.id)
    assert record.status == "rejected" and record.minutes == 90
    assert [(c.action, c.status, c.minutes, c.reason) for c in record.changes] == [
        ("recorded", "pending", 120, "签到签退"), ("approved", "approved", 120, ""),
        ("adjusted", "approved", 90, "提前离开"), ("rejected", "rejected", 90, "核实未到岗")]
    assert [c.actor_id for c in record.changes[1:]] == [coordinator.id] * 3
    with pytest.raises(ValueError):  # hours are never deleted
        db.session.delete(record)
        db.session.flush()
    db.session.rollback()
    assert db.session.get(HourRecord, record.id) is not None


def test_the_tick_list_records_the_whole_activity_once(vol, clock):
    act = vol.activity(capacity=3, day=TUESDAY, starts=time(10), ends=time(11, 30))
    people = [make_volunteer(f"139000000{60 + n}") for n in range(3)]
    ids = [signups.sign_up(act, v, now=local_now()).id for v in people]
    with pytest.raises(VolunteerRefused):
        hours.tick(act, ids, now=local_now(), actor_id=None)  # not started yet
    clock.move_to(datetime(2026, 11, 24, 11, 40, tzinfo=SHANGHAI))
    assert hours.tick(act, ids[:2], now=local_now(), actor_id=None) == 2
    assert hours.tick(act, ids, now=local_now(), actor_id=None) == 1  # the first two are done
    minutes = db.session.scalars(select(HourRecord.minutes)).all()
    assert minutes == [90, 90, 90]


@pytest.mark.parametrize("minutes, stars", [
    (0, 0), (99 * 60 + 59, 0), (100 * 60, 1), (299 * 60, 1), (300 * 60, 2), (600 * 60, 3),
    (999 * 60, 3), (1000 * 60, 4), (1500 * 60 - 1, 4), (1500 * 60, 5), (9000 * 60, 5),
])
def test_star_levels_at_the_thresholds(minutes, stars):
    assert hours.star_due(minutes, (100, 300, 600, 1000, 1500)) == stars


def test_star_thresholds_are_configurable_and_checked(app, monkeypatch, tmp_path):
    from portal.config import _star_hours
    assert _star_hours("50，150,300,500,800") == (50, 150, 300, 500, 800)
    for bad in ("100,300", "100,300,200,1000,1500", "a,b,c,d,e", "0,1,2,3,4"):
        with pytest.raises(ValueError):
            _star_hours(bad)
    app.config["VOLUNTEER_STAR_HOURS"] = (1, 2, 3, 4, 5)
    assert hours.star_due(150, hours.thresholds()) == 2


def test_star_review_confirms_the_level_the_approved_hours_reach(vol, page):
    v = make_volunteer("13900000071", "老李", teams=[vol.team_a])
    for n, status in enumerate(["approved"] * 12 + ["pending"] * 10 + ["rejected"] * 10):
        record = HourRecord(volunteer_id=v.id, team_id=vol.team_a.id, served_on=TUESDAY,
                            what=f"服务{n}", minutes=10 * 60, status=status)
        db.session.add(record)
    db.session.commit()
    p = page(vol.coordinator.get("/volunteer/manage/stars"))
    assert "老李" in p.text("table") and "评定为1星" in p.text("table")
    assert vol.coordinator.post(f"/volunteer/manage/stars/{v.id}").status_code == 302
    db.session.expire_all()
    assert db.session.get(Volunteer, v.id).star_level == 1  # 120 approved hours
    assert page(vol.coordinator.get("/volunteer/manage/stars")).soup.select_one("table") is None
    assert vol.coordinator.post(f"/volunteer/manage/stars/{v.id}").status_code == 404


# -- wishes and orders -------------------------------------------------------------------------

def test_the_wish_journey_from_posted_to_thanked(vol, app, page):
    resident = sign_in(app, "13900000081", name="王奶奶本人")
    big = resident.post("/volunteer/wishes/new", {
        "station": vol.station_a.id, "title": "一台电视", "story": "想看新闻",
        "value_yuan": "2000", "address": "东岭村1号"})
    assert big.status_code == 422 and "200元以内" in page(big).text(".error-summary")
    long = resident.post("/volunteer/wishes/new", {
        "station": vol.station_a.id, "title": "老花镜", "story": "字" * 5000,
        "value_yuan": "50", "address": "东岭村1号"})
    assert long.status_code == 422 and "300个字以内" in page(long).text(".error-summary")
    made = resident.post("/volunteer/wishes/new", {
        "station": vol.station_a.id, "title": "老花镜", "story": "看不清药盒上的字",
        "value_yuan": "50", "address": "东岭村1号"})
    wish = db.session.scalar(select(Wish))
    assert made.status_code == 302 and wish.status == "posted"
    assert app.test_client().get(f"/volunteer/wishes/{wish.id}").status_code == 404  # not public yet

    reject = vol.coordinator.post(f"/volunteer/manage/wishes/{wish.id}/screen", {
        f"w{wish.id}-title": "老花镜", f"w{wish.id}-story": "看不清药盒上的字", "decision": "reject"})
    assert reject.status_code == 302 and db.session.get(Wish, wish.id).status == "posted"
    vol.coordinator.post(f"/volunteer/manage/wishes/{wish.id}/screen", {
        f"w{wish.id}-public_name": "东岭村王奶奶", f"w{wish.id}-title": "一副老花镜",
        f"w{wish.id}-story": "看不清药盒上的字", "decision": "approve"})
    wall = page(app.test_client().get("/volunteer/wishes/"))
    assert "一副老花镜" in wall.text() and "东岭村王奶奶" in wall.text()
    assert "东岭村1号" not in wall.text() and "13900000081" not in wall.text()

    make_volunteer("13900000082", "小周", teams=[vol.team_b])
    make_volunteer("13900000083", "小吴")
    helper_client = sign_in_existing(app, "13900000082")
    refused = helper_client.post(f"/volunteer/wishes/{wish.id}/claim", {"team": vol.team_a.id})
    assert refused.status_code == 302 and db.session.get(Wish, wish.id).status == "public"
    helper_client.post(f"/volunteer/wishes/{wish.id}/claim", {"team": vol.team_b.id})
    wish = db.session.get(Wish, wish.id)
    assert wish.status == "claimed" and wish.claim_team_id == vol.team_b.id
    assert "健康义诊队" in page(app.test_client().get("/volunteer/wishes/")).text()
    shown = page(helper_client.get(f"/volunteer/wishes/{wish.id}"))
    assert "东岭村1号" in shown.text() and "13900000081" in shown.text()  # the claimant sees them

    outsider_client = sign_in_existing(app, "13900000083")
    assert "东岭村1号" not in page(outsider_client.get(f"/volunteer/wishes/{wish.id}")).text()
    assert outsider_client.post(f"/volunteer/wishes/{wish.id}/fulfil",
                                {"note": "送到了"}).status_code == 404
    helper_client.post(f"/volunteer/wishes/{wish.id}/fulfil", {"note": "已送到家中"})
    assert db.session.get(Wish, wish.id).status == "fulfilled"
    assert "一副老花镜" not in page(app.test_client().get("/volunteer/wishes/")).text()
    resident.post(f"/volunteer/wishes/{wish.id}/thank", {"rating": "5", "note": "谢谢"})
    assert db.session.get(Wish, wish.id).status == "thanked"
    with pytest.raises(VolunteerRefused):
        wishes.thank(db.session.get(Wish, wish.id), user_id=resident.user.id, rating=4, thanks="")
    told = db.session.scalars(select(Message.body).where(Message.user_id == resident.user.id)
                              .order_by(Message.id)).all()
    assert [("审核" in m, "认领" in m, "实现" in m) for m in told] == [
        (True, False, False), (False, True, False), (False, False, True)]


def sign_in_existing(app, phone: str):
    client = app.test_client()
    forms = Forms(client)
    assert forms.post("/login", {"phone": phone, "password": PASSWORD}).status_code == 302
    return SimpleNamespace(client=client, get=client.get,
                           post=lambda url, data=None: forms.post(url, data or {}, token_from="/me/"))


def test_the_order_journey_and_who_sees_the_address(vol, app, page):
    offer = ServiceOffer(name="上门维修", team_id=vol.team_a.id)
    db.session.add(offer)
    db.session.commit()
    resident = sign_in(app, "13900000091", name="张大爷")
    resident.post("/volunteer/orders/new", {
        "offer": offer.id, "station": vol.station_a.id, "details": "电饭锅坏了",
        "address": "东岭村8号", "phone": "13900000091", "wanted_on": "2026-11-20"})
    assert db.session.scalar(select(func.count()).select_from(ServiceOrder)) == 0  # a past day
    resident.post("/volunteer/orders/new", {
        "offer": offer.id, "station": vol.station_a.id, "details": "电饭锅坏了",
        "address": "东岭村8号", "phone": "13900000091"})
    order = db.session.scalar(select(ServiceOrder))
    assert order.status == "ordered"

    dispatcher = page(vol.coordinator.get(f"/volunteer/orders/{order.id}"))
    assert "东岭村8号" not in dispatcher.text() and "139****0091" in dispatcher.text()
    vol.coordinator.post(f"/volunteer/manage/orders/{order.id}/dispatch",
                         {f"o{order.id}-team": vol.team_b.id})
    assert db.session.get(ServiceOrder, order.id).team_id == vol.team_b.id

    make_volunteer("13900000092", "小郑", teams=[vol.team_b])
    other = make_volunteer("13900000093", "小冯", teams=[vol.team_a])
    other_client = sign_in_existing(app, "13900000093")
    assert other_client.get(f"/volunteer/orders/{order.id}").status_code == 404
    with pytest.raises(VolunteerRefused):
        orders.accept(db.session.get(ServiceOrder, order.id), other, member_teams={vol.team_a.id})
    member_client = sign_in_existing(app, "13900000092")
    assert "东岭村8号" in page(member_client.get(f"/volunteer/orders/{order.id}")).text()
    member_client.post(f"/volunteer/orders/{order.id}/accept")
    assert db.session.get(ServiceOrder, order.id).status == "accepted"
    bad = member_client.post(f"/volunteer/orders/{order.id}/finish", {"note": "修好了", "hours": "-1"})
    assert bad.status_code == 302 and db.session.get(ServiceOrder, order.id).status == "accepted"
    member_client.post(f"/volunteer/orders/{order.id}/finish", {"note": "修好了", "hours": "1.5"})
    record = db.session.scalar(select(HourRecord).where(HourRecord.order_id == order.id))
    assert record.minutes == 90 and record.status == "pending" and record.team_id == vol.team_b.id
    # the dispatching coordinator (team A) does not approve team B's hours
    assert vol.coordinator.post(f"/volunteer/manage/hours/{record.id}",
                                {"decision": "approve"}).status_code == 404
    resident.post(f"/volunteer/orders/{order.id}/rate", {"rating": "5", "note": "很好"})
    final = page(resident.get(f"/volunteer/orders/{order.id}"))
    assert db.session.get(ServiceOrder, order.id).status == "rated"
    assert [li.get_text(" ", strip=True).split(" ", 2)[-1] for li in final.soup.select(".timeline li")] \
        == ["居民点单", "派单给团队：健康义诊队", "志愿者接单：小郑", "服务完成：修好了", "居民评价：很好"]


def test_coordinators_keep_the_service_menu_residents_order_from(vol, app, page):
    empty = page(app.test_client().get("/volunteer/orders/"))
    assert "暂时没有可点的服务" in empty.text()
    add = {"name": "陪同就医", "description": "陪老人去镇卫生院", "team": vol.team_a.id}
    assert vol.coordinator.post("/volunteer/manage/offers", add).status_code == 302
    twice = page(vol.coordinator.post("/volunteer/manage/offers", add))
    assert twice.status == 422 and "已有同名" in twice.text(".error-summary")
    not_mine = page(vol.coordinator.post("/volunteer/manage/offers",
                                         {**add, "name": "义诊", "team": vol.team_b.id}))
    assert not_mine.status == 422 and "自己协调的团队" in not_mine.text(".error-summary")
    vol.coordinator.post("/volunteer/manage/offers", {"name": "法律咨询", "team": 0})
    offer = db.session.scalar(select(ServiceOffer).where(ServiceOffer.name == "陪同就医"))
    assert offer.team_id == vol.team_a.id and offer.active
    menu = page(app.test_client().get("/volunteer/orders/")).text()
    assert "陪同就医" in menu and "陪老人去镇卫生院" in menu and "法律咨询" in menu

    other = sign_in(app, "13900000103", "coordinator", name="别的协调员")
    db.session.add(Coordination(user_id=other.user.id, team_id=vol.team_b.id))
    db.session.commit()
    assert other.post(f"/volunteer/manage/offers/{offer.id}/stop").status_code == 404
    resident = sign_in(app, "13900000104", name="居民")
    assert resident.post(f"/volunteer/manage/offers/{offer.id}/stop").status_code == 403
    assert vol.coordinator.post(f"/volunteer/manage/offers/{offer.id}/stop").status_code == 302
    assert "陪同就医" not in page(app.test_client().get("/volunteer/orders/")).text()
    stopped = page(resident.post("/volunteer/orders/new", {
        "offer": offer.id, "station": vol.station_a.id, "details": "x", "address": "东岭村1号",
        "phone": "13900000104"}))
    assert stopped.status == 422 and db.session.scalar(
        select(func.count()).select_from(ServiceOrder)) == 0
    vol.coordinator.post(f"/volunteer/manage/offers/{offer.id}/resume")
    assert db.session.get(ServiceOffer, offer.id).active
    teamless = db.session.scalar(select(ServiceOffer).where(ServiceOffer.name == "法律咨询"))
    assert other.post(f"/volunteer/manage/offers/{teamless.id}/stop").status_code == 302
    assert {e.action for e in db.session.scalars(select(AuditEvent))} >= {
        "volunteer.offer_create", "volunteer.offer_stop", "volunteer.offer_resume"}


# -- who may do what ---------------------------------------------------------------------------

def test_coordinators_act_only_for_their_own_teams_and_stations(vol, app, page):
    theirs = vol.activity(team=vol.team_b, station=vol.station_b, title="别人的活动")
    ours = vol.activity(title="我们的活动")
    at_our_station = vol.activity(team=vol.team_b, station=vol.station_a, title="在我们站的活动")
    assert vol.coordinator.get(f"/volunteer/manage/activities/{theirs.id}").status_code == 404
    assert vol.coordinator.post(f"/volunteer/manage/activities/{theirs.id}/capacity",
                                {"capacity": "9"}).status_code == 404
    assert vol.coordinator.get(f"/volunteer/manage/activities/{ours.id}").status_code == 200
    assert vol.coordinator.get(f"/volunteer/manage/activities/{at_our_station.id}").status_code == 200
    overview = page(vol.coordinator.get("/volunteer/manage/"))
    assert "我们的活动" in overview.text() and "别人的活动" not in overview.text()
    made = vol.coordinator.post("/volunteer/manage/activities/new", {
        "team": vol.team_b.id, "station": vol.station_b.id, "title": "越权", "place": "x",
        "day": "2026-11-30", "starts": "09:00", "ends": "10:00", "capacity": "5", "weeks": "1"})
    assert made.status_code == 422 and "只能为自己协调" in page(made).text(".error-summary")
    other = sign_in(app, "13900000101", "coordinator", name="别的协调员")
    assert other.get(f"/volunteer/manage/activities/{ours.id}").status_code == 404


def test_a_name_taken_at_the_same_moment_is_a_message_not_an_error(vol, page):
    from sqlalchemy import event, insert
    from sqlalchemy.orm import Session

    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite: the request already holds the write lock, so no twin can slip in")
    fired = []

    def twin(session, flush_context, instances):  # another coordinator, between check and insert
        if not fired and any(isinstance(o, Team) for o in session.new):
            fired.append(True)
            with db.engine.begin() as other:
                other.execute(insert(Team).values(name="同时建立的队", skill="digital",
                                                  description=""))

    event.listen(Session, "before_flush", twin)
    try:
        raced = page(vol.coordinator.post("/volunteer/manage/teams/new", {
            "name": "同时建立的队", "skill": "digital", "description": ""}))
    finally:
        event.remove(Session, "before_flush", twin)
    assert fired
    assert raced.status == 422 and "已有同名的团队" in raced.text(".error-summary")
    assert db.session.scalar(select(func.count()).select_from(Team).where(
        Team.name == "同时建立的队")) == 1


def test_a_coordinator_publishes_an_activity_and_bad_input_gets_messages(vol, page):
    form = {"team": vol.team_a.id, "station": vol.station_a.id, "title": "河道巡查",
            "place": "村口", "day": "2026-11-23", "starts": "09:00", "ends": "08:00",
            "capacity": "-3", "weeks": "1"}
    bad = page(vol.coordinator.post("/volunteer/manage/activities/new", form))
    assert bad.status == 422
    errors = bad.text(".error-summary")
    assert "结束时间要晚于开始时间" in errors and "名额要在1到500之间" in errors
    past = page(vol.coordinator.post("/volunteer/manage/activities/new",
                                     {**form, "ends": "10:00", "capacity": "5"}))
    assert past.status == 422 and "开始时间已经过去" in past.text(".error-summary")
    good = vol.coordinator.post("/volunteer/manage/activities/new",
                                {**form, "day": "2026-11-28", "ends": "10:00", "capacity": "5",
                                 "weeks": "3"})
    assert good.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 3


def test_volunteers_see_only_their_own_records(vol, app, page):
    act = vol.activity()
    a = make_volunteer("13900000111", "甲")
    signups.sign_up(act, a, now=local_now())
    b_client = sign_in(app, "13900000112", name="乙")
    assert "甲" not in page(b_client.get("/volunteer/me")).text()
    assert b_client.post(f"/volunteer/activities/{act.id}/cancel").status_code == 404
    assert counters(act)[0] == 1


# -- pages ------------------------------------------------------------------------------------

def test_registering_signing_up_and_the_certificate(vol, app, page):
    act = vol.activity(capacity=1, title="防诈骗讲座")
    resident = sign_in(app, "13900000121", name="刘芳")
    first = resident.post(f"/volunteer/activities/{act.id}/signup")
    assert first.status_code == 302 and "/volunteer/register" in first.headers["Location"]
    bad = page(resident.post("/volunteer/register", {
        "real_name": "刘芳", "id_card": "330100199001011234", "gender": "female",
        "skills": ["digital"], "availability": ["weekend"], "consent": "y"}))
    assert bad.status == 422 and "身份证号码" in bad.text(".error-summary")
    missing = page(resident.post("/volunteer/register", {"real_name": "刘芳", "consent": "y"}))
    assert "请至少选择一项服务技能" in missing.text(".error-summary")
    saved = resident.post("/volunteer/register?next=/volunteer/", {
        "real_name": "刘芳", "id_card": id_card(121), "gender": "female",
        "skills": ["digital", "health"], "availability": ["weekend"], "teams": [vol.team_a.id],
        "consent": "y"})
    assert saved.status_code == 302, page(saved).errors()
    assert saved.headers["Location"] == "/volunteer/"
    volunteer = db.session.scalar(select(Volunteer).where(Volunteer.user_id == resident.user.id))
    assert volunteer.skill_codes == ["digital", "health"] and volunteer.teams == [vol.team_a]
    again = resident.post("/volunteer/register", {  # changing one's own details keeps the ID
        "real_name": "刘芳", "id_card": id_card(121), "gender": "female",
        "skills": ["digital"], "availability": ["weekend"], "consent": "y"})
    assert again.status_code == 302
    second = sign_in(app, "13900000122", name="刘芳的小号")  # one person, one volunteer record
    twice = page(second.post("/volunteer/register", {
        "real_name": "刘芳", "id_card": id_card(121).lower(), "gender": "female",
        "skills": ["digital"], "availability": ["weekend"], "consent": "y"}))
    assert twice.status == 422 and "已经用另一个账号登记" in twice.text(".error-summary")
    assert db.session.scalar(select(func.count()).select_from(Volunteer)) == 1

    resident.post(f"/volunteer/activities/{act.id}/signup")
    shown = page(resident.get(f"/volunteer/activities/{act.id}"))
    code = db.session.scalar(select(SignUp.code))
    assert code in shown.text() and shown.soup.select_one("img.qr")
    listing = page(app.test_client().get("/volunteer/"))
    assert "防诈骗讲座" in listing.text() and "已满" in listing.text()

    record = HourRecord(volunteer_id=volunteer.id, team_id=vol.team_a.id, served_on=TUESDAY,
                        what="防诈骗讲座", minutes=150, status="approved")
    db.session.add_all([record, HourRecord(volunteer_id=volunteer.id, team_id=vol.team_a.id,
                                           served_on=TUESDAY, what="未认定的", minutes=600,
                                           status="rejected")])
    db.session.commit()
    mine = page(resident.get("/volunteer/me"))
    assert "2.5" in mine.text() and "暂无星级" in mine.text()
    cert = page(resident.get("/volunteer/me/certificate"))
    assert "志愿服务记录证明" in cert.text("h1") and "防诈骗讲座" in cert.text()
    assert "未认定的" not in cert.text() and id_card(121) not in cert.text()
    assert mask_id_card(id_card(121)) in cert.text() and "新时代文明实践所" in cert.text()


def test_the_activity_list_filters_and_htmx_gets_the_list_only(vol, app, page):
    vol.activity(title="东岭的活动")
    vol.activity(title="西河的活动", team=vol.team_b, station=vol.station_b)
    client = app.test_client()
    only = page(client.get(f"/volunteer/?station={vol.station_b.id}"))
    assert "西河的活动" in only.text() and "东岭的活动" not in only.text()
    later = page(client.get("/volunteer/?day=2027-01-01"))
    assert "没有符合条件的活动" in later.text()
    broken = client.get("/volunteer/?day=not-a-day&team=abc&page=x")
    assert broken.status_code == 200
    partial = client.get(f"/volunteer/?team={vol.team_a.id}", headers={"HX-Request": "true"})
    assert b"<html" not in partial.data and "东岭的活动".encode() in partial.data


def test_attendance_exports_mask_phones(vol, clock, page):
    act = vol.activity(capacity=2, day=TUESDAY, starts=time(10), ends=time(11))
    v = make_volunteer("13900000131", "=HYPERLINK(1)")
    signups.sign_up(act, v, now=local_now())
    response = vol.coordinator.get(f"/volunteer/manage/activities/{act.id}/attendance.csv")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["姓名", "手机", "报名状态"]
    assert rows[1][:3] == ["'=HYPERLINK(1)", "139****0131", "confirmed"]
    xlsx = vol.coordinator.get(f"/volunteer/manage/activities/{act.id}/attendance.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_activities_are_found_by_search(vol, app, page):
    from portal import search
    vol.activity(title="垃圾分类入户宣传")
    search.drain()
    found = page(app.test_client().get("/search?q=垃圾分类&kind=activity"))
    links = [a["href"] for a in found.soup.select(".results a, ol a") if "/volunteer/activities/" in a["href"]]
    assert links, found.text()[:500]


def test_admins_give_a_coordinator_more_teams_and_stations_on_the_command_line(vol, runner):
    result = runner.invoke(args=["users", "coordinate", "--phone", "13922220001",
                                 "--team", "健康义诊队", "--station", "西河驿站"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["users", "coordinate", "--phone", "13922220001",
                                "--team", "健康义诊队"])
    assert again.exit_code == 0
    rows = db.session.scalars(select(Coordination).where(
        Coordination.user_id == vol.coordinator.user.id)).all()
    assert len(rows) == 4
    unknown = runner.invoke(args=["users", "coordinate", "--phone", "13922220001",
                                  "--team", "没有这个队"])
    assert unknown.exit_code != 0 and "没有这个队" in unknown.output
    resident = runner.invoke(args=["users", "coordinate", "--phone", "13900000001",
                                   "--team", "健康义诊队"])
    assert resident.exit_code != 0
