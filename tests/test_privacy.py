"""Privacy by design: ID numbers sealed at rest (and found by keyed hash), key rotation and a
lost key, the migration that seals existing rows, logs that never hold a phone, ID number or
address; a resident's own data (download, correct, delete the account); public civility items
that reveal no one's exact position."""
from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text

from portal.accounts.models import User
from portal.booking.models import ServiceItem
from portal.extensions import db
from portal import sealing
from portal.volunteer.models import Volunteer
from tests.conftest import make_app, make_user
from tests.test_civility import board  # noqa: F401  (the fixture)
from tests.test_volunteer import id_card

ID_A, ID_B = "11010519491231002X", id_card(77)


def _raw(table: str, column: str) -> list[str]:
    return [v for v in db.session.execute(text(f"SELECT {column} FROM {table}")).scalars() if v]


def _database_bytes(app) -> bytes:
    """The SQLite file and its write-ahead log, as they lie on disk."""
    db.session.remove()
    db.engine.dispose()
    path = Path(db.engine.url.database)
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def _volunteer(phone: str, number: str, name: str = "志愿者") -> Volunteer:
    user = make_user(phone, name=name)
    volunteer = Volunteer(user_id=user.id, real_name=name, id_card=number, gender="female")
    db.session.add(volunteer)
    db.session.commit()
    return volunteer


# -- sealed at rest --------------------------------------------------------------------------

def test_id_numbers_are_sealed_and_found_by_their_keyed_hash(app, client, forms, town):
    forms.post("/register", {"phone": "13987654321", "name": "王小明", "id_card": ID_A.lower(),
                             "village": str(town.villages[0].id), "password": "mountain-river-77",
                             "password_again": "mountain-river-77", "consent": "y"})
    volunteer = _volunteer("13900000001", ID_B)
    db.session.expire_all()
    assert db.session.scalar(select(User.id_card).where(User.phone == "13987654321")) == ID_A
    assert db.session.get(Volunteer, volunteer.id).id_card == ID_B
    for table in ("users", "volunteers"):
        stored = _raw(table, "id_card")
        assert stored and all(v.startswith("s1:") and ID_A not in v and ID_B not in v
                              for v in stored)
    # Equality on the sealed column never matches; the keyed hash does, and keeps one record
    # a person.
    assert db.session.scalar(select(Volunteer).where(Volunteer.id_card == ID_B)) is None
    assert db.session.scalar(select(Volunteer.id).where(
        Volunteer.id_card_hash == sealing.lookup_hash(ID_B.lower()))) == volunteer.id
    twin = Volunteer(user_id=make_user("13900000002").id, real_name="重复", id_card=ID_B,
                     gender="male")
    db.session.add(twin)
    with pytest.raises(Exception):
        db.session.commit()
    db.session.rollback()
    # A sealed value copied into another column does not open there.
    moved = _raw("volunteers", "id_card")[0]
    assert sealing.open_sealed(moved, "users.id_card") is None


def test_the_database_file_holds_no_id_number_in_clear(tmp_path, sqlite_template):
    import shutil
    path = tmp_path / "portal.db"
    shutil.copy(sqlite_template, path)
    app = make_app(tmp_path, f"sqlite:///{path}")
    with app.app_context():
        make_user("13900000003").id_card = ID_A
        _volunteer("13900000004", ID_B)
        db.session.commit()
        assert db.session.scalar(select(Volunteer.id_card)) == ID_B
        data = _database_bytes(app)
    assert ID_A.encode() not in data and ID_B.encode() not in data
    assert b"13900000004" in data  # the scan does see plain text: phones are not sealed


