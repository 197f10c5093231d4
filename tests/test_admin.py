"""Admins manage the town, its villages, stations, opening hours, closed days and staff roles; all audited."""
from datetime import time, timedelta

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.audit import AuditEvent
from portal.extensions import db
from portal.places.hours import periods_on
from portal.places.models import Town, Village
from portal.timeutil import local_today
from portal.volunteer.models import Coordination, Team, VolunteerStation
from tests.conftest import PASSWORD, Forms, make_user, sign_in


@pytest.fixture
def admin(auth, town):
    return auth.login(role="admin")


def hours_data(station, **overrides):
    data = {"name": station.name, "address": station.address, "phone": station.phone,
            "active": "y", "slot_minutes": "30", "capacity_online": "2", "capacity_phone": "1",
            "capacity_walkin": "1", "windows": "2"}
    for day in range(7):
        am, pm = (("08:30", "12:00"), ("14:00", "17:30")) if day < 5 else (("", ""), ("", ""))
        data |= {f"hours-{day}-am_opens": am[0], f"hours-{day}-am_closes": am[1],
                 f"hours-{day}-pm_opens": pm[0], f"hours-{day}-pm_closes": pm[1]}
    data.update(overrides)
    return data


def test_admin_sets_weekly_hours_and_it_is_audited(client, forms, admin, town, page):
    station = town.stations[1]
    url = f"/admin/stations/{station.id}"
    assert page(client.get(url)).soup.select_one("#hours-0-am_opens")["value"] == "08:30"
    response = forms.post(url, hours_data(station, **{"hours-5-am_opens": "09:00",
                                                      "hours-5-am_closes": "11:30"}))
    assert response.status_code == 302
    saturday = next(d for d in (local_today() + timedelta(n) for n in range(7))
                    if d.weekday() == 5)
    db.session.refresh(station)
    assert periods_on(station, saturday) == [(time(9), time(11, 30))]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "station.saved"))
    assert event.actor_id == admin.id and event.object_id == str(station.id)


@pytest.mark.parametrize("overrides, words", [
    ({"hours-0-am_closes": "08:00"}, "晚于开始时间"),
    ({"hours-0-am_closes": ""}, "同时填写"),
    ({"hours-0-pm_opens": "11:00"}, "不能重叠"),
    ({"hours-0-am_opens": "25:99"}, "不是有效的时间"),
    ({"address": ""}, "请输入地址"),
    ({"slot_minutes": "2"}, "5到240"),
    ({"capacity_online": "-1"}, "0到50"),
    ({"capacity_phone": "many"}, "人数"),
])
def test_bad_hours_are_refused_and_nothing_changes(client, forms, admin, town, page,
                                                   overrides, words):
    station = town.stations[1]
    before = [(p.weekday, p.opens, p.closes) for p in station.periods]
    p = page(forms.post(f"/admin/stations/{station.id}", hours_data(station, **overrides)))
    assert p.status == 422 and any(words in e for e in p.errors())
    db.session.refresh(station)
    assert [(x.weekday, x.opens, x.closes) for x in station.periods] == before


def test_a_whole_town_holiday_closes_every_station(client, forms, admin, town):
    day = local_today() + timedelta(days=30)
    station = town.stations[0]
    response = forms.post(f"/admin/stations/{station.id}/closed-days",
                          {"closed-day": day.isoformat(), "closed-reason": "演示假日",
                           "closed-whole_town": "y"}, token_from=f"/admin/stations/{station.id}")
    assert response.status_code == 302
    for s in town.stations:
        db.session.refresh(s)
        assert periods_on(s, day) == []


def test_closed_days_in_the_past_are_refused(client, forms, admin, town, page):
    station = town.stations[0]
    p = page(forms.post(f"/admin/stations/{station.id}/closed-days",
                        {"closed-day": "2020-01-01", "closed-reason": "过去"},
                        token_from=f"/admin/stations/{station.id}"))
    assert p.status == 422 and "已经过去" in p.text("#closed-day-error")
    assert p.soup.select_one("#hours-0-am_opens")["value"] == "08:30"  # the hours still show


