"""Resident activities: a class or a training any resident joins — signed in, or at the kiosk
with a name and phone — with places and a waitlist under the same no-overbooking guarantee
(threads on SQLite and PostgreSQL), no volunteer record, no ID number and no hours; the
coordinator's roster shows both kinds; the public list filters by kind."""
from __future__ import annotations

from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.notifications import Message
from portal.timeutil import local_now
from portal.volunteer import hours, signups
from portal.volunteer.models import Activity, HourRecord, SignUp, Volunteer
from portal.volunteer.signups import VolunteerRefused
from portal.web import KIOSK_COOKIE
from tests.conftest import race, sign_in
from tests.test_volunteer import TUESDAY, make_volunteer, vol  # noqa: F401 (fixture)


def resident_activity(vol, capacity=2, **kwargs):
    made = vol.activity(capacity=capacity, title="四点半课堂", **kwargs)
    made.kind = "resident"
    db.session.commit()
    return made


def counters(activity) -> tuple[int, int, int, int]:
    db.session.expire_all()
    fresh = db.session.get(Activity, activity.id)
    count = lambda status: db.session.scalar(select(func.count()).select_from(SignUp).where(  # noqa: E731
        SignUp.activity_id == activity.id, SignUp.status == status))
    return fresh.taken, fresh.waiting, count("confirmed"), count("waitlisted")


def test_a_signed_in_resident_joins_without_registering_as_a_volunteer(app, vol, page):
    activity = resident_activity(vol)
    she = sign_in(app, "13966660001", name="林阿姨")
    shown = page(she.get(f"/volunteer/activities/{activity.id}"))
    assert "居民活动" in shown.text() and "登记志愿者信息" not in shown.text()
    joined = she.post(f"/volunteer/activities/{activity.id}/signup", follow_redirects=True)
    assert "报名成功" in joined.get_data(as_text=True)
    again = she.post(f"/volunteer/activities/{activity.id}/signup")  # a second click
    assert again.status_code == 302 and counters(activity) == (1, 0, 1, 0)
    assert db.session.scalar(select(func.count()).select_from(Volunteer)) == 0
    signup = db.session.scalar(select(SignUp).where(SignUp.activity_id == activity.id))
    assert signup.volunteer_id is None and signup.user_id == she.user.id
    assert signup.code in page(she.get("/volunteer/me")).text()
    assert signup.code in page(she.get(f"/volunteer/activities/{activity.id}")).text()
    cancelled = she.post(f"/volunteer/activities/{activity.id}/cancel", follow_redirects=True)
    assert "已取消报名" in cancelled.get_data(as_text=True) and counters(activity) == (0, 0, 0, 0)


def test_a_kiosk_guest_joins_by_name_and_phone_and_the_waitlist_moves_up(app, vol, client,
                                                                          page):
    activity = resident_activity(vol, capacity=1)
    url = f"/volunteer/activities/{activity.id}"
    assert client.post(f"{url}/join", data={}).status_code in (302, 400)  # not a kiosk
    client.set_cookie(KIOSK_COOKIE, "1")
    form = page(client.get(url))
    token = form.csrf()
    bad = page(client.post(f"{url}/join", data={"csrf_token": token, "name": "何大叔",
                                                 "phone": "12345"}))
    assert bad.status == 422 and bad.errors()
    ok = client.post(f"{url}/join", data={"csrf_token": token, "name": "何大叔",
                                          "phone": "139 6666 0002"}, follow_redirects=True)
    assert "报名成功：何大叔" in ok.get_data(as_text=True)
    client.post(f"{url}/join", data={"csrf_token": token, "name": "何大叔",
                                     "phone": "13966660002"})  # the same phone: the same place
    assert counters(activity) == (1, 0, 1, 0)
    waiting = client.post(f"{url}/join", data={"csrf_token": token, "name": "许小妹",
                                               "phone": "13966660003"}, follow_redirects=True)
    assert "候补名单（第1位）" in waiting.get_data(as_text=True)
    assert counters(activity) == (1, 1, 1, 1)
    he = sign_in(app, "13966660002", name="何大叔")  # later, on his own phone: the same place
    assert "报名成功" in he.post(f"{url}/signup", follow_redirects=True).get_data(as_text=True)
    assert counters(activity) == (1, 1, 1, 1)
    first = db.session.scalar(select(SignUp).where(SignUp.phone == "13966660002"))
    assert first.user_id == he.user.id and first.code in page(he.get(url)).text()
    signups.cancel(first, now=local_now(), reason="家里有事", by=vol.coordinator.user.id)
    assert counters(activity) == (1, 0, 1, 0)
    told = db.session.scalars(select(Message.body).where(Message.phone == "13966660003")).all()
    assert any("候补成功" in body for body in told)


