"""Password guessing is slowed down per account and per address, and a stranger cannot keep
a resident out: their own browser (a known device) still signs in."""
import pytest

from tests.conftest import PASSWORD, Forms, make_user

PHONE = "13900000090"


def attempt(client, password, address):
    forms = Forms(client)
    token = forms.token("/login")
    return client.post("/login", data={"csrf_token": token, "phone": PHONE, "password": password},
                       environ_base={"REMOTE_ADDR": address})


@pytest.fixture
def resident(app):
    return make_user(PHONE)


def test_five_failures_from_one_address_block_that_address_for_this_account(client, resident):
    for _ in range(5):
        assert attempt(client, "wrong-guess", "203.0.113.5").status_code == 422
    blocked = attempt(client, PASSWORD, "203.0.113.5")
    assert blocked.status_code == 429
    assert "分钟后再试" in blocked.get_data(as_text=True)
    # The same account from another address is not blocked by one address's guessing.
    assert attempt(client, PASSWORD, "198.51.100.7").status_code == 302


def test_guessing_spread_over_addresses_is_slowed_per_account(app, resident):
    for i in range(10):
        assert attempt(app.test_client(), "wrong-guess", f"203.0.113.{i}").status_code == 422
    stranger = attempt(app.test_client(), PASSWORD, "192.0.2.1")
    assert stranger.status_code == 429


def test_the_residents_own_device_still_gets_in_while_the_account_is_under_attack(app, resident):
    own_phone = app.test_client()
    assert attempt(own_phone, PASSWORD, "192.0.2.50").status_code == 302  # signed in before
    Forms(own_phone).post("/logout", {}, token_from="/")
    for i in range(12):
        attempt(app.test_client(), "wrong-guess", f"203.0.113.{i}")
    assert attempt(app.test_client(), PASSWORD, "192.0.2.51").status_code == 429
    assert attempt(own_phone, PASSWORD, "192.0.2.50").status_code == 302


def test_one_address_trying_many_accounts_is_slowed(app):
    for i in range(30):
        client = app.test_client()
        token = Forms(client).token("/login")
        client.post("/login", data={"csrf_token": token, "phone": f"1370000{i:04d}",
                                    "password": "wrong-guess"},
                    environ_base={"REMOTE_ADDR": "203.0.113.99"})
    make_user("13800009999")
    client = app.test_client()
    token = Forms(client).token("/login")
    response = client.post("/login", data={"csrf_token": token, "phone": "13800009999",
                                           "password": PASSWORD},
                           environ_base={"REMOTE_ADDR": "203.0.113.99"})
    assert response.status_code == 429


def test_login_works_with_rate_limits_switched_off(tmp_path, database_url):
    """RATELIMIT_ENABLED=False (a load test, say) leaves Flask-Limiter without storage."""
    from portal.extensions import db
    from tests.conftest import PASSWORD, Forms, IsolatedClient, make_app, make_user
    app = make_app(tmp_path, database_url, RATELIMIT_ENABLED=False)
    app.test_client_class = IsolatedClient  # each request its own session, as under a server
    with app.app_context():
        make_user("13911119999")
        forms = Forms(app.test_client())
        wrong = forms.post("/login", {"phone": "13911119999", "password": "wrong-one-1"})
        right = forms.post("/login", {"phone": "13911119999", "password": PASSWORD})
        assert (wrong.status_code, right.status_code) == (422, 302)
        db.session.remove()
        db.engine.dispose()
