"""Two app nodes behind nginx on one PostgreSQL and one Redis: what must hold as a whole.

Run by `deploy/two-nodes check` (CI does), which brings the set-up up and says where it is
in TWO_NODES_*; skipped otherwise. People connect to nginx from their own loopback address
(127.0.0.N), so each has a client address as in life; `X-Upstream` says which node answered.
"""
from __future__ import annotations

import gzip
import io
import os
import re
import signal
import ssl
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.live import Browser, NoRedirect

URL = os.environ.get("TWO_NODES_URL")
pytestmark = pytest.mark.skipif(not URL, reason="run by deploy/two-nodes (TWO_NODES_URL unset)")
RUN = Path(os.environ.get("TWO_NODES_RUN", "."))
DEMO_PASSWORD = "demo-2026"
HSTS = "max-age=31536000; includeSubDomains"
_addresses = iter(range(2, 250 * 250))


def person(address: str | None = None) -> Browser:
    """Someone new, connecting from an address of their own."""
    context = ssl.create_default_context(cafile=os.environ["TWO_NODES_CA"])
    if address is None:
        n = next(_addresses)
        address = f"127.0.{n // 250}.{n % 250 + 2}"
    return Browser(URL, source=address, context=context)


def node(browser: Browser) -> str:
    return browser.headers.get("X-Upstream", "")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The same database, seen from the test (to set things up and count rows)."""
    from portal import create_app
    from portal.extensions import db
    app = create_app({"DATABASE_URL": os.environ["DATABASE_URL"], "JOBS_QUEUE": "",
                      "PORTAL_DATA_DIR": str(tmp_path_factory.mktemp("inspector")),
                      "RATELIMIT_STORAGE_URI": "memory://",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        yield app
        db.session.remove()


def fields(html: str, *names: str) -> dict:
    return {name: re.search(rf'name="{name}"[^>]*value="([^"]*)"', html).group(1)
            for name in names}


def released_together(jobs) -> list:
    """Run every job at once (behind a barrier) in its own thread; their results."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(n):
        barrier.wait(timeout=60)
        results[n] = jobs[n]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    return results


# -- the front server --------------------------------------------------------------------------

