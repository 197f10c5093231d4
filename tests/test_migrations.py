"""Upgrading a database that already holds data keeps the data (SQLite batch migrations)."""
import sqlite3

from flask_migrate import upgrade

from portal.extensions import db
from tests.conftest import make_app


def test_upgrading_from_the_foundation_keeps_stations_and_staff(tmp_path):
    path = tmp_path / "old.db"
    app = make_app(tmp_path, f"sqlite:///{path}")
    with app.app_context():
        upgrade(revision="0001_foundation")
        db.engine.dispose()
    conn = sqlite3.connect(path)
    conn.executescript("""
        INSERT INTO towns (id, code, name, phone) VALUES (1, 'old', '老镇', '');
        INSERT INTO villages (id, town_id, name, position) VALUES (1, 1, '老村', 1);
        INSERT INTO stations (id, town_id, village_id, kind, name, address, phone, active, position)
            VALUES (1, 1, 1, 'village', '老村站', '', '', 1, 1);
        INSERT INTO users (id, phone, name, password_hash, station_id, active, created_at,
                           password_changed_at)
            VALUES (1, '13800001111', '老窗口', 'x', 1, 1, '2026-01-01', '2026-01-01');
    """)
    conn.commit()
    conn.close()
    with app.app_context():
        upgrade()
        db.engine.dispose()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name, slot_minutes, capacity_online, capacity_phone, "
                        "capacity_walkin FROM stations").fetchall() == [("老村站", 30, 2, 1, 1)]
    assert conn.execute("SELECT station_id FROM users").fetchall() == [(1,)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_one_volunteer_record_per_id_number_is_refused_clearly_over_duplicates(tmp_path, capfd):
    import pytest
    path = tmp_path / "twice.db"
    app = make_app(tmp_path, f"sqlite:///{path}")
    with app.app_context():
        upgrade(revision="0007_volunteer")
        db.engine.dispose()
    conn = sqlite3.connect(path)
    for n in (1, 2):
        conn.execute("INSERT INTO users (id, phone, name, password_hash, active, created_at, "
                     "password_changed_at) VALUES (?, ?, '同一人', 'x', 1, '2026-01-01', "
                     "'2026-01-01')", (n, f"1380000111{n}"))
        conn.execute("INSERT INTO volunteers (user_id, real_name, id_card, gender, skills, "
                     "availability, note, star_level, registered_at) VALUES "
                     "(?, '同一人', '11010519491231002X', 'female', '', '', '', 0, '2026-01-01')",
                     (n,))
    conn.commit()
    conn.close()
    with app.app_context(), pytest.raises(SystemExit):  # `flask db upgrade` exits 1, saying why
        upgrade()
    assert "1 ID numbers have more than one volunteer record" in capfd.readouterr().err
    with app.app_context():
        db.engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM volunteers WHERE user_id = 2")
    conn.commit()
    conn.close()
    with app.app_context():
        upgrade()  # fixed by hand: it goes on
        db.engine.dispose()
