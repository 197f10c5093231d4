"""Messages leave the building: deliveries planned with the change, sent once by the worker,
retried with back-off, capped, quiet at night; Alibaba Cloud SMS against a stub that checks the
signature as documented; e-mail through a real SMTP server (aiosmtpd)."""
from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import socket
import subprocess
import sys
import textwrap
import threading
import urllib.parse
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from portal import channels, deliveries
from portal.booking import service
from portal.booking.models import ServiceItem
from portal.deliveries import Delivery
from portal.extensions import db
from portal.notifications import Message, notify
from portal.timeutil import local_now, to_utc, utcnow
from flask_babel import lazy_gettext as _l
from tests.conftest import make_user

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def daytime(app):
    """No quiet hours (the suite runs at any hour); the quiet-hours test sets them back."""
    app.config["SMS_QUIET_HOURS"] = (24, 0)


@pytest.fixture
def item(town):
    db.session.execute(delete(Delivery))  # the demo data's own messages
    db.session.commit()
    return db.session.scalar(select(ServiceItem).where(ServiceItem.code == "SB-001"))


def book(town, item, phone, user_id=None, station=None):
    station = station or town.villages[1].station
    now = local_now()
    day, slot = service.first_free(station, "online", now + timedelta(days=1))
    return service.book(item=item, station=station, day=day, starts=slot.starts,
                        channel="online", name="居民", phone=phone, user_id=user_id,
                        idempotency_key=None, now=now)


def sms_of(booking) -> Delivery:
    return db.session.scalar(select(Delivery).join(Message).where(
        Message.booking_id == booking.id, Delivery.channel == "sms"))


def log_lines(app) -> list[dict]:
    path = Path(app.config["PORTAL_DATA_DIR"]) / "messages.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_guest_booking_sends_only_the_code_and_the_station_once(app, town, item):
    booking = book(town, item, "13955550001")
    sms = sms_of(booking)
    assert sms.status == "queued" and sms.template == "brief"
    assert sms.params == {"code": booking.ref, "station": booking.station.name}
    assert deliveries.send_due() == 1
    db.session.refresh(sms)
    assert sms.status == "sent" and sms.provider_id == f"log-{sms.id}" and sms.attempts == 1
    assert deliveries.send_due() == 0  # never twice
    lines = log_lines(app)
    assert [line["out_id"] for line in lines] == [str(sms.id)]
    assert lines[0]["template"] == "TB_BRIEF_ZH" and lines[0]["phone"] == "139****0001"


def test_a_proved_phone_gets_the_full_template_in_its_language(app, town, item):
    user = make_user("13955550002")
    user.phone_verified_at, user.locale = utcnow(), "en"
    db.session.commit()
    booking = book(town, item, user.phone, user_id=user.id)
    sms = sms_of(booking)
    assert sms.template == "booked" and set(sms.params) == {"code", "station", "time"}
    assert deliveries.template_code(sms) == "TB_BOOKED_EN"
    # A phone typed into someone's account but not proved: the brief template only.
    other = make_user("13955550003")
    assert sms_of(book(town, item, other.phone, user_id=other.id)).template == "brief"


def test_an_unreachable_provider_is_retried_with_back_off_then_failed(app, town, item):
    app.config.update(SMS_PROVIDER="aliyun", ALIYUN_ACCESS_KEY_ID="id",
                      ALIYUN_ACCESS_KEY_SECRET="secret",
                      ALIYUN_SMS_ENDPOINT="http://127.0.0.1:9/", DELIVERY_MAX_ATTEMPTS=3)
    sms = sms_of(book(town, item, "13955550004"))
    started = utcnow()
    assert deliveries.send_due() == 0
    db.session.refresh(sms)
    assert sms.status == "queued" and sms.attempts == 1 and "URLError" in sms.last_error
    assert timedelta(seconds=25) < sms.due_at - started < timedelta(seconds=40)
    assert deliveries.send_due() == 0  # not due yet
    for attempt in (2, 3):
        deliveries.send_due(now=sms.due_at + timedelta(seconds=1))
        db.session.refresh(sms)
    assert sms.status == "failed" and sms.attempts == 3
    assert deliveries.backoff(2, 30) == timedelta(minutes=1)
    assert deliveries.backoff(20, 30) == timedelta(hours=1)
    deliveries.resend(sms)
    db.session.commit()
    assert sms.status == "queued" and sms.attempts == 0
    app.config["SMS_PROVIDER"] = "log"
    assert deliveries.send_due() == 1