def test_nginx_terminates_tls_compresses_caches_static_files_and_limits_bodies():
    plain = urllib.request.build_opener(NoRedirect())
    with pytest.raises(urllib.error.HTTPError) as moved:
        plain.open(os.environ["TWO_NODES_HTTP_URL"] + "/notices/")
    assert moved.value.code == 301
    assert moved.value.headers["Location"] == URL + "/notices/"
    visitor = person()
    status, html = visitor.open("/", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and visitor.headers["Content-Encoding"] == "gzip"
    assert "通办" in gzip.decompress(visitor.raw).decode()
    assert visitor.headers.get_all("Strict-Transport-Security") == [HSTS]
    static = re.search(r'href="(/static/[^"]+\.css\?v=[0-9a-f]+)"', visitor.get("/")).group(1)
    status, _ = visitor.open(static, headers={"Accept-Encoding": "gzip"})
    assert status == 200 and visitor.headers["Content-Encoding"] == "gzip"
    assert "max-age=31536000" in visitor.headers["Cache-Control"]
    assert "immutable" in visitor.headers["Cache-Control"]
    assert not node(visitor)  # from disk: no node was asked
    assert visitor.headers.get_all("Strict-Transport-Security") == [HSTS]
    status, _ = visitor.open("/civility/report", b"x" * (17 * 1024 * 1024),
                             {"Content-Type": "application/octet-stream"})
    assert status == 413
    served = set()
    for _ in range(6):
        visitor.get("/notices/")
        served.add(node(visitor))
    assert len(served) == 2, served  # round robin


# -- sessions, throttles, the client's address ---------------------------------------------------

def test_a_session_holds_on_both_nodes_and_logout_ends_it_on_both():
    editor = person()
    editor.login("13800000301", DEMO_PASSWORD)
    served = set()
    for _ in range(4):
        status, _ = editor.open("/editor/notices")
        assert status == 200
        served.add(node(editor))
    assert len(served) == 2
    assert editor.post("/logout", {"csrf_token": editor.token("/me/")}) == 302
    for _ in range(4):
        status, _ = editor.open("/editor/notices")
        assert status == 302 and "/login" in editor.headers["Location"]
        served.add(node(editor))


def test_wrong_passwords_over_both_nodes_count_together_by_the_real_address():
    guesser = person("127.0.200.9")
    served, codes = set(), []
    for n in range(5):  # each time claiming another address: nginx says who really asks
        token = guesser.token("/login")
        if n >= 2 and len(served) == 1:  # a page, then a post: round robin may pair them
            guesser.get("/login")        # so the posts all go to one node; shift by one
        codes.append(guesser.post("/login", {"csrf_token": token,
                                             "phone": "13800000002", "password": f"wrong-{n}"},
                                  headers={"X-Forwarded-For": f"198.51.100.{n}"}))
        served.add(node(guesser))
    assert codes == [422] * 5 and len(served) == 2
    code = guesser.post("/login", {"csrf_token": guesser.token("/login"),
                                   "phone": "13800000002", "password": DEMO_PASSWORD})
    assert code == 429  # the sixth try, on whichever node: Redis counted all five
    someone_else = person()  # another address is not held back by this one's guesses
    someone_else.login("13800000002", DEMO_PASSWORD)


# -- races split across the nodes ----------------------------------------------------------------

def test_fifty_confirms_at_two_places_across_both_nodes_make_two_bookings(app):
    from sqlalchemy import func, select

    from portal.booking import service
    from portal.booking.models import Booking, ServiceItem
    from portal.deliveries import Delivery
    from portal.extensions import db
    from portal.places.models import Town
    from portal.timeutil import local_now
    town = db.session.scalar(select(Town).limit(1))
    station = town.villages[10].station
    station.capacity_online = 2
    db.session.commit()
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == "SB-004"))
    day, slot = service.first_free(station, "online", local_now() + timedelta(days=1))
    path = f"/services/{item.code}/book/{station.id}/{day.isoformat()}/{slot.starts:%H%M}"
    people = [person() for _ in range(50)]
    forms = [fields(p.get(path), "csrf_token", "key") for p in people]
    results = released_together([
        (lambda n=n: (people[n].post(path, {**forms[n], "name": f"网{n}",
                                            "phone": f"1350000{n:04d}"},
                                     headers={"X-Forwarded-For": "203.0.113.66"}),
                      node(people[n])))
        for n in range(50)])
    codes = [code for code, _ in results]
    assert codes.count(302) == 2 and codes.count(409) == 48, codes
    assert len({upstream for _, upstream in results}) == 2
    db.session.expire_all()
    booked = db.session.scalars(select(Booking).where(
        Booking.station_id == station.id, Booking.day == day, Booking.starts == slot.starts)).all()
    assert len(booked) == 2
    # Their confirmations: the client address is the one nginx saw, and each SMS leaves once
    # though both nodes' workers are sweeping.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        db.session.expire_all()
        sent = db.session.scalars(select(Delivery).where(
            Delivery.channel == "sms", Delivery.address.in_([b.phone for b in booked]))).all()
        if len(sent) == 2 and all(d.status == "sent" for d in sent):
            break
        time.sleep(0.5)
    assert [d.status for d in sent] == ["sent", "sent"]
    assert all(d.client_addr.startswith("127.0.") for d in sent), [d.client_addr for d in sent]
    logged = "".join((RUN / f"node-{n}" / "messages.log").read_text(encoding="utf-8")
                     for n in "ab" if (RUN / f"node-{n}" / "messages.log").exists())
    for delivery in sent:  # the log provider writes one line per message it sends
        assert len(re.findall(rf'"out_id": "?{delivery.id}"?[,}}]', logged)) == 1, logged
    assert db.session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.address.in_([b.phone for b in booked]), Delivery.channel == "sms")) == 2


