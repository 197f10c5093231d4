"""Kiosk mode, the idle reset, language and elder mode."""
import time

from portal.accounts.sessions import SEEN_KEY
from tests.conftest import PASSWORD, make_user


def become_kiosk(client):
    response = client.get("/kiosk/")
    assert response.status_code == 200 and client.get_cookie("tb_kiosk").value == "1"
    return response


def test_kiosk_pages_are_not_stored_and_reset_when_idle(client, page):
    p = page(become_kiosk(client))
    assert p.response.headers["Cache-Control"] == "no-store"
    assert p.soup.body["hx-history"] == "false" and p.soup.body["data-idle-reset"] == "90"
    assert p.soup.select_one("form#kiosk-reset")


def test_kiosk_login_offers_no_remember_me(client, page):
    become_kiosk(client)
    assert page(client.get("/login")).soup.select_one("#remember") is None
    assert page(client.get("/login", headers={})).status == 200


def test_idle_kiosk_session_is_cleared_on_the_server(client, forms):
    become_kiosk(client)
    make_user("13900000066")
    forms.post("/login", {"phone": "13900000066", "password": PASSWORD, "remember": "y"})
    assert client.get_cookie("tb_session").expires is None  # never kept on a kiosk
    assert client.get("/me/").status_code == 200
    forms.post("/prefs", {"elder": "on", "next": "/me/"}, token_from="/me/")
    with client.session_transaction() as session:
        session[SEEN_KEY] = int(time.time()) - 91
    response = client.get("/me/")
    assert response.status_code == 302 and response.headers["Location"] == "/kiosk/"
    assert client.get_cookie("tb_elder") is None  # the next person starts with defaults
    assert client.get("/me/").status_code == 302  # signed out for good


def test_the_reset_button_signs_out_and_forgets_preferences(client, forms):
    become_kiosk(client)
    make_user("13900000067")
    forms.post("/login", {"phone": "13900000067", "password": PASSWORD})
    forms.post("/prefs", {"elder": "on", "next": "/kiosk/"}, token_from="/kiosk/")
    assert client.get_cookie("tb_elder").value == "1"
    response = forms.post("/kiosk/reset", {}, token_from="/kiosk/")
    assert response.headers["Location"] == "/kiosk/"
    assert client.get_cookie("tb_elder") is None
    assert client.get("/me/").status_code == 302


def test_reset_posted_late_by_the_idle_timer_still_works(client, forms):
    become_kiosk(client)
    token = forms.token("/kiosk/")
    with client.session_transaction() as session:
        session[SEEN_KEY] = int(time.time()) - 200
    response = client.post("/kiosk/reset", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/kiosk/"


def test_leaving_kiosk_mode(client, forms):
    become_kiosk(client)
    forms.post("/kiosk/leave", {}, token_from="/kiosk/")
    assert client.get_cookie("tb_kiosk") is None


def test_english_and_back(client, forms, page):
    zh = page(client.get("/"))
    assert zh.soup.html["lang"] == "zh-CN" and "办事预约" in zh.text()
    forms.post("/prefs", {"lang": "en", "next": "/login"}, token_from="/")
    en = page(client.get("/login"))
    assert en.soup.html["lang"] == "en" and "Sign in" in en.text("h1")
    forms.post("/prefs", {"lang": "zh", "next": "/"}, token_from="/")
    assert "登录" in page(client.get("/login")).text("h1")


def test_elder_mode_stays_on_across_pages_and_logins(client, forms, auth, page):
    forms.post("/prefs", {"elder": "on", "next": "/"}, token_from="/")
    assert "elder" in page(client.get("/register")).soup.html["class"]
    auth.login()
    auth.logout()
    p = page(client.get("/"))
    assert "elder" in p.soup.html["class"]
    assert p.soup.select_one('button[name="elder"]')["aria-pressed"] == "true"
    forms.post("/prefs", {"elder": "off", "next": "/"}, token_from="/")
    assert "elder" not in page(client.get("/")).soup.html.get("class", [])


def test_prefs_ignore_unknown_values_and_foreign_redirects(client, forms):
    response = forms.post("/prefs", {"lang": "xx", "elder": "maybe",
                                     "next": "https://evil.example/"}, token_from="/")
    assert response.headers["Location"] == "/"
    assert client.get_cookie("tb_lang") is None and client.get_cookie("tb_elder") is None


def test_the_shared_layout_carries_each_requests_own_values(app, page, auth):
    """The layout is rendered once per variant and kept (templating.page_chrome): each
    person must still get their own CSRF token, path, navigation and language."""
    first, second = app.test_client(), app.test_client()
    odd = '/privacy?a="><b>x</b>'
    one = page(first.get(odd))
    assert one.soup.select_one('form[action="/prefs"] input[name="next"]')["value"] == odd
    assert "<b>x</b>" not in one.response.get_data(as_text=True)
    two = page(second.get("/privacy"))
    assert one.csrf() != two.csrf()
    for p in (one, two):  # the body's htmx header carries the page's own token
        assert p.csrf() in p.soup.body["hx-headers"]
    # Someone signed in with the admin role, in the same worker: their own links.
    auth.login(role="admin")
    admin = page(auth.client.get("/privacy"))
    assert admin.soup.select_one('a[href="/admin/"]') and admin.soup.select_one(
        'form[action="/logout"]')
    three = page(app.test_client().get("/privacy"))
    assert three.soup.select_one('a[href="/admin/"]') is None
    assert three.soup.select_one('a[href="/login"]')
    english = app.test_client()
    english.set_cookie("tb_lang", "en")
    assert page(english.get("/privacy")).soup.html["lang"] == "en"
    assert page(app.test_client().get("/privacy")).soup.html["lang"] == "zh-CN"
