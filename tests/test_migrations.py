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