def test_fifty_sign_ups_for_two_places_across_both_nodes_make_two_places_and_a_waitlist(app):
    from datetime import time as clock_time

    from sqlalchemy import func, select

    from portal.accounts.models import User
    from portal.extensions import db
    from portal.timeutil import local_now, local_today
    from portal.volunteer import signups
    from portal.volunteer.models import Activity, SignUp, Team, Volunteer, VolunteerStation
    from portal.accounts.validation import id_card_check_char
    team = db.session.scalar(select(Team).order_by(Team.id))
    station = db.session.scalar(select(VolunteerStation).order_by(VolunteerStation.id))
    activity = signups.create(team=team, station=station, title="两地同时报名", place="村委会",
                              day=local_today() + timedelta(days=3), starts=clock_time(9),
                              ends=clock_time(11), capacity=2, now=local_now(),
                              actor_id=None)[0]
    phones = [f"1370000{n:04d}" for n in range(50)]
    for n, phone in enumerate(phones):
        user = User(phone=phone, name=f"志愿{n}")
        user.set_password("two-nodes-password")
        db.session.add(user)
        db.session.flush()
        first17 = f"33010019900101{n:03d}"
        db.session.add(Volunteer(user_id=user.id, real_name=f"志愿{n}",
                                 id_card=first17 + id_card_check_char(first17),
                                 gender="female", skills="digital", availability="weekend"))
    db.session.commit()
    people = [person() for _ in phones]
    for p, phone in zip(people, phones):
        p.login(phone, "two-nodes-password")
    path = f"/volunteer/activities/{activity.id}"
    tokens = [p.token(path) for p in people]
    results = released_together([
        (lambda n=n: (people[n].post(path + "/signup", {"csrf_token": tokens[n]}),
                      node(people[n]))) for n in range(50)])
    assert all(code == 302 for code, _ in results), results
    assert len({upstream for _, upstream in results}) == 2
    db.session.expire_all()
    fresh = db.session.get(Activity, activity.id)
    count = lambda status: db.session.scalar(select(func.count()).select_from(SignUp).where(
        SignUp.activity_id == activity.id, SignUp.status == status))
    assert (fresh.taken, fresh.waiting) == (2, 48) == (count("confirmed"), count("waitlisted"))


# -- search and uploads are the same everywhere ----------------------------------------------------

def test_a_notice_published_through_one_node_is_found_through_the_other_at_once():
    editor = person()
    editor.login("13800000301", DEMO_PASSWORD)
    token = editor.token("/editor/notices/new")
    assert editor.post("/editor/notices/new", {
        "csrf_token": token, "title": "两台机器之间的冬季供暖通知", "doc_number": "青政发〔2026〕99号",
        "agency": "青禾镇人民政府", "category": "应急管理", "written_on": "2026-11-20",
        "validity": "valid", "body": "集中供暖自十二月起。", "body_format": "plain"}) == 302
    edit = editor.headers["Location"]
    notice_id = int(re.search(r"/notices/(\d+)", edit).group(1))
    token = editor.token(f"/editor/notices/{notice_id}")
    assert editor.post(f"/editor/notices/{notice_id}/submit", {"csrf_token": token}) == 302
    assert editor.post(f"/editor/notices/{notice_id}/publish",
                       {"csrf_token": token, "when": "now"}) == 302
    published_by = node(editor)
    searcher, seen = person(), set()
    for _ in range(4):  # no waiting: both nodes answer from the same rows
        html = searcher.get("/search?q=" + urllib.parse.quote("冬季供暖"))
        assert f"/notices/{notice_id}" in html, node(searcher)
        seen.add(node(searcher))
    assert len(seen) == 2 and published_by in seen


def test_a_photo_uploaded_through_one_node_is_served_through_the_other(app):
    from PIL import Image
    from sqlalchemy import select

    from portal.civility.models import Photo, Report, ReportCategory
    from portal.extensions import db
    from portal.timeutil import local_today
    picture = io.BytesIO()
    exif = Image.Exif()
    exif[0x0110] = "PhoneModel"  # what the redacted copy must not carry
    Image.new("RGB", (640, 480), (120, 160, 90)).save(picture, "JPEG", exif=exif)
    resident = person()
    resident.login("13800000001", DEMO_PASSWORD)
    category = db.session.scalar(select(ReportCategory.id).where(ReportCategory.active))
    status = resident.post("/civility/report", {
        "csrf_token": resident.token("/civility/report"), "kind": "uncivil",
        "category": str(category), "description": "两台机器之间上传的照片，占用人行道",
        "place": "东岭村集市", "day": local_today().isoformat(), "at": "08:30"},
        files={"photos": ("p.jpg", picture.getvalue())})
    assert status == 302, status
    uploaded_by = node(resident)
    db.session.expire_all()
    report = db.session.scalar(select(Report).where(
        Report.description.like("两台机器之间上传的照片%")))
    photo = db.session.scalar(select(Photo).where(Photo.report_id == report.id))
    for _ in range(6):
        status, _ = resident.open(f"/civility/my-photos/{photo.id}")
        if node(resident) != uploaded_by:
            break
    assert node(resident) != uploaded_by and status == 200
    assert resident.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(resident.raw)) as served:
        assert not served.getexif()
    shared = Path(os.environ["PORTAL_UPLOAD_DIR"])
    assert list(shared.rglob(photo.original_thumb))
    assert not list((RUN / "node-a").rglob(photo.original_thumb))
    assert not list((RUN / "node-b").rglob(photo.original_thumb))


