"""Demo data: one fictional town, its centre and 18 village stations, and demo accounts.

Idempotent: running it again finds what is there by code, name or phone and adds what is
missing. All names are fictional; the README lists the accounts (password `demo-2026`).
"""
from __future__ import annotations

import math
from datetime import date, time, timedelta

from sqlalchemy import select

from portal.accounts.models import User, UserRole
from portal.extensions import db
from portal.places.models import (CalendarDay, ClosedDay, OpeningPeriod, Station, Town,
                                  Village)

DEMO_PASSWORD = "demo-2026"
TOWN = {"code": "qinghe-demo", "name": "青禾镇（演示）", "phone": "0000-12345678"}
VILLAGES = ("东岭村", "西河村", "南塘村", "北坡村", "柳湾村", "桃园村", "杏花村", "石桥村", "枫林村",
            "麦田村", "荷塘村", "竹溪村", "梨树村", "槐荫村", "松岗村", "菱角村", "稻香村", "青山村")
CENTRE = (30.2500, 119.9000)  # fictional coordinates of the town centre
WEEKDAY_HOURS = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))
SATURDAY_MORNING = ((time(9, 0), time(12, 0)),)
# Demo holidays only: check the State Council's annual notice before real use.
HOLIDAYS = ((date(2027, 1, 1), "元旦"),) + tuple(
    (date(2027, 2, d), "春节") for d in range(5, 12))
# The working-day calendar: the 2026 arrangement as announced, and demo dates for 2027.
# Check the State Council's annual notice (国务院办公厅关于部分节假日安排的通知) before real use.
HOLIDAY_RANGES = (
    ("元旦", date(2026, 1, 1), date(2026, 1, 3)), ("春节", date(2026, 2, 15), date(2026, 2, 23)),
    ("清明节", date(2026, 4, 4), date(2026, 4, 6)), ("劳动节", date(2026, 5, 1), date(2026, 5, 5)),
    ("端午节", date(2026, 6, 19), date(2026, 6, 21)), ("中秋节", date(2026, 9, 25), date(2026, 9, 27)),
    ("国庆节", date(2026, 10, 1), date(2026, 10, 7)), ("元旦", date(2027, 1, 1), date(2027, 1, 1)),
    ("春节", date(2027, 2, 5), date(2027, 2, 11)),
)
MAKE_UP_DAYS = ((date(2026, 1, 4), "元旦调休"), (date(2026, 2, 14), "春节调休"),
                (date(2026, 2, 28), "春节调休"), (date(2026, 5, 9), "劳动节调休"),
                (date(2026, 9, 20), "国庆节调休"), (date(2026, 10, 10), "国庆节调休"))
# (phone, name, roles, station index: 0 = first village station, 1 = second)
ACCOUNTS = (
    ("13800000001", "张秀兰", (), None),
    ("13800000002", "李建国", (), None),
    ("13800000101", "王芳", ("clerk",), 0),
    ("13800000102", "赵磊", ("clerk",), 1),
    ("13800000201", "陈静", ("town_staff",), None),
    ("13800000301", "刘洋", ("editor",), None),
    ("13800000401", "周敏", ("moderator",), None),
    ("13800000501", "孙丽", ("coordinator",), None),
    ("13800000601", "钱科长", ("department",), None),
    ("13800000701", "郑老板", ("partner",), None),
    ("13800000901", "吴强", ("admin",), None),
)


