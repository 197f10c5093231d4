"""The command line, the demo data, and that the migrations build exactly the models' schema."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from portal.accounts.models import LoginSession, User
from portal.extensions import db
from portal.places.models import Station, Town


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_migrations_match_the_models(app):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_seed_demo_is_idempotent(runner):
    first = runner.invoke(args=["seed", "demo"])
    assert first.exit_code == 0, first.output
    from portal.points.models import PointEntry, Redemption
    from portal.volunteer.models import Activity, SignUp
    counted = (Town, Station, User, Activity, SignUp, PointEntry, Redemption)
    counts = tuple(count(model) for model in counted)
    assert counts[:3] == (1, 19, 23)  # 11 demo accounts and 12 demo volunteers
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    assert tuple(count(model) for model in counted) == counts
    clerk = db.session.scalar(select(User).where(User.phone == "13800000101"))
    assert clerk.roles == {"clerk"} and clerk.station.village is not None
    assert clerk.check_password("demo-2026")


def test_users_create_makes_a_staff_account(runner, town):
    result = runner.invoke(args=["users", "create", "--role", "editor", "--role", "moderator",
                                 "--phone", "139 1111 2222", "--name", "新编辑",
                                 "--password", "river-stone-31"])
    assert result.exit_code == 0, result.output
    assert "139****2222" in result.output
    user = db.session.scalar(select(User).where(User.phone == "13911112222"))
    assert user.roles == {"editor", "moderator"}


def test_a_clerk_needs_a_station(runner, town):
    result = runner.invoke(args=["users", "create", "--role", "clerk", "--phone", "13911113333",
                                 "--name", "新窗口", "--password", "river-stone-31"])
    assert result.exit_code != 0 and "--station" in result.output
    station = town.stations[3]
    result = runner.invoke(args=["users", "create", "--role", "clerk", "--phone", "13911113333",
                                 "--name", "新窗口", "--password", "river-stone-31",
                                 "--station", str(station.id)])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User).where(User.phone == "13911113333")).station == station


def test_users_create_refuses_bad_input(runner):
    weak = runner.invoke(args=["users", "create", "--role", "admin", "--phone", "13911114444",
                               "--name", "x", "--password", "12345678"])
    assert weak.exit_code != 0 and "容易被猜到" in weak.output
    bad_role = runner.invoke(args=["users", "create", "--role", "king", "--phone", "13911114444",
                                   "--name", "x", "--password", "river-stone-31"])
    assert bad_role.exit_code != 0


def test_set_password_ends_every_session(runner, client, auth):
    user = auth.login()
    assert count(LoginSession) == 1
    result = runner.invoke(args=["users", "set-password", "--phone", user.phone,
                                 "--password", "fresh-meadow-64"])
    assert result.exit_code == 0, result.output
    assert count(LoginSession) == 0 and client.get("/me/").status_code == 302
