"""Registering, signing in and out, password changes and the sessions behind them."""
import pytest
from sqlalchemy import select

from portal.accounts.models import LoginSession, User
from portal.extensions import db
from tests.conftest import PASSWORD, make_user


def register_data(town, **changes):
    data = {"phone": "１３９ ８７６５ ４３２１", "name": "王小明", "village": str(town.villages[2].id),
            "id_card": "", "password": "mountain-river-77", "password_again": "mountain-river-77",
            "consent": "y"}
    data.update(changes)
    return data


def test_register_normalises_the_phone_and_signs_in(client, forms, town, page):
    response = forms.post("/register", register_data(town))
    assert response.status_code == 302 and response.headers["Location"] == "/me/"
    user = db.session.scalar(select(User).where(User.phone == "13987654321"))
    assert user is not None and user.village == town.villages[2] and not user.is_staff
    me = page(client.get("/me/"))
    assert "139****4321" in me.text() and "13987654321" not in me.text()


@pytest.mark.parametrize("changes, field, words", [
    ({"phone": "12345"}, "phone", "11位"),
    ({"phone": ""}, "phone", "请输入手机号码"),
    ({"password": "12345678", "password_again": "12345678"}, "password", "容易被猜到"),
    ({"password": "abc", "password_again": "abc"}, "password", "至少需要8个字符"),
    ({"password_again": "different-123"}, "password_again", "不一致"),
    ({"village": "0"}, "village", "请选择"),
    ({"village": "99999"}, "village", "请选择"),
    ({"village": "not-a-number"}, "village", "请选择"),
    ({"name": ""}, "name", "请输入姓名"),
    ({"name": "名" * 41}, "name", "40"),
    ({"id_card": "110105194912310021"}, "id_card", "校验位"),
    ({"consent": ""}, "consent", "同意"),
])
def test_register_errors_sit_next_to_their_field(client, forms, town, page, changes, field, words):
    p = page(forms.post("/register", register_data(town, **changes)))
    assert p.status == 422
    assert p.soup.title.get_text().startswith("错误：")
    error = p.soup.select_one(f"#{field}-error")
    assert error is not None and words in error.get_text()
    assert p.soup.select_one(f'.error-summary a[href="#{field}"]')
    assert p.soup.select_one(f"#{field}")["aria-describedby"].endswith(f"{field}-error")
    if field != "name":  # the answers are kept
        assert p.soup.select_one("#name")["value"] == "王小明"
    assert db.session.scalar(select(User.id).where(User.name == "王小明")) is None


def test_a_taken_number_is_a_message_not_a_500(client, forms, town, page):
    make_user("13987654321")
    p = page(forms.post("/register", register_data(town)))
    assert p.status == 422 and "已经注册" in p.text("#phone-error")


def test_id_card_is_kept_but_only_shown_masked(client, forms, town, page):
    forms.post("/register", register_data(town, id_card="11010519491231002x"))
    assert db.session.scalar(select(User.id_card).where(User.phone == "13987654321")) \
        == "11010519491231002X"
    html = client.get("/me/").get_data(as_text=True)
    assert "1101**********002X" in html and "19491231" not in html


def test_login_and_logout(client, forms, auth, page):
    user = make_user("13900000077", name="周到")
    bad = page(forms.post("/login", {"phone": "13900000077", "password": "wrong-password"}))
    assert bad.status == 422 and "不正确" in bad.text(".error-summary")
    ok = forms.post("/login?next=/privacy", {"phone": "139 0000 0077", "password": PASSWORD})
    assert ok.status_code == 302 and ok.headers["Location"] == "/privacy"
    assert "周到" in page(client.get("/me/")).text()
    auth.logout()
    assert client.get("/me/").status_code == 302
    assert db.session.scalar(select(LoginSession).where(LoginSession.user_id == user.id)) is None


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(forms, target):
    make_user("13900000078")
    response = forms.post(f"/login?next={target}", {"phone": "13900000078", "password": PASSWORD})
    assert response.headers["Location"] == "/me/"


def test_a_copied_cookie_stops_working_after_logout(app, client, auth):
    auth.login()
    stolen = client.get_cookie("tb_session").value
    assert client.get("/me/").status_code == 200
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("tb_session", stolen)
    response = thief.get("/me/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_changing_the_password_signs_out_other_browsers(app, client, forms, auth, page):
    user = auth.login()
    other = app.test_client()
    other_forms = type(forms)(other)
    assert other_forms.post("/login", {"phone": user.phone, "password": PASSWORD}).status_code == 302
    assert other.get("/me/").status_code == 200
    weak = page(forms.post("/me/password", {"current": PASSWORD, "password": "11111111",
                                            "password_again": "11111111"}))
    assert weak.status == 422 and weak.errors()
    wrong = page(forms.post("/me/password", {"current": "nope-nope", "password": "new-river-88",
                                             "password_again": "new-river-88"}))
    assert wrong.status == 422 and "当前密码不正确" in wrong.text("#current-error")
    done = forms.post("/me/password", {"current": PASSWORD, "password": "new-river-88",
                                       "password_again": "new-river-88"})
    assert done.status_code == 302
    assert client.get("/me/").status_code == 200      # this browser stays signed in
    assert other.get("/me/").status_code == 302       # the other one is out
    db.session.refresh(user)
    assert user.check_password("new-river-88")


def test_remember_me_makes_a_lasting_cookie_and_plain_login_does_not(client, forms):
    make_user("13900000079")
    forms.post("/login", {"phone": "13900000079", "password": PASSWORD})
    assert client.get_cookie("tb_session").expires is None
    client.delete_cookie("tb_session")
    forms.post("/login", {"phone": "13900000079", "password": PASSWORD, "remember": "y"})
    assert client.get_cookie("tb_session").expires is not None


def test_expired_session_rows_are_not_accepted(client, auth):
    user = auth.login()
    row = db.session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
    from datetime import timedelta
    row.expires_at -= timedelta(days=1)
    db.session.commit()
    assert client.get("/me/").status_code == 302


def test_inactive_accounts_cannot_sign_in(forms, page):
    user = make_user("13900000080")
    user.active = False
    db.session.commit()
    assert page(forms.post("/login", {"phone": "13900000080", "password": PASSWORD})).status == 422