def test_the_migration_seals_existing_numbers_and_leaves_no_trace_in_the_file(tmp_path):
    path = tmp_path / "old.db"
    app = make_app(tmp_path, f"sqlite:///{path}")
    with app.app_context():
        upgrade(revision="0018_resident_activities")
        db.engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO users (id, phone, name, password_hash, active, created_at, "
                 "password_changed_at, id_card) VALUES (1, '13800001111', '老用户', 'x', 1, "
                 "'2026-01-01', '2026-01-01', ?)", (ID_A,))
    conn.execute("INSERT INTO volunteers (user_id, real_name, id_card, gender, skills, "
                 "availability, note, star_level, registered_at) VALUES "
                 "(1, '老用户', ?, 'female', '', '', '', 0, '2026-01-01')", (ID_B,))
    conn.commit()
    conn.close()
    with app.app_context():
        upgrade()
        assert db.session.get(User, 1).id_card == ID_A
        volunteer = db.session.scalar(select(Volunteer))
        assert volunteer.id_card == ID_B and volunteer.id_card_hash == sealing.lookup_hash(ID_B)
        data = _database_bytes(app)
    assert ID_A.encode() not in data and ID_B.encode() not in data


# -- keys ------------------------------------------------------------------------------------

def test_rotation_seals_everything_again_and_retire_drops_the_old_key(app, runner, monkeypatch):
    monkeypatch.setattr(sealing, "RELOAD_SECONDS", 0.01)
    _volunteer("13900000005", ID_B).user.id_card = ID_A
    db.session.commit()
    before = sealing.keyring().current
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    after = sealing.keyring(fresh=True).current
    assert after != before and "sealed 2 values again" in result.output
    assert all(v.startswith(f"s1:{after}:") for v in _raw("users", "id_card")
               + _raw("volunteers", "id_card"))
    db.session.expire_all()
    assert db.session.scalar(select(Volunteer.id_card)) == ID_B
    # The old key stays until retired (older backups need it); then only the current one.
    assert set(sealing.keyring().keys) == {before, after}
    assert runner.invoke(args=["keys", "check"]).exit_code == 0
    retired = runner.invoke(args=["keys", "retire"])
    assert retired.exit_code == 0 and before in retired.output
    assert set(sealing.keyring(fresh=True).keys) == {after}
    db.session.expire_all()
    assert db.session.get(User, db.session.scalar(select(Volunteer.user_id))).id_card == ID_A


def test_a_worker_that_has_not_seen_the_rotation_yet_loses_nothing(app, monkeypatch):
    """A worker seals under the old key after the sweep passed its row: the next pass takes
    it; a worker meeting the new key before its once-a-second look reloads at once."""
    monkeypatch.setattr(sealing, "RELOAD_SECONDS", 3600)  # no look at the file unless forced
    old = sealing.keyring(fresh=True)
    volunteer = _volunteer("13900000006", ID_B)
    new_id = sealing.new_key_id()
    sealing.write_keyfile(Path(app.config["DATA_KEY_FILE"]), sealing.Keyring(
        new_id, {**old.keys, new_id: b"k" * 32}, old.lookup, "file"))
    assert sealing.keyring().current == old.current  # this worker has not looked yet
    volunteer.user.id_card = ID_A  # sealed under the old key
    db.session.commit()
    assert sealing.reseal_all() == 2  # the pass reloads the file itself
    assert sealing.usage() == {new_id: 2}
    db.session.expire_all()
    assert db.session.get(Volunteer, volunteer.id).user.id_card == ID_A


def test_keys_rotate_while_gunicorn_workers_read_and_write_id_numbers(app, town, tmp_path,
                                                                     database_url):
    """Three worker processes serve residents who read and save their ID numbers while the
    key rotates: every page shows a whole number, every save lands, and afterwards every
    value is sealed under the new key and opens."""
    import re
    import threading

    from portal.accounts.validation import mask_id_card
    from tests.conftest import PASSWORD
    from tests.live import Browser, gunicorn
    people = [make_user(f"1390000{n:04d}", name=f"居民{n}") for n in range(3)]
    for n, user in enumerate(people):
        user.id_card = id_card(100 + n)
    db.session.commit()
    numbers = {user.phone: {id_card(100 + n), id_card(200 + n)} for n, user in enumerate(people)}
    village = str(town.villages[0].id)
    people = [SimpleNamespace(id=u.id, phone=u.phone, name=u.name) for u in people]  # plain
    with gunicorn(database_url, tmp_path, workers=3, threads=2) as base:
        stop, problems, saves = threading.Event(), [], []

        def traffic(user, n):
            try:
                work(user, n)
            except Exception as error:  # said by the assertion below, not lost in the thread
                problems.append((user.phone, repr(error)[:300]))

        def work(user, n):
            browser = Browser(base)
            browser.login(user.phone, PASSWORD)
            k = 0
            while not stop.is_set():
                page = browser.get("/me/profile")
                shown = re.search(r"现在保存的是 (\S+?)。", page)  # masked: a whole one opened
                if not shown or shown.group(1) not in {mask_id_card(x)
                                                       for x in numbers[user.phone]}:
                    problems.append((user.phone, shown and shown.group(1)))
                token = re.search(r'name="csrf_token"[^>]*value="([^"]*)"', page).group(1)
                k += 1
                status = browser.post("/me/profile", {
                    "csrf_token": token, "name": user.name, "village": village,
                    "id_card": id_card((100 if k % 2 else 200) + n)})
                if status != 302:
                    problems.append((user.phone, "save", status))
                saves.append(status)

        threads = [threading.Thread(target=traffic, args=(u, n)) for n, u in enumerate(people)]
        for thread in threads:
            thread.start()
        key_id, resealed = sealing.rotate()
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not problems, problems[:5]
    assert len(saves) >= 6 and resealed >= 1
    assert sealing.reseal_all() == 0 and set(sealing.usage()) == {key_id}  # all, demo too
    db.session.expire_all()
    for user in people:
        assert db.session.get(User, user.id).id_card in numbers[user.phone]