def test_caps_per_phone_and_per_client_address(app, town, item):
    app.config.update(SMS_PER_PHONE_PER_DAY=2, SMS_PER_CLIENT_PER_DAY=3)
    for n in range(3):
        message = notify(phone="13955550005", user_id=None, kind="status", body="x",
                         code=f"CODE{n}", station="站")
    statuses = db.session.scalars(select(Delivery.status).where(
        Delivery.address == "13955550005").order_by(Delivery.id)).all()
    assert statuses == ["queued", "queued", "refused"]
    refused = db.session.scalar(select(Delivery).where(Delivery.message_id == message.id))
    assert "cap" in refused.last_error
    with app.test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.9"}):
        made = [notify(phone=f"1395555010{n}", user_id=None, kind="status", body="x",
                       code="C", station="S") for n in range(4)]
    planned = [db.session.scalar(select(Delivery.status).where(Delivery.message_id == m.id))
               for m in made]
    assert planned == ["queued", "queued", "queued", "refused"]


def test_quiet_hours_hold_sms_until_eight_unless_about_today(app):
    app.config["SMS_QUIET_HOURS"] = (21, 8)
    night = to_utc(datetime(2026, 12, 1, 22, 30))
    assert deliveries._after_quiet_hours(night, None) == to_utc(datetime(2026, 12, 2, 8, 0))
    assert deliveries._after_quiet_hours(night, night.date()) == night  # today: now
    early = to_utc(datetime(2026, 12, 2, 6, 0))
    assert deliveries._after_quiet_hours(early, None) == to_utc(datetime(2026, 12, 2, 8, 0))
    day = to_utc(datetime(2026, 12, 2, 10, 0))
    assert deliveries._after_quiet_hours(day, None) == day


def test_optional_messages_follow_the_switch_essential_ones_always_go(app, town, item):
    user = make_user("13955550006")
    user.optional_messages = False
    db.session.commit()
    booking = book(town, item, user.phone, user_id=user.id)
    assert sms_of(booking) is not None  # "booked" is essential
    service.send_reminders(booking.day)
    reminder = db.session.scalar(select(Message).where(Message.kind == "reminder",
                                                       Message.user_id == user.id))
    assert reminder is not None and reminder.essential is False
    assert db.session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.message_id == reminder.id)) == 0


# -- Alibaba Cloud SMS against a stub that checks what Alibaba documents ----------------------

class AliyunStub(BaseHTTPRequestHandler):
    """Checks every SendSms request: the common parameters, the action's, and the signature
    (HMAC-SHA1 over GET&%2F&<percent-encoded sorted query>, key = secret + "&")."""
    secret = "test-secret-key"
    seen: list[dict] = []
    answer = {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0",
              "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990"}

    def do_GET(self):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query,
                                            keep_blank_values=True))
        signature = query.pop("Signature", "")
        canonical = "&".join(f"{self.enc(k)}={self.enc(v)}" for k, v in sorted(query.items()))
        to_sign = "GET&%2F&" + self.enc(canonical)
        expected = base64.b64encode(hmac.new(f"{self.secret}&".encode(), to_sign.encode(),
                                             hashlib.sha1).digest()).decode()
        required = {"AccessKeyId", "Action", "Format", "RegionId", "SignatureMethod",
                    "SignatureNonce", "SignatureVersion", "Timestamp", "Version",
                    "PhoneNumbers", "SignName", "TemplateCode"}
        if signature != expected:
            body, status = {"Code": "SignatureDoesNotMatch", "Message": "bad signature"}, 400
        elif not required <= set(query) or query["Action"] != "SendSms" or \
                query["Version"] != "2017-05-25" or query["SignatureMethod"] != "HMAC-SHA1":
            body, status = {"Code": "MissingParameter", "Message": "missing"}, 400
        else:
            AliyunStub.seen.append(query)
            body, status = AliyunStub.answer, 200
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def enc(text):
        return urllib.parse.quote(text, safe="~")

    def log_message(self, *args):
        pass