# -- jobs, and a node that dies ------------------------------------------------------------------

def test_a_daily_job_started_on_both_nodes_at_once_runs_once():
    env = {**os.environ, "FLASK_APP": "wsgi"}
    root = Path(__file__).resolve().parents[2]
    runs = [subprocess.Popen([str(root / ".venv/bin/flask"), "jobs", "once", "prune"],
                             cwd=root, env={**env, "PORTAL_DATA_DIR": str(RUN / f"node-{n}")},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for n in "ab"]
    outputs = [r.communicate(timeout=120)[0] for r in runs]
    ran = [o for o in outputs if "prune [" in o]
    assert len(ran) == 1 and any("already been run" in o for o in outputs), outputs


def test_a_node_killed_during_bookings_loses_no_confirmed_booking(app):
    from sqlalchemy import func, select

    from portal.booking import service
    from portal.booking.models import Booking, ServiceItem
    from portal.extensions import db
    from portal.places.models import Town
    from portal.timeutil import local_now
    town = db.session.scalar(select(Town).limit(1))
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == "SB-004"))
    stations = [v.station for v in town.villages[:8]]
    for station in stations:
        station.capacity_online = 20
    db.session.commit()
    slots = []
    for station in stations:
        day, slot = service.first_free(station, "online", local_now() + timedelta(days=2))
        slots.append((station.id, day, slot.starts))
    confirmed, lock, item_code = [], threading.Lock(), item.code
    master = int((RUN / "node-a.pid").read_text())

    def book(n):
        station, day, starts = slots[n % len(slots)]
        path = f"/services/{item_code}/book/{station}/{day.isoformat()}/{starts:%H%M}"
        someone, phone = person(), f"1398800{n:04d}"  # numbers no demo resident has
        for _ in range(3):  # a person whose page failed tries again, as people do
            status, html = someone.open(path)
            if status != 200:
                continue
            code = someone.post(path, {**fields(html, "csrf_token", "key"), "name": f"杀{n}",
                                       "phone": phone})
            if code == 302 and "/confirmation" in someone.headers.get("Location", ""):
                with lock:
                    confirmed.append((phone, someone.headers["Location"]))
                    finished.append(time.monotonic())
                    if len(confirmed) == 5:
                        under_way.set()
                return code
            if code < 500:
                return code
        return code

    finished, killed, under_way = [], [], threading.Event()

    def kill_when_under_way():  # in the middle of the load, whatever this machine's speed
        under_way.wait(timeout=120)
        killed.append(_kill(master))

    killer = threading.Thread(target=kill_when_under_way)
    killer.start()
    results = released_together([lambda n=n: book(n) for n in range(60)])
    killer.join()
    after = sum(t > killed[0] for t in finished)
    print(f"\nkill -9 of node A during 60 bookings: {len(confirmed)} confirmed "
          f"({after} after the kill), outcomes {sorted(set(map(str, results)))}")
    assert after > 0 and len(finished) - after > 0  # it died in the middle of the load
    assert len(confirmed) >= 30, (len(confirmed), results)
    db.session.expire_all()
    kept = {b.phone for b in db.session.scalars(select(Booking).where(
        Booking.phone.in_([p for p, _ in confirmed])))}
    assert kept == {p for p, _ in confirmed}  # every booking a person was shown exists
    per_phone = db.session.execute(select(Booking.phone, func.count()).where(
        Booking.phone.like("1398800%")).group_by(Booking.phone)).all()
    assert per_phone and all(n == 1 for _, n in per_phone), per_phone  # a retry never books twice
    print(f"bookings saved but never shown (the node died before answering): "
          f"{len(per_phone) - len(confirmed)}")
    # The survivor serves everything now.
    survivor = person()
    for _ in range(4):
        assert survivor.open("/services/")[0] == 200


def _kill(master: int) -> float:
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    for pid in [master, *map(int, children.stdout.split())]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return time.monotonic()
