"""Privacy by design: ID numbers sealed at rest (and found by keyed hash), key rotation and a
lost key, the migration that seals existing rows, logs that never hold a phone, ID number or
address; a resident's own data (download, correct, delete the account); public civility items
that reveal no one's exact position."""
from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text

from portal.accounts.models import User
from portal.booking.models import ServiceItem
from portal.extensions import db
from portal.privacy import sealing
from portal.volunteer.models import Volunteer
from tests.conftest import make_app, make_user
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