def seed_demo() -> str:
    from portal import search
    from portal.dashboard import rollup
    from portal.timeutil import local_today
    from portal.booking.catalogue import load_catalogue
    from portal.booking.demo import seed_bookings
    from portal.civility.demo import seed_civility
    from portal.desk.demo import seed_hall
    from portal.notices.demo import seed_notices
    from portal.points.demo import seed_points
    from portal.volunteer.demo import seed_volunteer

    town = _town()
    village_stations = [s for s in town.stations if s.kind == "village"]
    for index, (phone, name, roles, station_index) in enumerate(ACCOUNTS):
        _account(phone, name, roles,
                 village=town.villages[index % len(town.villages)],
                 station=village_stations[station_index] if station_index is not None else None)
    _calendar()
    db.session.commit()
    items = load_catalogue()
    bookings = seed_bookings(town)
    seed_hall(town)
    notices = seed_notices()
    search.drain()  # the catalogue and the notices, searchable at once
    reports = seed_civility(db.session.scalar(select(User).where(User.phone == "13800000002")))
    activities = seed_volunteer(town)
    search.drain()  # the activities, searchable at once
    points = seed_points()
    rollup.everything(local_today())  # the dashboard's sums of the demo's past
    return f"town {town.name}, {len(town.villages)} villages, {len(town.stations)} stations, " \
           f"{len(ACCOUNTS)} accounts, {items} catalogue items, {bookings} demo bookings, " \
           f"{notices} demo notices, {reports} civility reports, {activities} volunteer activities, " \
           f"{points} lines of points"


def _town() -> Town:
    town = db.session.scalar(select(Town).where(Town.code == TOWN["code"]))
    if town is None:
        town = Town(**TOWN)
        db.session.add(town)
        centre = Station(town=town, kind="centre", name="青禾镇政务服务中心",
                         address="青禾镇人民路1号（演示地址）", phone="0000-12345678", position=0,
                         latitude=CENTRE[0], longitude=CENTRE[1], capacity_online=4,
                         capacity_phone=2, capacity_walkin=2)
        _hours(centre, saturday=True)
        db.session.add(centre)
    existing = {v.name for v in town.villages}
    for position, name in enumerate(VILLAGES, start=1):
        if name in existing:
            continue
        village = Village(town=town, name=name, position=position)
        # Villages on two rings around the centre, a few kilometres out (fictional places).
        angle, ring = 2 * math.pi * position / 9, 0.03 if position <= 9 else 0.06
        station = Station(town=town, village=village, kind="village", name=f"{name}便民服务站",
                          address=f"青禾镇{name}村委会一楼（演示地址）",
                          phone=f"0000-1234{position:04d}", position=position,
                          latitude=CENTRE[0] + ring * math.sin(angle),
                          longitude=CENTRE[1] + ring * math.cos(angle),
                          # The first station is the demo desk, with walk-ins in every state
                          # this morning: its walk-in reserve takes them through the rules.
                          capacity_walkin=4 if position == 1 else 1)
        # Market-day stations (赶集式服务) also open on Saturday mornings.
        _hours(station, saturday=position % 3 == 0)
        db.session.add(village)
    db.session.flush()
    for station in town.stations:
        have = {c.day for c in station.closed_days}
        station.closed_days.extend(ClosedDay(day=d, reason=r) for d, r in HOLIDAYS if d not in have)
    return town


def _calendar() -> None:
    have = set(db.session.scalars(select(CalendarDay.day)))
    for name, first, last in HOLIDAY_RANGES:
        for n in range((last - first).days + 1):
            if (day := first + timedelta(days=n)) not in have:
                db.session.add(CalendarDay(day=day, workday=False, name=name))
    db.session.add_all(CalendarDay(day=d, workday=True, name=n) for d, n in MAKE_UP_DAYS
                       if d not in have)


def _hours(station: Station, saturday: bool) -> None:
    station.periods = [OpeningPeriod(weekday=day, opens=a, closes=b)
                       for day in range(5) for a, b in WEEKDAY_HOURS]
    if saturday:
        station.periods += [OpeningPeriod(weekday=5, opens=a, closes=b)
                            for a, b in SATURDAY_MORNING]


def _account(phone, name, roles, village, station) -> User:
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        user = User(phone=phone, name=name, village=village, station=station)
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
    for role in set(roles) - user.roles:
        user.role_rows.append(UserRole(role=role))
    return user
