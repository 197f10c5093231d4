"""Headers, CSRF, caching of personal pages, error pages, and the role guard on every staff route."""
import re

import pytest

from portal.accounts.models import ROLES
from tests.conftest import make_app

# Blueprints anyone may open. Every other blueprint must declare its staff roles
# (security.staff_only), so a new area cannot forget its guard.
PUBLIC_BLUEPRINTS = {"main", "accounts", "kiosk", "hall", "booking", "ratings", "notices",
                     "search", "civility", "volunteer", "points", "dashboard", "api", "mydata"}


def test_security_headers_on_every_page(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_session_cookie_is_httponly_lax_and_secure_outside_debug(tmp_path, client, auth):
    auth.login()
    cookie = client.get_cookie("tb_session")
    assert cookie.http_only and cookie.same_site == "Lax"
    production = make_app(tmp_path, "sqlite://", TESTING=False)
    assert production.config["SESSION_COOKIE_SECURE"] is True


def test_every_post_needs_a_csrf_token(client, auth):
    auth.login()
    response = client.post("/logout")
    assert response.status_code == 400 and "页面已过期" in response.get_data(as_text=True)


def test_htmx_requests_send_the_token_as_a_header(client, page):
    token = page(client.get("/")).soup.body["hx-headers"]
    value = re.search(r'"X-CSRFToken": "([^"]+)"', token).group(1)
    response = client.post("/prefs", data={"elder": "on", "next": "/"},
                           headers={"HX-Request": "true", "X-CSRFToken": value})
    assert response.status_code == 302


def test_personal_pages_are_not_stored_and_keep_no_htmx_history(client, auth, page):
    assert client.get("/").headers["Cache-Control"] == "no-cache"
    auth.login()
    response = client.get("/me/")
    assert response.headers["Cache-Control"] == "no-store"
    assert page(response).soup.body["hx-history"] == "false"


def test_htmx_is_configured_for_the_csp_and_shared_screens(client, page):
    import json
    meta = page(client.get("/")).soup.find("meta", attrs={"name": "htmx-config"})
    config = json.loads(meta["content"])
    assert config["includeIndicatorStyles"] is False and config["allowEval"] is False
    assert config["selfRequestsOnly"] is True and config["historyCacheSize"] == 0
    assert config["historyRestoreAsHxRequest"] is False
    assert any(rule["code"] == "422" and rule["swap"] for rule in config["responseHandling"])


@pytest.mark.parametrize("url, code, words", [
    ("/no-such-page", 404, "页面不存在"),
    ("/logout", 405, "请求方式不正确"),
])
def test_friendly_error_pages(client, page, url, code, words):
    p = page(client.get(url))
    assert p.status == code and words in p.text("h1")


def test_a_500_shows_no_traceback(tmp_path, database_url, page):
    app = make_app(tmp_path, database_url, TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    p = page(app.test_client().get("/boom"))
    assert p.status == 500 and "系统出错了" in p.text("h1")
    assert "secret internals" not in p.text() and "Traceback" not in p.text()


def test_too_large_uploads_get_a_413_page(client, forms, page):
    token = forms.token("/login")
    body = {"csrf_token": token, "phone": "x" * (17 * 1024 * 1024)}
    p = page(client.post("/login", data=body))
    assert p.status == 413 and "文件太大" in p.text("h1")


def sample_url(rule) -> str:
    """The rule's URL with 1 for every argument (an `any(...)` argument: its first choice)."""
    values = {name: sorted(conv.items)[0] if hasattr(conv, "items") else "1"
              for name, conv in rule._converters.items()}
    return re.sub(r"<(?:[^>]*:)?([^>:]+)>", lambda m: values[m.group(1)], rule.rule)


def staff_rules(app):
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0]
        if rule.endpoint == "static" or blueprint in PUBLIC_BLUEPRINTS:
            continue
        roles = getattr(app.blueprints.get(blueprint), "staff_roles", None)
        assert roles, f"{rule.endpoint} is neither public nor guarded by staff_only"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, roles


def test_every_route_is_public_or_guarded(app):
    assert list(staff_rules(app)), "no staff routes found: the walk is not looking"


def test_staff_routes_answer_403_to_everyone_without_the_role(app, auth, forms):
    rules = list(staff_rules(app))
    for role in (None, *ROLES):
        client = app.test_client()
        auth.client, auth.forms = client, type(forms)(client)
        auth.login(role=role, phone=f"1370000{(ROLES.index(role) + 1 if role else 0):04d}")
        token = auth.forms.token("/")
        for rule, method, roles in rules:
            if role in roles:
                continue
            url = sample_url(rule)
            response = client.open(url, method=method, data={"csrf_token": token})
            assert response.status_code == 403, f"{role} {method} {url}: {response.status_code}"


def test_staff_routes_send_anonymous_visitors_to_login(app, forms):
    client = app.test_client()
    token = type(forms)(client).token("/")
    for rule, method, _roles in staff_rules(app):
        url = sample_url(rule)
        response = client.open(url, method=method, data={"csrf_token": token})
        if method == "GET":
            assert response.status_code == 302 and "/login" in response.headers["Location"]
        else:
            assert response.status_code == 403, f"{method} {url}"


def test_registration_floods_get_a_friendly_429(client, forms, page):
    token = forms.token("/register")
    codes = [client.post("/register", data={"csrf_token": token, "phone": "1"}).status_code
             for _ in range(20)]
    assert set(codes) == {422}
    p = page(client.post("/register", data={"csrf_token": token, "phone": "1"}))
    assert p.status == 429 and "操作太频繁" in p.text("h1") and "Retry-After" in p.response.headers


def test_render_gives_htmx_the_partial_and_everyone_else_the_full_page(tmp_path, database_url):
    from portal.web import render
    app = make_app(tmp_path, database_url)

    @app.route("/demo-partial")
    def demo():
        return render("errors/error.html", "errors/_error.html", code=200, title="T",
                      message="M", detail=None)

    client = app.test_client()
    full = client.get("/demo-partial")
    part = client.get("/demo-partial", headers={"HX-Request": "true"})
    restore = client.get("/demo-partial", headers={"HX-Request": "true",
                                                   "HX-History-Restore-Request": "true"})
    boosted = client.get("/demo-partial", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert b"<html" in full.data and b"<html" not in part.data
    assert b"<html" in restore.data and b"<html" in boosted.data
    assert "HX-Request" in full.headers["Vary"] and "HX-Request" in part.headers["Vary"]


def test_a_template_variable_named_status_is_a_variable_not_the_http_status(tmp_path,
                                                                             database_url):
    """`render(..., status="pending")` once became the status line `HTTP/1.1 0 pending` (the
    coordinator's hours page, the editor's status filter): a 500 from gunicorn."""
    from portal.web import render
    app = make_app(tmp_path, database_url)

    @app.route("/demo-status")
    def demo():
        return render("errors/error.html", code=200, title="T", message="M", detail=None,
                      status="pending", partial="not a template")

    @app.route("/demo-422")
    def refused():
        return render("errors/error.html", code=422, title="T", message="M", detail=None), 422

    response = app.test_client().get("/demo-status")
    assert response.status == "200 OK"
    assert app.test_client().get("/demo-422").status_code == 422


def test_htmx_errors_get_a_fragment(client):
    response = client.get("/no-such-page", headers={"HX-Request": "true"})
    assert response.status_code == 404 and b"<html" not in response.data
    assert "页面不存在".encode() in response.data


@pytest.mark.parametrize("url", ["/notices/?category=%00&agency=a%00b&page=%00",
                                 "/search?q=%00%00&kind=%00&category=%00",
                                 "/services/?q=%00", "/bookings/%00"])
def test_nul_characters_in_links_are_ignored_not_a_500(client, town, url):
    assert client.get(url).status_code in (200, 404)


def test_nul_characters_in_forms_are_ignored_not_a_500(client, forms, town):
    response = forms.post("/login", {"phone": "1380000\x000001", "password": "x\x00y"})
    assert response.status_code == 422


@pytest.mark.parametrize("url", ["/services/SB%00-1", "/services/%00/book", "/desk/bookings/%00"])
def test_nul_characters_in_paths_are_a_404_not_a_500(client, town, auth, url):
    auth.login(role="town_staff")
    assert client.get(url).status_code == 404
