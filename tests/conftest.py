"""Fixtures in the flaskr style: `app`, `client`, `runner`, `auth`, and a `page` parser.

Every test gets a fresh database whose schema was built by the Alembic migrations: on SQLite
a copy of a migrated template file; on PostgreSQL (when PORTAL_TEST_DATABASE_URL is set) a
database migrated once per run and truncated before each test. Tests that use `app` run on
both; the PostgreSQL runs skip cleanly when no server is configured.
"""
from __future__ import annotations

import os
import re
import shutil
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from bs4 import BeautifulSoup
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from portal import create_app
from portal.accounts.models import User, UserRole
from portal.extensions import db

PASSWORD = "correct-horse-42"


def _shipped_synonyms() -> list[str]:
    """The synonym groups migration 0010 loads (read from the migration itself)."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / "migrations" / "versions" / "0010_default_synonyms.py"
    spec = importlib.util.spec_from_file_location("default_synonyms", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._groups()


SHIPPED_SYNONYMS = _shipped_synonyms()
PG_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")


def make_app(tmp_path, database_url: str, **extra):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "PORTAL_DATA_DIR": str(tmp_path),
        "DATABASE_URL": database_url,
        "RATELIMIT_STORAGE_URI": "memory://",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # scrypt's cost is for attackers, not tests
        "JOBS_QUEUE": "",  # no worker queue: tests call deliveries.send_due() and jobs.run()
    }
    config.update(extra)
    return create_app(config)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A SQLite file migrated once; each test copies it."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.db"
    app = make_app(folder, f"sqlite:///{path}")
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_ready():
    """Migrate the PostgreSQL test database once per run (from an empty schema)."""
    if not PG_URL:
        pytest.skip("PostgreSQL: PORTAL_TEST_DATABASE_URL is not set")
    engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    app = make_app(os.environ.get("TMPDIR", "/tmp"), PG_URL)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "portal.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_ready")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"))]
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        # Put back the rows the migrations ship, as a freshly migrated database has them.
        conn.execute(text("INSERT INTO search_synonyms (terms, updated_at) VALUES (:t, now())"),
                     [{"t": terms} for terms in SHIPPED_SYNONYMS])
    engine.dispose()
    return url


class IsolatedClient(FlaskClient):
    """Runs each request in its own thread, so it gets its own app context, `g` and database
    session, as under a real server, rather than sharing the test's (which would let
    Flask-Login's and Flask-WTF's per-context caches leak from one request into the next)."""

    def open(self, *args, **kwargs):
        with ThreadPoolExecutor(1) as pool:
            response = pool.submit(super().open, *args, **kwargs).result()
        if has_app_context():
            # End the test's own transaction (SQLite WAL readers keep a snapshot) and
            # reload objects, so the test sees what the request committed.
            db.session.commit()
            db.session.expire_all()
        return response


@pytest.fixture
def app(tmp_path, database_url):
    app = make_app(tmp_path, database_url)
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def wide_app(tmp_path, database_url):
    """The app with a connection pool large enough for every thread at once."""
    app = make_app(tmp_path, database_url,
                   SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 55, "max_overflow": 0})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def race(app, n: int, work, refusal: type[Exception]) -> list[str]:
    """Run work(k, barrier) in n threads released together (each waits on the barrier before
    its decisive step), each with its own app context and session. Returns each thread's
    outcome: "ok", or the `code` of the `refusal` it raised."""
    barrier, outcomes = threading.Barrier(n), []

    def run(k):
        with app.app_context():
            try:
                work(k, barrier)
                outcomes.append("ok")
            except refusal as refused:
                outcomes.append(refused.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    db.session.commit()  # end this thread's read snapshot before looking
    return outcomes


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def town(app):
    """The demo town, stations and accounts."""
    from portal.seed import seed_demo
    seed_demo()
    from portal.places.models import Town
    return db.session.scalar(db.select(Town))


# -- pages -------------------------------------------------------------------------------------

@dataclass
class Page:
    response: object
    soup: BeautifulSoup

    @property
    def status(self) -> int:
        return self.response.status_code

    def text(self, selector: str = "body") -> str:
        node = self.soup.select_one(selector)
        return " ".join(node.get_text(" ").split()) if node else ""

    def csrf(self) -> str:
        node = self.soup.select_one('input[name="csrf_token"]')
        assert node is not None, "page has no CSRF token"
        return node["value"]

    def errors(self) -> list[str]:
        return [" ".join(e.get_text(" ").split()) for e in self.soup.select(".error-message")]


def parse(response) -> Page:
    """Parse an HTML page and check what every page must get right."""
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    if soup.find("html") is not None:
        assert len(soup.find_all("h1")) == 1, "a full page has exactly one <h1>"
        ids = Counter(tag["id"] for tag in soup.find_all(id=True))
        assert not [i for i, n in ids.items() if n > 1], f"duplicate ids: {ids.most_common(3)}"
        for form in soup.find_all("form", method=re.compile("post", re.I)):
            assert form.find("input", attrs={"name": re.compile(r"(^|-)csrf_token$")}), \
                f"POST form without CSRF token: {form.get('action')}"
        assert not soup.find("script", src=False), "inline script"
        assert not soup.find("style"), "inline <style>"
        assert not soup.find(style=True), "inline style attribute"
    return Page(response, soup)


@pytest.fixture
def page():
    return parse


class Forms:
    """Submit forms the way a browser does: fetch the page, take its CSRF token, post."""

    def __init__(self, client):
        self.client = client

    def token(self, url: str = "/login") -> str:
        return parse(self.client.get(url)).csrf()

    def post(self, url: str, data: dict, token_from: str | None = None, **kwargs):
        data = {"csrf_token": self.token(token_from or url), **data}
        return self.client.post(url, data=data, **kwargs)


@pytest.fixture
def forms(client):
    return Forms(client)


def make_user(phone: str, *roles: str, station=None, name="测试用户") -> User:
    user = User(phone=phone, name=name, station=station)
    user.set_password(PASSWORD)
    user.role_rows = [UserRole(role=r) for r in roles]
    db.session.add(user)
    db.session.commit()
    return user


class Auth:
    def __init__(self, client, forms):
        self.client, self.forms = client, forms
        self.count = 0

    def login(self, role: str | None = None, phone: str | None = None, **kwargs) -> User:
        """Create an account (with `role`, if given) and sign in through the real form."""
        if phone is None:
            self.count += 1
            phone = f"139{self.count:08d}"
        user = db.session.scalar(db.select(User).where(User.phone == phone))
        if user is None:
            user = make_user(phone, *([role] if role else []), **kwargs)
        response = self.forms.post("/login", {"phone": phone, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return user

    def logout(self):
        return self.forms.post("/logout", {}, token_from="/")


@pytest.fixture
def auth(client, forms):
    return Auth(client, forms)


# -- staff at work, on a frozen clock ----------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
TUESDAY_MORNING = datetime(2026, 11, 24, 9, 5, tzinfo=SHANGHAI)


@pytest.fixture
def clock():
    with time_machine.travel(TUESDAY_MORNING, tick=True) as traveller:
        yield traveller


def sign_in(app, phone: str, *roles: str, station=None, name="工作人员"):
    """A user with `roles`, signed in on a client of their own."""
    user = make_user(phone, *roles, station=station, name=name)
    client = app.test_client()
    forms = Forms(client)

    def login():  # again after the clock has moved past the session's idle limit
        assert forms.post("/login", {"phone": phone, "password": PASSWORD}).status_code == 302

    def post(url, data=None, **kwargs):
        return forms.post(url, data or {}, token_from="/me/", **kwargs)

    login()
    return SimpleNamespace(user=user, client=client, post=post, login=login,
                           get=lambda url, **kw: client.get(url, **kw))


@pytest.fixture
def desk(clock, app, town):
    """Two village stations with a clerk each, town-centre staff, and two items: one that may
    be handled by proxy (SB-001, five materials), one that may not (JY-001)."""
    from portal.booking.models import ServiceItem
    a, b = town.villages[0].station, town.villages[1].station
    item = db.session.scalar(db.select(ServiceItem).where(ServiceItem.code == "SB-001"))
    own = db.session.scalar(db.select(ServiceItem).where(ServiceItem.code == "JY-001"))
    return SimpleNamespace(
        app=app, town=town, a=a, b=b, item=item, own_item=own,
        clerk_a=sign_in(app, "13911110001", "clerk", station=a, name="王窗口"),
        clerk_b=sign_in(app, "13911110002", "clerk", station=b, name="赵窗口"),
        centre=sign_in(app, "13911110003", "town_staff", name="陈中心"))
