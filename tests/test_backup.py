"""Backups that restore: the drill (back up while bookings and reports with photos are being
written, destroy the data, restore into a fresh data dir, compare), a damaged file refused by
name, a database with data refused without --force, an older schema upgraded, retention."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from portal import backup
from portal.booking import service
from portal.booking.models import Booking, ServiceItem
from portal.civility import photos as photo_files
from portal.civility import workflow
from portal.civility.demo import _demo_photo
from portal.civility.models import Photo, Report, ReportCategory
from portal.extensions import db
from portal.health import expected_revision
from portal.notices.models import Notice
from portal.timeutil import local_now
from portal.volunteer.models import HourRecord
from tests.conftest import make_app

TABLES = {"bookings": Booking, "civility_reports": Report, "civility_photos": Photo,
          "notices": Notice}


def _load(app, stop: threading.Event, committed: dict[str, list[int]]):
    """Bookings and reports with photos, one after another, until told to stop."""
    with app.app_context():
        from portal.accounts.models import User
        item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == "SB-002"))
        from portal.places.models import Station
        stations = db.session.scalars(select(Station).order_by(Station.id)).all()
        reporter = db.session.scalar(select(User).where(User.phone == "13800000001"))
        category = db.session.scalar(select(ReportCategory))
        n = 0
        while not stop.is_set() and n < 400:
            station = stations[n % len(stations)]
            try:
                day, slot = service.first_free(station, "online", local_now() + timedelta(days=1))
                booking = service.book(item=item, station=station, day=day, starts=slot.starts,
                                       channel="online", name="压测", phone=f"137{n:08d}",
                                       user_id=None, idempotency_key=None, now=local_now())
                committed["bookings"].append(booking.id)
            except Exception:  # a full station: the next one
                db.session.rollback()
            if n % 3 == 0:
                report = workflow.submit(reporter, kind="praise", category=category,
                                         description=f"压测随手拍 {n}", place="村口",
                                         occurred_at=local_now() - timedelta(hours=1),
                                         processed=[photo_files.process(_demo_photo(n, "praise"))])
                committed["reports"].append(report.id)
            n += 1
        db.session.remove()


def _snapshot() -> dict:
    """What must survive: rows by id, photo files with their bytes, approved hours."""
    from portal.uploads import folder
    photos = {p.id: (folder("civility") / p.original).read_bytes()
              for p in db.session.scalars(select(Photo))}
    return {"ids": {name: set(db.session.scalars(select(model.id)))
                    for name, model in TABLES.items()},
            "photos": photos,
            "hours": db.session.scalar(select(func.sum(HourRecord.minutes)).where(
                HourRecord.status == "approved"))}


def test_the_restore_drill_back_up_under_writes_destroy_restore_compare(app, town, tmp_path,
                                                                       database_url):
    stop, committed = threading.Event(), {"bookings": [], "reports": []}
    load = threading.Thread(target=_load, args=(app, stop, committed))
    load.start()
    for _ in range(600):  # until the load has written something (at most a minute)
        if len(committed["reports"]) >= 3 or not load.is_alive():
            break
        threading.Event().wait(0.1)
    assert load.is_alive() and len(committed["reports"]) >= 3, "the write load did not start"
    before = {k: list(v) for k, v in committed.items()}  # committed before the backup began
    made = backup.make(tmp_path / "backup")
    stop.set()
    load.join(timeout=120)
    db.session.commit()
    after = _snapshot()
    assert after["ids"]["bookings"] > set(before["bookings"]), "the load kept writing"
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest == made.manifest and manifest["revision"] == expected_revision()

    # Destroy: a new, empty data dir (and, on PostgreSQL, the schema dropped).
    db.session.remove()
    db.engine.dispose()
    if database_url.startswith("postgresql"):
        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        fresh_url = database_url
    else:
        fresh_url = f"sqlite:///{tmp_path / 'fresh' / 'portal.db'}"
    fresh = make_app(tmp_path / "fresh", fresh_url)
    with fresh.app_context():
        said = backup.restore(tmp_path / "backup")
        assert "search index rebuilt" in said
        restored = _snapshot()
        for name in ("bookings", "civility_reports", "civility_photos", "notices"):
            assert restored["ids"][name] <= after["ids"][name], name  # nothing invented
            assert len(restored["ids"][name]) == manifest["tables"][name], name
        assert set(before["bookings"]) <= restored["ids"]["bookings"]
        assert set(before["reports"]) <= restored["ids"]["civility_reports"]
        assert restored["ids"]["notices"] == after["ids"]["notices"]
        assert restored["hours"] == after["hours"] and restored["hours"]
        for photo_id, data in restored["photos"].items():
            assert data == after["photos"][photo_id]
        from portal.search import service
        from portal.database import read_transaction
        with read_transaction():
            check = service.verify()
        assert check.ok, check
        db.session.remove()
        db.engine.dispose()


def test_a_damaged_backup_is_refused_naming_the_file(app, town, tmp_path):
    made = backup.make(tmp_path / "b")
    photo = next(name for name in made.manifest["files"] if name.startswith("uploads/"))
    path = tmp_path / "b" / photo
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(backup.BackupRefused, match=photo.replace(".", r"\.")):
        backup.verify(tmp_path / "b")
    result = app.test_cli_runner().invoke(args=["restore", str(tmp_path / "b"), "--force"])
    assert result.exit_code != 0 and "damaged" in result.output and photo in result.output


def test_a_database_with_data_is_not_overwritten_without_force(app, town, tmp_path):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["backup", str(tmp_path / "b")])
    assert made.exit_code == 0 and "rows in" in made.output
    refused = runner.invoke(args=["restore", str(tmp_path / "b")])
    assert refused.exit_code != 0 and "--force" in refused.output
    assert runner.invoke(args=["backup", str(tmp_path / "b")]).exit_code != 0  # not empty


def test_a_backup_of_an_older_schema_is_upgraded_on_restore(tmp_path):
    from flask_migrate import upgrade
    old = make_app(tmp_path / "old", f"sqlite:///{tmp_path / 'old' / 'portal.db'}")
    (tmp_path / "old").mkdir(exist_ok=True)
    with old.app_context():
        upgrade(revision="0010_default_synonyms")
        made = backup.make(tmp_path / "b")
        db.engine.dispose()
    assert made.manifest["revision"] == "0010_default_synonyms"
    new = make_app(tmp_path / "new", f"sqlite:///{tmp_path / 'new' / 'portal.db'}")
    with new.app_context():
        backup.restore(tmp_path / "b")
        assert db.session.scalar(text("SELECT version_num FROM alembic_version")) \
            == expected_revision()
        db.engine.dispose()


def test_retention_keeps_seven_daily_and_four_weekly(tmp_path):
    root = tmp_path / "backups"
    start = datetime(2026, 10, 1, 2, 0)
    for n in range(60):  # two a day for 30 days, and a half-written one
        for hour in (2, 14):
            folder = root / f"{start + timedelta(days=n // 2, hours=hour - 2):%Y-%m-%dT%H%M%S}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "manifest.json").write_text("{}")
    kept_before = sorted(p.name for p in root.iterdir())
    backup.prune(root, 7, 4)
    kept = sorted(p.name for p in root.iterdir())
    days = {name[:10] for name in kept}
    assert len(kept) == len(days)  # one per day kept
    newest = sorted({name[:10] for name in kept_before})[-7:]
    assert set(newest) <= days and all(f"{d}T140000" in kept for d in newest)
    assert 7 <= len(kept) <= 11
    weeks = {datetime.strptime(name[:10], "%Y-%m-%d").isocalendar()[:2] for name in kept}
    assert len(weeks) >= 4