def test_a_lost_key_loses_the_id_numbers_and_nothing_else(app, client, runner, auth, page):
    volunteer = _volunteer("13900000007", ID_B, name="丢钥匙")
    Path(app.config["DATA_KEY_FILE"]).unlink()
    sealing.ensure_keyfile(Path(app.config["DATA_KEY_FILE"]))  # a new key: the old one is gone
    sealing.keyring(fresh=True)
    db.session.expire_all()
    assert db.session.get(Volunteer, volunteer.id).id_card is None
    auth.login(phone="13900000007")
    assert client.get("/volunteer/me").status_code == 200
    check = runner.invoke(args=["keys", "check"])
    assert check.exit_code == 1 and "1 values under a lost key" in check.output


def test_the_key_may_come_from_the_environment_but_then_does_not_rotate(tmp_path, monkeypatch,
                                                                       sqlite_template):
    import base64
    import shutil
    shutil.copy(sqlite_template, tmp_path / "p.db")
    monkeypatch.setenv("PORTAL_DATA_KEY", base64.b64encode(b"e" * 32).decode())
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'p.db'}")
    with app.app_context():
        _volunteer("13900000008", ID_B)
        assert _raw("volunteers", "id_card")[0].startswith("s1:env:")
        assert not Path(app.config["DATA_KEY_FILE"]).exists()
        result = app.test_cli_runner().invoke(args=["keys", "rotate"])
        assert result.exit_code == 1 and "PORTAL_DATA_KEY" in result.output
    monkeypatch.setenv("PORTAL_DATA_KEY", "too-short")
    bad = make_app(tmp_path, f"sqlite:///{tmp_path / 'p.db'}")
    with bad.app_context(), pytest.raises(sealing.KeysMissing):
        sealing.seal("x", "users.id_card")


# -- logs ------------------------------------------------------------------------------------

def test_logs_never_hold_a_phone_id_number_or_address(app, client, forms, auth, town, caplog):
    """A journey through the places personal data goes, with every logger at DEBUG: the
    captured records (messages and tracebacks) and the SMS log hold none of it."""
    from portal import deliveries
    caplog.set_level(logging.DEBUG)
    phone, address = "13966667777", "青禾镇东岭村3组12号"
    forms.post("/register", {"phone": phone, "name": "张三", "id_card": ID_A,
                             "village": str(town.villages[0].id), "password": "mountain-river-77",
                             "password_again": "mountain-river-77", "consent": "y"})
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.home_visit.is_(True)))
    forms.post(f"/services/{item.code}/home-visit", {
        "name": "张三", "phone": phone, "address": address, "reason": "elderly",
        "station": str(town.villages[0].station.id), "preferred_days": "工作日上午"})
    client.get(f"/desk/?q={phone}")
    deliveries.send_due()
    # A database error carrying all of it in its parameters, logged with its traceback.
    try:
        db.session.execute(text("INSERT INTO users (phone, name, password_hash, id_card) "
                                "VALUES (:p, :a, 'x', :i)"), {"p": phone, "a": address, "i": ID_A})
    except Exception:
        db.session.rollback()
        logging.getLogger("portal").exception("twin %s %s", phone, ID_A)
    logging.getLogger("werkzeug").info('127.0.0.1 "GET /desk/?q=%s HTTP/1.1" 200', phone)
    captured = caplog.text + "".join(r.getMessage() for r in caplog.records)
    sms_log = Path(app.config["PORTAL_DATA_DIR"]) / "messages.log"
    captured += sms_log.read_text() if sms_log.exists() else ""
    assert "139****7777" in captured and "1101**********002X" in captured  # it was logged…
    for secret in (phone, ID_A, address):  # …but never whole
        assert secret not in captured


