"""/healthz tells a load balancer whether this node can serve; a database that does not
answer is a 503 on every page, and the node recovers by itself when it is back."""
import os
import shutil

from sqlalchemy import text

from portal.extensions import db
from tests.conftest import make_app


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "search": "ok",
                                   "uploads": "ok"}


def test_healthz_answers_503_when_the_database_does_not(tmp_path):
    app = make_app(tmp_path, "postgresql://nobody:nothing@127.0.0.1:9/none?connect_timeout=2")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"
    assert response.get_json()["database"] == "unavailable"


def test_healthz_names_a_schema_behind_the_code(app, client):
    from portal.health import expected_revision
    db.session.execute(text("UPDATE alembic_version SET version_num = '0007_volunteer'"))
    db.session.commit()
    try:
        response = client.get("/healthz")
    finally:  # the PostgreSQL test database is shared by the whole run
        db.session.execute(text("UPDATE alembic_version SET version_num = :v"),
                           {"v": expected_revision()})
        db.session.commit()
    assert response.status_code == 503
    assert "0007_volunteer" in response.get_json()["database"]
    assert "flask db upgrade" in response.get_json()["database"]


def test_healthz_says_when_the_upload_folder_cannot_be_written(app, client, tmp_path):
    (tmp_path / "uploads").mkdir(exist_ok=True)
    os.chmod(tmp_path / "uploads", 0o500)
    try:
        if os.access(tmp_path / "uploads", os.W_OK):  # root ignores the mode bits
            shutil.rmtree(tmp_path / "uploads")
            (tmp_path / "uploads").write_text("a file where the folder should be")
        response = client.get("/healthz")
    finally:
        os.chmod(tmp_path / "uploads", 0o700)
    assert response.status_code == 503
    assert response.get_json()["uploads"] == "upload folder not writable"
    assert response.get_json()["database"] == "ok"


def test_a_missing_sqlite_file_is_503_not_a_new_empty_database(tmp_path, sqlite_template):
    """The file moved away and the workers restarted: no empty database appears, pages and
    /healthz say 503 with Retry-After; when the file is back the same process serves again."""
    path = tmp_path / "portal.db"
    app = make_app(tmp_path, f"sqlite:///{path}")  # nothing there yet
    client = app.test_client()
    for url in ("/healthz", "/", "/notices/", "/services/"):
        response = client.get(url)
        assert response.status_code == 503, url
    assert not path.exists()
    page = client.get("/notices/")
    assert page.headers["Retry-After"] == "30"
    assert "暂时无法服务" in page.get_data(as_text=True)
    assert "没有保存" not in page.get_data(as_text=True)  # nothing was sent
    app.config["WTF_CSRF_ENABLED"] = False  # (the token is not what this is about)
    sent = client.post("/login", data={"phone": "13800000001", "password": "x" * 10})
    assert sent.status_code == 503
    assert "您刚才提交的内容没有保存" in sent.get_data(as_text=True)
    app.config["WTF_CSRF_ENABLED"] = True

    shutil.copy(sqlite_template, path)
    assert client.get("/healthz").status_code == 200
    assert client.get("/notices/").status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_hub_shows_sections_search_and_an_empty_notice_list(client, page):
    p = page(client.get("/"))
    for title in ("办事预约", "文明曝光台", "志愿服务", "政策通知"):
        assert title in p.text(".cards")
    assert p.soup.select_one('form[action="/search"][method="get"] input[name="q"]')
    assert "还没有发布通知" in p.text()


def test_the_hub_lists_todays_notices_or_else_the_latest(client, town, page):
    p = page(client.get("/"))
    assert p.text("#notices-title") == "最新通知" and len(p.soup.select("#notices-title + ul li")) == 5
    assert p.soup.select_one('a[href="/notices/"]')
