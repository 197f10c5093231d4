"""Writers wait their turn: many people submitting at the same instant, through gunicorn with
several worker processes, on SQLite (whose locks are per process) and PostgreSQL.

Logins, registrations, notice saves, civility reports, service-menu edits, home-visit
requests and figure exports (a GET that writes its audit entry) are released together behind
a barrier: no response is ≥ 500, and every submission is saved. On the landed main before this change, two simultaneous logins already gave a 500
("database is locked": the expired-session DELETE of a transaction that had read first).
"""
from __future__ import annotations

import io
import sys
import threading

import pytest
from PIL import Image
from sqlalchemy import func, select

from portal.accounts.models import LoginSession, User
from portal.audit import AuditEvent
from portal.booking.models import HomeVisitRequest, ServiceItem
from portal.civility.models import Report, ReportCategory
from portal.extensions import db
from portal.notices.models import Notice
from portal.places.models import Town
from portal.seed import DEMO_PASSWORD
from portal.timeutil import local_today
from portal.volunteer.models import ServiceOffer, Team
from tests.conftest import PASSWORD, make_user
from tests.live import Browser, gunicorn

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="gunicorn needs a POSIX system")

LOGINS, REGISTRATIONS, NOTICES, REPORTS, OFFERS, VISITS, EXPORTS = 14, 6, 4, 4, 4, 4, 4


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 90)).save(out, "JPEG")
    return out.getvalue()


def _prepared(base: str, town_id: int) -> list:
    """Every person signed in and on their form; returns (browser, path, data, files)."""
    town = db.session.get(Town, town_id)
    village = str(town.villages[3].id)
    category = db.session.scalar(select(ReportCategory.id).where(ReportCategory.active))
    team = db.session.scalar(select(Team.id).order_by(Team.id))
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.home_visit)
                             .order_by(ServiceItem.id))
    station = town.villages[0].station.id
    jobs = []
    for n in range(LOGINS):
        person = Browser(base)
        jobs.append((person, "/login", {"csrf_token": person.token("/login"),
                                        "phone": f"1360000{n:04d}", "password": PASSWORD}, None))
    for n in range(REGISTRATIONS):
        person = Browser(base)
        jobs.append((person, "/register", {
            "csrf_token": person.token("/register"), "phone": f"1361000{n:04d}",
            "name": f"新居民{n}", "village": village, "id_card": "",
            "password": "mountain-river-77", "password_again": "mountain-river-77",
            "consent": "y"}, None))
    for n in range(NOTICES):
        editor = Browser(base)
        editor.login("13800000301", DEMO_PASSWORD)
        jobs.append((editor, "/editor/notices/new", {
            "csrf_token": editor.token("/editor/notices/new"), "title": f"同时保存的通知{n}",
            "doc_number": f"青政发〔2026〕{90 + n}号", "agency": "青禾镇人民政府",
            "category": "应急管理", "written_on": "2026-11-20", "validity": "valid",
            "body": "同一时刻保存。", "body_format": "plain"}, None))
    for n in range(REPORTS):
        resident = Browser(base)
        resident.login(f"1360000{n:04d}", PASSWORD)
        jobs.append((resident, "/civility/report", {
            "csrf_token": resident.token("/civility/report"), "kind": "uncivil",
            "category": str(category), "description": f"同一时刻的报告{n}，占用人行道",
            "place": "东岭村集市", "day": local_today().isoformat(), "at": "08:30"},
            {"photos": (f"p{n}.jpg", _photo())}))
    for n in range(OFFERS):
        coordinator = Browser(base)
        coordinator.login("13800000501", DEMO_PASSWORD)
        jobs.append((coordinator, "/volunteer/manage/offers", {
            "csrf_token": coordinator.token("/volunteer/manage/offers"),
            "name": f"同时添加的服务{n}", "description": "", "team": str(team)}, None))
    for n in range(VISITS):
        guest = Browser(base)
        path = f"/services/{item.code}/home-visit"
        jobs.append((guest, path, {
            "csrf_token": guest.token(path), "name": f"上门{n}", "phone": f"1362000{n:04d}",
            "address": "东岭村3组", "reason": "elderly", "station": str(station),
            "preferred_days": "", "note": ""}, None))
    for _ in range(EXPORTS):  # a GET that writes: the export's audit entry
        clerk = Browser(base)
        clerk.login("13800000101", DEMO_PASSWORD)
        jobs.append((clerk, "/desk/stats.csv", None, None))
    return jobs


def test_simultaneous_writers_of_every_kind_all_get_saved(app, database_url, tmp_path, town):
    for n in range(LOGINS):
        make_user(f"1360000{n:04d}", name=f"居民{n}")
    town_id = town.id
    before = {model: db.session.scalar(select(func.count()).select_from(model))
              for model in (Notice, Report, ServiceOffer, HomeVisitRequest)}
    exported = select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "stats.export")
    exports_before = db.session.scalar(exported)
    db.session.remove()
    with gunicorn(database_url, tmp_path, workers=3, threads=4) as base:
        jobs = _prepared(base, town_id)
        db.session.remove()  # the test's own read snapshot must not hold anything
        barrier = threading.Barrier(len(jobs))
        codes = [0] * len(jobs)

        def submit(k):
            person, path, data, files = jobs[k]
            barrier.wait(timeout=60)
            codes[k] = person.open(path)[0] if data is None else person.post(path, data, files)

        threads = [threading.Thread(target=submit, args=(k,)) for k in range(len(jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
    assert not [c for c in codes if c >= 500 or c == 0], codes
    logins = codes[:LOGINS]
    assert logins == [302] * LOGINS, logins
    after = {model: db.session.scalar(select(func.count()).select_from(model))
             for model in before}
    assert after[Notice] - before[Notice] == NOTICES
    assert after[Report] - before[Report] == REPORTS
    assert after[ServiceOffer] - before[ServiceOffer] == OFFERS
    assert after[HomeVisitRequest] - before[HomeVisitRequest] == VISITS
    assert db.session.scalar(exported) - exports_before == EXPORTS
    assert db.session.scalar(select(func.count()).select_from(User).where(
        User.phone.like("1361000%"))) == REGISTRATIONS
    signed_in = db.session.scalar(select(func.count(func.distinct(LoginSession.user_id)))
                                  .join(User).where(User.phone.like("1360000%")))
    assert signed_in == LOGINS
    assert codes.count(302) + codes.count(200) == len(codes), codes