# -- a resident's own data -------------------------------------------------------------------

@pytest.fixture
def resident(board):
    """The civility board's resident (their demo reports, some published) with an open
    booking, a volunteer record with approved hours, an open wish and a report with a photo."""
    from datetime import timedelta

    from portal.booking import service
    from portal.civility import workflow as civility
    from portal.civility.models import Report
    from portal.timeutil import local_now
    from portal.volunteer import hours, wishes
    from portal.places.models import Station
    from portal.volunteer.models import VolunteerStation
    from tests.test_civility import jpeg, submit
    from tests.test_points import served, volunteer_of
    user = board.resident.user
    user.id_card = ID_A
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == "SB-001"))
    station = db.session.scalar(select(Station).order_by(Station.id))
    now = local_now()
    day, slot = service.first_free(station, "online", now + timedelta(days=1))
    booking = service.book(item=item, station=station, day=day, starts=slot.starts,
                           channel="online", name=user.name, phone=user.phone, user_id=user.id,
                           idempotency_key=None, now=now)
    booking.proxy_name, booking.proxy_phone, booking.proxy_id_card = "代办人", "13700001234", ID_B
    volunteer = volunteer_of(user)
    record = served(volunteer, 90)
    hours.decide(record, "approve", actor_id=None)
    db.session.commit()
    help_station = VolunteerStation(name="东岭驿站", address="东岭村村委会")
    db.session.add(help_station)
    db.session.commit()
    wish = wishes.post_wish(user=user, station=help_station, title="一副老花镜",
                            story="看不清药盒上的字", value_yuan=50, address="东岭村3组12号")
    submit(board, [("a.jpg", jpeg(gps=(30.25, 119.9)))], description="楼道堆放杂物")
    report = db.session.scalar(select(Report).where(Report.reporter_id == user.id)
                               .order_by(Report.id.desc()))
    civility.propose_pending()
    for photo in report.photos:
        civility.redact(photo, board.moderator.user, [[10, 10, 50, 50]])
    civility.verify(report, board.moderator.user)
    civility.publish_issue(board.moderator.user, [report.id])
    return SimpleNamespace(board=board, user=user, booking=booking, volunteer=volunteer,
                           record=record, wish=wish, slot=(station.id, day, slot.starts))


def test_every_table_that_names_a_user_is_exported_or_said_why_not(app):
    from portal.privacy import export
    tables = {t.name for t in db.metadata.sorted_tables
              if any(fk.column.table.name == "users" for c in t.columns for fk in c.foreign_keys)}
    exported = {s.model.__table__.name for s in export._sections()}
    assert tables - exported - set(export.NOT_THE_RESIDENTS) == set()


