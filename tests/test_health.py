"""/healthz tells a load balancer whether this node can serve."""
from tests.conftest import make_app


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_the_database_does_not(tmp_path):
    app = make_app(tmp_path, "postgresql://nobody:nothing@127.0.0.1:9/none?connect_timeout=2")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unavailable"}


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