@pytest.fixture
def aliyun(app):
    server = ThreadingHTTPServer(("127.0.0.1", 0), AliyunStub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    AliyunStub.seen = []
    app.config.update(SMS_PROVIDER="aliyun", ALIYUN_ACCESS_KEY_ID="LTAI-test",
                      ALIYUN_ACCESS_KEY_SECRET=AliyunStub.secret, SMS_SIGN_NAME="通办",
                      ALIYUN_SMS_ENDPOINT=f"http://127.0.0.1:{server.server_port}/")
    yield AliyunStub
    server.shutdown()


def test_aliyun_sendsms_is_signed_and_carries_only_template_parameters(app, town, item, aliyun):
    booking = book(town, item, "13955550007")
    assert deliveries.send_due() == 1
    [query] = aliyun.seen
    assert query["PhoneNumbers"] == "13955550007" and query["SignName"] == "通办"
    assert query["TemplateCode"] == "TB_BRIEF_ZH" and query["OutId"] == str(sms_of(booking).id)
    assert json.loads(query["TemplateParam"]) == {"code": booking.ref,
                                                 "station": booking.station.name}
    assert sms_of(booking).provider_id == "900619746936498440^0"


def test_aliyun_refusals_a_wrong_secret_is_permanent_flow_control_is_retried(app, town, item,
                                                                            aliyun):
    app.config["ALIYUN_ACCESS_KEY_SECRET"] = "wrong"
    sms = sms_of(book(town, item, "13955550008"))
    deliveries.send_due()
    db.session.refresh(sms)
    assert sms.status == "failed" and "SignatureDoesNotMatch" in sms.last_error
    app.config["ALIYUN_ACCESS_KEY_SECRET"] = aliyun.secret
    ok, aliyun.answer = aliyun.answer, {"Code": "isv.BUSINESS_LIMIT_CONTROL",
                                        "Message": "触发分钟级流控"}
    try:
        second = sms_of(book(town, item, "13955550009"))
        deliveries.send_due()
        db.session.refresh(second)
        assert second.status == "queued" and "BUSINESS_LIMIT_CONTROL" in second.last_error
    finally:
        aliyun.answer = ok


def test_the_signature_matches_alibabas_documented_example():
    # Alibaba's RPC signature documentation example (secret "testsecret").
    params = {"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
              "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
              "SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26"}
    assert channels.aliyun_signature(params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


# -- e-mail through a real SMTP server ---------------------------------------------------------

@pytest.fixture
def smtp(app):
    from aiosmtpd.controller import Controller

    class Keep:
        def __init__(self):
            self.mails = []

        async def handle_DATA(self, server, session, envelope):
            self.mails.append(envelope)
            return "250 OK"

    handler = Keep()
    with socket.socket() as probe:  # a free port (the controller checks it by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, MAIL_FROM="tongban@town.example")
    yield handler
    controller.stop()


def test_email_goes_through_smtp_in_the_residents_language(app, town, item, smtp):
    user = make_user("13955550010")
    user.email, user.locale = "resident@example.org", "en"
    db.session.commit()
    booking = book(town, item, user.phone, user_id=user.id)
    by_mail = db.session.scalar(select(Delivery).where(Delivery.channel == "email"))
    assert deliveries.send_due() == 2  # the SMS and the e-mail
    [mail] = smtp.mails
    assert mail.rcpt_tos == ["resident@example.org"]
    parsed = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert parsed["Subject"] == "Tongban: Booked"
    content = parsed.get_body(preferencelist=("plain",)).get_content()
    assert content.startswith("You have booked") and "sent automatically by Tongban" in content
    db.session.refresh(by_mail)
    assert by_mail.status == "sent" and by_mail.provider_id.startswith("<")
    assert booking.ref in by_mail.message.body
    # the booking's calendar file rides along, in the resident's language and the town's time
    from icalendar import Calendar
    [ics] = [part for part in parsed.iter_attachments()]
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_filename() == f"tongban-{booking.ref}.ics"
    [event] = Calendar.from_ical(ics.get_content()).walk("VEVENT")
    assert str(event["summary"]).startswith("Booking:")
    assert event.decoded("dtstart").replace(tzinfo=None) == datetime.combine(booking.day,
                                                                              booking.starts)
    assert str(event.decoded("dtstart").tzinfo) == "Asia/Shanghai"
    assert booking.ref in str(event["description"]) and booking.phone not in ics.get_content()


def test_email_to_a_closed_server_is_retried(app, town, item):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=9)
    user = make_user("13955550011")
    user.email = "resident@example.org"
    db.session.commit()
    book(town, item, user.phone, user_id=user.id)
    deliveries.send_due()
    by_mail = db.session.scalar(select(Delivery).where(Delivery.channel == "email"))
    assert by_mail.status == "queued" and by_mail.attempts == 1 and by_mail.last_error


# -- sent once, with real processes ------------------------------------------------------------

SENDER = textwrap.dedent("""
    import sys, time
    from portal import create_app, deliveries
    from portal.extensions import db
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "PORTAL_DATA_DIR": sys.argv[1],
                      "DATABASE_URL": sys.argv[2], "JOBS_QUEUE": ""})
    with app.app_context():
        while time.time() < float(sys.argv[3]):
            time.sleep(0.01)
        total = 0
        while True:
            sent = deliveries.send_due(limit=20)
            total += sent
            if not sent and not deliveries.due_count():
                break
        print(total)
""")


def test_three_worker_processes_send_each_delivery_once(app, item, tmp_path):
    for n in range(150):
        notify(phone=f"139{n:08d}", user_id=None, kind="status", body="x", code=f"C{n}",
               station="站")
    db.session.commit()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    start = __import__("time").time() + 3
    workers = [subprocess.Popen([sys.executable, "-c", SENDER, str(tmp_path), url, str(start)],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    totals = [int(w.communicate(timeout=180)[0].strip().splitlines()[-1]) for w in workers]
    assert sum(totals) == 150
    out_ids = [line["out_id"] for line in log_lines(app)]
    assert len(out_ids) == 150 and len(set(out_ids)) == 150
    assert db.session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.status == "sent")) == 150


# -- the resident's side: settings and a proved phone -----------------------------------------

def test_a_resident_proves_the_phone_and_sets_e_mail_language_and_the_switch(
        app, town, item, client, auth, forms, page):
    user = auth.login(phone="13955550020")
    assert "验证手机号码" in page(client.get("/me/")).text()
    sent = forms.post("/me/phone/code", {}, token_from="/me/phone")
    assert sent.status_code == 302
    code = db.session.scalar(select(Delivery).where(Delivery.template == "verify")).params["code"]
    assert code not in page(client.get("/me/")).text()  # the code is in the SMS only
    again = forms.post("/me/phone/code", {}, token_from="/me/phone")
    assert "1分钟后" in page(client.get(again.headers["Location"])).text()
    wrong = page(forms.post("/me/phone", {"code": "000000" if code != "000000" else "111111"}))
    assert wrong.status == 422 and "验证码不正确" in wrong.text()
    assert page(forms.post("/me/phone", {"code": "12ab"})).status == 422
    assert forms.post("/me/phone", {"code": code}).status_code == 302
    db.session.refresh(user)
    assert user.phone_verified_at is not None
    bad = page(forms.post("/me/messages", {"email": "not-an-address", "locale": "en"}))
    assert bad.status == 422 and "电子邮箱" in bad.text(".error-summary")
    saved = forms.post("/me/messages", {"email": "me@example.org", "locale": "en"})
    assert saved.status_code == 302
    db.session.refresh(user)
    assert (user.email, user.locale, user.optional_messages) == ("me@example.org", "en", False)
    booking = book(town, item, user.phone, user_id=user.id)
    assert sms_of(booking).template == "booked" and sms_of(booking).locale == "en"


def test_wrong_codes_run_out_and_an_old_code_expires(app, town):
    from portal.accounts import verification
    user = make_user("13955550021")
    sent_at = utcnow()
    code = verification.send_code(user, now=sent_at)
    for _ in range(verification.TRIES):
        with pytest.raises(verification.VerifyRefused, match="wrong"):
            verification.confirm(user, "999999" if code != "999999" else "888888", now=sent_at)
    with pytest.raises(verification.VerifyRefused, match="tries"):
        verification.confirm(user, code, now=sent_at)
    code = verification.send_code(user, now=sent_at + timedelta(minutes=2))
    with pytest.raises(verification.VerifyRefused, match="expired"):
        verification.confirm(user, code, now=sent_at + timedelta(minutes=13))
    assert user.phone_verified_at is None


def test_at_night_the_answer_to_a_guests_own_booking_goes_at_once_a_desk_change_waits(
        app, town, item):
    import time_machine
    from datetime import UTC
    app.config["SMS_QUIET_HOURS"] = (21, 8)
    night = to_utc(datetime(2026, 12, 1, 22, 30)).replace(tzinfo=UTC)
    with time_machine.travel(night, tick=False):
        clerk = make_user("13955550031", "clerk", station=town.villages[1].station)
        booking = book(town, item, "13955550032")
        db.session.commit()
        with app.test_request_context("/services/SB-001/book", method="POST"):  # a guest
            own = sms_of(book(town, item, "13955550030"))
        assert own.due_at == night.replace(tzinfo=None)
        with app.test_request_context("/desk/", method="POST"):
            from flask_login import login_user
            login_user(clerk)
            service.cancel(booking, now=local_now(), actor_id=clerk.id, note="居民来电取消",
                           at_desk=True)
        held = db.session.scalar(select(Delivery).join(Message).where(
            Message.booking_id == booking.id, Message.kind == "cancelled"))
        assert held.due_at == to_utc(datetime(2026, 12, 2, 8, 0))


def test_switching_the_page_language_signed_in_sets_the_language_of_messages(
        app, town, client, auth, forms):
    user = auth.login(phone="13955550040")
    assert user.locale is None
    forms.post("/prefs", {"lang": "en", "next": "/me/"}, token_from="/me/")
    db.session.refresh(user)
    assert user.locale == "en"
    message = notify(phone=user.phone, user_id=user.id, kind="status",
                     body=_l("您提交的随手拍（编号%(id)s）未被采用。理由：%(reason)s", id=7,
                             reason="重复"))
    assert message.body == "Your report (no. 7) was not accepted. Reason: 重复"