def test_the_download_holds_everything_about_me_and_nothing_else(resident, page):
    import io
    import zipfile
    client = resident.board.resident
    shown = page(client.get("/me/data"))
    assert shown.status == 200 and "志愿服务时长" in shown.text()
    response = client.get("/me/data/download")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    data = json.loads(archive.read("data.json"))
    assert data["account"][0]["id_card"] == ID_A and "password_hash" not in data["account"][0]
    assert [b["ref"] for b in data["bookings"]] == [resident.booking.ref]
    # Who handled it for me is someone else: shown masked, as the portal shows them.
    assert (data["bookings"][0]["proxy_phone"], data["bookings"][0]["proxy_id_card"]) == (
        "137****1234", "3301**********" + ID_B[-4:])
    assert data["booking_timelines"] and data["volunteer"][0]["id_card"] == id_card(
        resident.user.id)
    assert data["volunteer_hours"][0]["minutes"] == 90 and data["volunteer_hour_changes"]
    assert data["wishes"][0]["address"] == "东岭村3组12号"
    assert any(r["description"] == "楼道堆放杂物" for r in data["reports"])
    assert all(s.keys() >= {"created_at", "expires_at"} and "token_hash" not in s
               for s in data["sessions"])
    photos = [n for n in archive.namelist() if n.startswith("photos/")]
    assert len(photos) == len(data["report_photos"]) >= 1
    html = archive.read("index.html").decode()
    assert "楼道堆放杂物" in html and "<script" not in html
    # Nobody else's rows: the moderator's account is not in it.
    assert "13911140002" not in archive.read("data.json").decode()
    assert client.get("/me/data/download").status_code == 200
    anonymous = resident.board.app.test_client()
    assert anonymous.get("/me/data/download").status_code == 302  # to the login page


def test_a_resident_corrects_name_village_and_id_number_checked_again(resident, page, town):
    client = resident.board.resident
    form = page(client.get("/me/profile"))
    assert not form.soup.select_one("#id_card").get("value")  # never the whole number again
    assert "1101**********002X" in form.text() and ID_A not in str(form.soup)
    bad = page(resident.board.resident.post("/me/profile", {
        "name": "居民乙", "village": str(town.villages[1].id), "id_card": "110105194912310021"}))
    assert bad.status == 422 and "校验位" in bad.text("#id_card-error")
    kept = resident.board.resident.post("/me/profile", {
        "name": "居民乙", "village": str(town.villages[1].id), "id_card": ""})
    assert kept.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, resident.user.id)
    assert (user.name, user.village_id, user.id_card) == ("居民乙", town.villages[1].id, ID_A)
    changed = resident.board.resident.post("/me/profile", {
        "name": "居民乙", "village": str(town.villages[1].id), "id_card": ID_B})
    assert changed.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, resident.user.id).id_card == ID_B
    resident.board.resident.post("/me/profile", {
        "name": "居民乙", "village": str(town.villages[1].id), "remove_id_card": "y"})
    db.session.expire_all()
    assert db.session.get(User, resident.user.id).id_card is None


def test_deleting_the_account_ends_what_is_open_and_keeps_what_the_rules_keep(resident, page,
                                                                              client):
    from portal.audit import AuditEvent
    from portal.booking.models import Booking, SlotUsage
    from portal.civility.models import Report
    from portal.volunteer.models import HourRecord, Wish
    board = resident.board
    published = db.session.scalar(select(Report).where(
        Report.reporter_id == resident.user.id, Report.status == "published"))
    assert published is not None and published.latitude == 30.25
    confirm = page(board.resident.get("/me/delete"))
    assert confirm.status == 200 and "已注销用户" in confirm.text()
    wrong = page(board.resident.post("/me/delete", {"password": "not-it", "understood": "y"}))
    assert wrong.status == 422 and "密码不正确" in wrong.text("#password-error")
    unticked = page(board.resident.post("/me/delete", {"password": "correct-horse-42"}))
    assert unticked.status == 422
    done = board.resident.post("/me/delete", {"password": "correct-horse-42", "understood": "y"})
    assert done.status_code == 302 and done.headers["Location"] == "/"
    db.session.expire_all()
    user = db.session.get(User, resident.user.id)
    assert (user.name, user.phone, user.id_card, user.active) == (
        "已注销用户", f"0{user.id:010d}", None, False) and user.deleted_at is not None
    booking = db.session.get(Booking, resident.booking.id)
    assert booking.status == "cancelled" and booking.name == "已注销用户"
    station_id, day, starts = resident.slot
    assert db.session.scalar(select(SlotUsage.taken).where(
        SlotUsage.station_id == station_id, SlotUsage.day == day,
        SlotUsage.starts == starts, SlotUsage.pool == booking.pool)) == 0  # the place is free
    record = db.session.get(HourRecord, resident.record.id)
    assert record.status == "approved" and record.volunteer.real_name == "已注销用户"
    assert record.volunteer.id_card is None and record.volunteer.id_card_hash is None
    assert db.session.get(Wish, resident.wish.id).status == "withdrawn"
    assert db.session.get(Wish, resident.wish.id).address == ""
    assert client.get(f"/civility/items/{published.id}").status_code == 200  # the board keeps it
    assert db.session.scalar(select(Report.id).where(Report.reporter_id == user.id,
                                                     Report.latitude.is_not(None))) is None
    assert "居民甲" not in page(client.get(f"/civility/items/{published.id}")).text()
    assert board.resident.get("/me/").status_code == 302  # signed out, everywhere
    assert db.session.scalar(select(AuditEvent.action).where(
        AuditEvent.object_id == str(user.id), AuditEvent.object_type == "User")) \
        == "account.deleted"
    # The phone is free again: the person may register anew.
    assert db.session.scalar(select(User).where(User.phone == "13911140001")) is None