def test_a_closed_day_of_another_station_cannot_be_removed_through_this_one(
        client, forms, admin, town):
    first, second = town.stations[1], town.stations[2]
    closed = second.closed_days[0]
    response = forms.post(f"/admin/stations/{first.id}/closed-days/{closed.id}/delete", {},
                          token_from=f"/admin/stations/{first.id}")
    assert response.status_code == 404


def test_new_village_comes_with_its_station(client, forms, admin, town, page):
    response = forms.post(f"/admin/towns/{town.id}/villages/new", {"name": "新苗村"})
    assert response.status_code == 302
    village = db.session.scalar(select(Village).where(Village.name == "新苗村"))
    assert village.station.name == "新苗村便民服务站" and village.station.town_id == town.id
    clash = page(forms.post(f"/admin/towns/{town.id}/villages/new", {"name": "新苗村"}))
    assert clash.status == 422 and "同名" in clash.text("#name-error")


def test_town_codes_are_unique(client, forms, admin, town, page):
    p = page(forms.post("/admin/towns/new", {"name": "另一个镇", "code": town.code}))
    assert p.status == 422 and "已被其他镇使用" in p.text("#code-error")
    assert forms.post("/admin/towns/new", {"name": "另一个镇", "code": "another"}).status_code == 302


def test_admin_index_lists_every_station(client, admin, town, page):
    p = page(client.get("/admin/"))
    assert len(p.soup.select("tbody tr")) == len(town.stations) == 19


def test_unknown_objects_are_404(client, admin):
    assert client.get("/admin/stations/99999").status_code == 404
    assert client.get("/admin/villages/99999").status_code == 404


def test_a_new_town_gets_its_service_centre(client, forms, admin, town):
    forms.post("/admin/towns/new", {"name": "新河镇", "code": "xinhe"})
    new = db.session.scalar(select(Town).where(Town.code == "xinhe"))
    assert [(s.kind, s.name) for s in new.stations] == [("centre", "新河镇政务服务中心")]


def test_admin_sets_capacity_by_channel_and_the_halls_windows(client, forms, admin, town):
    station = town.stations[2]
    response = forms.post(f"/admin/stations/{station.id}", hours_data(
        station, slot_minutes="20", capacity_online="3", capacity_phone="2", capacity_walkin="0",
        windows="3"))
    assert response.status_code == 302
    db.session.refresh(station)
    assert (station.slot_minutes, station.capacity("online"), station.capacity("phone"),
            station.capacity("walkin"), station.windows) == (20, 3, 2, 0, 3)
    assert forms.post(f"/admin/stations/{station.id}", hours_data(
        station, windows="0")).status_code == 422


def test_availability_follows_hour_changes_at_once(client, forms, admin, town, page):
    """Availability keeps a station's weekly rules in memory; a change must show at once."""
    from portal.booking import service
    from portal.timeutil import local_now
    station = town.stations[3]
    before = service.availability(station, "online", local_now())  # fills the cache
    assert any(slots for _, slots in before)
    closed_all_week = hours_data(station, **{f"hours-{d}-{f}": "" for d in range(7)
                                             for f in ("am_opens", "am_closes", "pm_opens",
                                                       "pm_closes")})
    assert forms.post(f"/admin/stations/{station.id}", closed_all_week).status_code == 302
    db.session.refresh(station)
    assert not any(slots for _, slots in service.availability(station, "online", local_now()))
    day = local_now().date() + timedelta(days=7)
    forms.post(f"/admin/stations/{station.id}", hours_data(station))
    db.session.refresh(station)
    forms.post(f"/admin/stations/{station.id}/closed-days", {
        "closed-day": day.isoformat(), "closed-reason": "培训"},
        token_from=f"/admin/stations/{station.id}")
    db.session.refresh(station)
    shown = dict(service.availability(station, "online", local_now()))
    assert shown[day] == []