def test_the_roster_shows_residents_and_their_attendance_records_no_hours(app, vol, clock, page):
    from datetime import datetime

    from tests.conftest import SHANGHAI
    activity = resident_activity(vol, capacity=3, day=TUESDAY, starts=time(10, 30),
                                 ends=time(12, 0))
    guest = signups.join(activity, name="何大叔", phone="13966660004", user_id=None,
                         now=local_now())
    volunteer = make_volunteer("13966660005", "陈志愿")
    with pytest.raises(VolunteerRefused) as wrong:
        signups.sign_up(activity, volunteer, now=local_now())
    assert wrong.value.code == "resident"
    roster = page(vol.coordinator.get(f"/volunteer/manage/activities/{activity.id}"))
    assert "何大叔" in roster.text() and "139****0004" in roster.text()
    clock.move_to(datetime(2026, 11, 24, 10, 25, tzinfo=SHANGHAI))
    assert hours.scan(activity, guest.code, now=local_now(), actor_id=None)[1] == "in"
    clock.move_to(datetime(2026, 11, 24, 12, 5, tzinfo=SHANGHAI))
    assert hours.scan(activity, guest.code, now=local_now(), actor_id=None)[1] == "out"
    assert db.session.scalar(select(func.count()).select_from(HourRecord)) == 0
    service = vol.activity(capacity=2, title="义诊进村")
    with pytest.raises(VolunteerRefused) as service_only:
        signups.join(service, name="何大叔", phone="13966660004", user_id=None,
                     now=local_now())
    assert service_only.value.code == "service"


def test_the_public_list_filters_by_kind(app, vol, client, page):
    resident_activity(vol)
    vol.activity(title="义诊进村")
    residents = page(client.get("/volunteer/?kind=resident")).text("main")
    assert "四点半课堂" in residents and "义诊进村" not in residents
    service = page(client.get("/volunteer/?kind=service")).text("main")
    assert "义诊进村" in service and "四点半课堂" not in service
    assert page(client.get("/volunteer/?kind=%3Cscript%3E")).status == 200


def test_residents_racing_for_the_last_places_never_overbook(app, vol, wide_app):
    from portal.volunteer.models import Team, VolunteerStation
    [activity] = signups.create(  # in this (wide) app's session
        team=db.session.get(Team, vol.team_a.id),
        station=db.session.get(VolunteerStation, vol.station_a.id), title="腰鼓队排练",
        place="文化广场", day=TUESDAY + timedelta(days=2), starts=time(19), ends=time(20),
        capacity=3, now=local_now(), actor_id=None, kind="resident")
    activity_id = activity.id

    def join(k, barrier):
        found = db.session.get(Activity, activity_id)
        barrier.wait()
        signups.join(found, name=f"居民{k}", phone=f"1396677{k:04d}", user_id=None,
                     now=local_now())

    outcomes = race(wide_app, 8, join, VolunteerRefused)
    assert outcomes == ["ok"] * 8
    assert counters(activity) == (3, 5, 3, 5)