def test_a_staff_account_holding_roles_cannot_delete_itself(board, page):
    shown = page(board.moderator.get("/me/delete"))
    assert shown.status == 200 and "请先请管理员收回权限" in shown.text()
    refused = page(board.moderator.post("/me/delete", {"password": "correct-horse-42",
                                                       "understood": "y"}))
    assert refused.status == 422
    db.session.expire_all()
    assert db.session.get(User, board.moderator.user.id).active


def test_withdrawing_the_volunteer_consent_erases_the_record_and_keeps_the_hours(resident, page):
    from portal.audit import AuditEvent
    from portal.volunteer.models import HourRecord
    client = resident.board.resident
    assert "撤回同意" in page(client.get("/me/data")).text()
    shown = page(client.get("/me/volunteer/withdraw"))
    assert shown.status == 200 and "已审核的服务时长" in shown.text()
    assert page(client.post("/me/volunteer/withdraw", {})).status == 422  # not ticked
    done = client.post("/me/volunteer/withdraw", {"understood": "y"})
    assert done.status_code == 302
    db.session.expire_all()
    volunteer = db.session.get(Volunteer, resident.volunteer.id)
    assert volunteer.withdrawn_at is not None and volunteer.id_card is None
    assert volunteer.id_card_hash is None and volunteer.skills == "" and volunteer.teams == []
    assert db.session.get(HourRecord, resident.record.id).status == "approved"
    assert db.session.scalar(select(AuditEvent.action).where(
        AuditEvent.action == "volunteer.consent_withdrawn")) is not None
    mine = page(client.get("/volunteer/me"))
    assert "还没有登记为志愿者" in mine.text()
    # Registering again fills the same record in anew (consent given again).
    form = page(client.get("/volunteer/register"))
    assert form.status == 200 and form.soup.select_one("#id_card")["value"] in ("", ID_A)
    again = client.post("/volunteer/register", {
        "real_name": "居民甲", "id_card": ID_B, "gender": "female", "skills": "digital",
        "availability": "weekend", "consent": "y"})
    assert again.status_code == 302, again.headers
    assert again.headers["Location"] == "/volunteer/me", again.headers["Location"]
    db.session.expire_all()
    volunteer = db.session.get(Volunteer, resident.volunteer.id)
    assert volunteer.withdrawn_at is None and volunteer.id_card == ID_B
    assert client.get("/me/volunteer/withdraw").status_code == 200


def test_a_shared_kiosk_never_downloads_a_residents_data(resident, page):
    client = resident.board.resident
    from portal.web import KIOSK_COOKIE
    client.client.set_cookie(KIOSK_COOKIE, "1")
    shown = page(client.get("/me/data"))
    assert "在公共服务机上不能下载" in shown.text() and not shown.soup.select(
        "a[href='/me/data/download']")
    refused = client.get("/me/data/download")
    assert refused.status_code == 302 and refused.mimetype != "application/zip"


def test_workers_starting_at_once_make_one_key_file(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    path = tmp_path / "keys" / "data-keys.json"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: sealing.ensure_keyfile(path), range(32)))
    assert json.loads(path.read_text())["current"]
    assert [p.name for p in path.parent.iterdir()] == ["data-keys.json"]  # no partials left
    first = path.read_text()
    sealing.ensure_keyfile(path)
    assert path.read_text() == first  # never replaced once made