# -- staff accounts and roles ----------------------------------------------------------------------

def test_an_admin_gives_a_registered_account_its_roles_and_places(app, client, forms, admin, town,
                                                                    page):
    station = town.stations[1]
    team, other_team = Team(name="数码助老队"), Team(name="义诊队")
    vstation = VolunteerStation(name="东岭驿站", address="村委会")
    db.session.add_all([team, other_team, vstation])
    db.session.commit()
    person = make_user("13911112222", name="新窗口")
    worker = app.test_client()  # the person, signed in before the change
    assert Forms(worker).post("/login", {"phone": "13911112222",
                                         "password": PASSWORD}).status_code == 302
    assert worker.get("/desk/").status_code == 403

    unknown = page(client.get("/admin/staff?phone=13900000000"))
    assert unknown.status == 422 and "没有用这个手机号注册的账号" in unknown.text(".error-summary")
    found = client.get("/admin/staff?phone=139 1111 2222")
    assert found.headers["Location"] == f"/admin/staff/{person.id}"
    url = f"/admin/staff/{person.id}"

    no_station = page(forms.post(url, {"roles": ["clerk"], "station": "0", "department": "0"}))
    assert no_station.status == 422 and "要选一个服务站" in no_station.text(".error-summary")
    no_department = page(forms.post(url, {"roles": ["department"], "station": "0",
                                          "department": "0"}))
    assert no_department.status == 422 and "要选一个部门" in no_department.text(".error-summary")
    forged = page(forms.post(url, {"roles": ["king"], "station": "abc", "department": "x"}))
    assert forged.status == 422 and len(forged.errors()) >= 1
    assert db.session.get(User, person.id).roles == set()

    saved = forms.post(url, {"roles": ["clerk", "coordinator"], "station": station.id,
                             "department": "0", "teams": [team.id],
                             "volunteer_stations": [vstation.id]})
    assert saved.status_code == 302
    db.session.expire_all()
    person = db.session.get(User, person.id)
    assert person.roles == {"clerk", "coordinator"} and person.station_id == station.id
    assert worker.get("/desk/").status_code == 200  # at the next click
    coordinated = db.session.execute(select(Coordination.team_id, Coordination.station_id).where(
        Coordination.user_id == person.id)).all()
    assert sorted(coordinated, key=str) == sorted([(team.id, None), (None, vstation.id)], key=str)
    shown = page(client.get(url))
    assert shown.soup.select_one(f'#teams input[value="{team.id}"]').has_attr("checked")
    assert "新窗口" in page(client.get("/admin/staff")).text()

    forms.post(url, {"roles": ["coordinator"], "station": station.id, "department": "0",
                     "teams": [other_team.id]})
    db.session.expire_all()
    person = db.session.get(User, person.id)
    assert person.roles == {"coordinator"} and person.station_id is None
    assert db.session.execute(select(Coordination.team_id, Coordination.station_id).where(
        Coordination.user_id == person.id)).all() == [(other_team.id, None)]
    assert worker.get("/desk/").status_code == 403
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "admin.staff")).all()
    assert len(events) == 2 and all(e.actor_id == admin.id for e in events)
    assert '"before"' in events[1].detail and '"clerk"' in events[1].detail

    mine = page(forms.post(f"/admin/staff/{admin.id}", {"roles": ["editor"], "station": "0",
                                                         "department": "0"}))
    assert mine.status == 422 and "不能去掉自己的管理员角色" in mine.text(".error-summary")
    assert db.session.get(User, admin.id).has_role("admin")
    assert client.get("/admin/staff/999999").status_code == 404
    clerk = sign_in(app, "13911113333", "clerk", "coordinator", station=station)
    assert clerk.get("/admin/staff").status_code == 403
    assert clerk.post(url, {"roles": ["admin"]}).status_code == 403
