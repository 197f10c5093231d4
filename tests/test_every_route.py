"""The safety net: every GET route opened, and every form submitted with hostile values.

A page no test opens is a page that is broken. On the demo data, as anonymous and as every
demo role, this walks `app.url_map` and opens every GET route with real ids, as a page and as
htmx asks for it (no status >= 500, every status line valid, nothing logged as an error);
then it collects every form on the pages it reached and submits each field with a corpus of
hostile values: no status >= 500, no hostile markup reflected unescaped, and nothing saved
before changed by a refused submission.
"""
from __future__ import annotations

import hashlib
import itertools
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import inspect, select, text
from werkzeug.datastructures import MultiDict

from portal.accounts.models import User
from portal.booking import service
from portal.booking.models import Booking, ServiceItem
from portal.civility import workflow as civility
from portal.civility.models import Appeal, Issue, Photo, Report
from portal.desk.models import Ticket
from portal.extensions import db
from portal.kiosk.views import HALL_COOKIE, hall_token
from portal.notices.models import Notice, NoticeAttachment, NoticeRevision
from portal.places.models import Station, Town, Village
from portal.points.models import Partner, Reward
from portal.ratings.models import FollowUp
from portal.seed import DEMO_PASSWORD
from portal.timeutil import local_now
from portal.volunteer.models import Activity, ServiceOrder, Wish
from tests.conftest import Forms, IsolatedClient, make_app

ROOT = Path(__file__).resolve().parent.parent
# Who walks: anonymous and every demo account (README "Demo accounts").
ROLES = {"anonymous": None, "resident": "13800000001", "clerk": "13800000101",
         "town_staff": "13800000201", "editor": "13800000301", "moderator": "13800000401",
         "coordinator": "13800000501", "department": "13800000601", "partner": "13800000701",
         "admin": "13800000901"}
# Pages that end or reset what the walker is doing: opened, but their forms not submitted.
NOT_SUBMITTED = ("/logout",)
MARKUP = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
# One value per class; every form gets every class at least once.
HOSTILE = {
    "huge": "9" * 22,
    "negative": "-1",
    "nan": "NaN",
    "infinity": "1e309",
    "full-width digits": "１２３４５",
    "control": "a\x00b\x01\r\n\x1b[31mc\x7f",
    "rtl override": "\u202eevil\u2066x\u2069",
    "astral": "𠀀𠮷😀𝕏",
    "long": "长a" * 50_000,
    "markup": MARKUP,
    "template": "{{7*7}}{% for x in range(9) %}${7*7}#{7*7}<%= 7*7 %>",
    "sql": "' OR 1=1 --; DROP TABLE users; SELECT pg_sleep(5)",
    "path": "../../../../etc/passwd",
    "impossible date": "2026-02-30",
    "impossible time": "25:61",
    "blank": "   ",
    "zero width": "\u200b\ufeff",
}


@pytest.fixture
def demo(tmp_path, database_url):
    """The demo data, rate limits off (the fuzzer is one very busy person), plus what the
    demo lacks for every route to have something to show: an attachment and an appeal."""
    app = make_app(tmp_path, database_url, RATELIMIT_ENABLED=False)
    app.test_client_class = IsolatedClient
    with app.app_context():
        from portal.seed import seed_demo
        seed_demo()
        _extras()
        yield app
        db.session.remove()
        db.engine.dispose()


def _extras() -> None:
    from portal import uploads
    notice = db.session.scalar(select(Notice).where(Notice.status == "published")
                               .order_by(Notice.id))
    with db.session.no_autoflush:
        from flask import current_app
        with current_app.test_request_context():
            stored = uploads.store("notices", b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n", "pdf")
    db.session.add(NoticeAttachment(notice=notice, filename="附件.pdf",
                                    stored_name=stored.stored_name, kind="pdf",
                                    size=stored.size, sha256=stored.sha256,
                                    uploaded_by=notice.created_by))
    public = next(r for r in db.session.scalars(select(Report)) if r.public(local_now()))
    civility.appeal(public, name="被曝光人", phone="13900001111", text="照片里不是我的摊位。")
    from portal.deliveries import Delivery  # one failed SMS: its resend form is walked too
    failed = db.session.scalar(select(Delivery).order_by(Delivery.id))
    failed.status, failed.last_error = "failed", "isv.MOBILE_NUMBER_ILLEGAL"
    _hall()
    db.session.commit()


def _hall() -> None:
    """At the demo clerk's station today, a ticket called to window 1 and a skipped one (on
    any day, the station open or not), so the calling panel shows every button."""
    from datetime import time

    from portal import refs
    from portal.desk import tickets
    from portal.timeutil import local_today, utcnow
    clerk = db.session.scalar(select(User).where(User.phone == ROLES["clerk"]))
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == "SB-001"))
    for n, status in enumerate(("called", "skipped")):
        booking = Booking(ref=refs.new_code(), item=item, station_id=clerk.station_id,
                          day=local_today(), starts=time(8, 30), ends=time(9), channel="walkin",
                          status="checked_in", name="叫号演示", phone=f"1370009{n:04d}",
                          checked_in_at=utcnow())
        db.session.add(booking)
        db.session.flush()
        ticket = tickets.issue(booking, priority=False, actor_id=None)
        ticket.status, ticket.window, ticket.called_at = status, 1, utcnow()


# -- every GET route ------------------------------------------------------------------------------

def _first(model, *where, column=None):
    column = column if column is not None else model.id
    return db.session.scalar(select(column).where(*where).order_by(column).limit(1))


def _values() -> dict[str, list]:
    """Real values for each URL argument, taken from the demo data."""
    booking = db.session.scalar(select(Booking).where(Booking.status == "booked")
                                .order_by(Booking.id))
    refs = [booking.ref] + list(db.session.scalars(select(Booking.ref).where(
        Booking.status.in_(("completed", "returned"))).order_by(Booking.id).limit(1)))
    return {
        "activity_id": [_first(Activity)], "appeal_id": [_first(Appeal)],
        "case_id": [_first(FollowUp)], "code": ["SB-001"], "notice_id": [_first(Notice)],
        "order_id": [_first(ServiceOrder)], "photo_id": [_first(Photo)],
        "ref": refs, "report_id": [_first(Report)], "station_id": [booking.station_id],
        "town_id": [_first(Town)], "user_id": [_first(User, User.phone == "13800000101")],
        "village_id": [_first(Village)], "wish_id": [_first(Wish)],
        "number": [_first(Issue, column=Issue.number)], "filename": ["css/portal.css"],
        "ticket": [_first(Ticket, column=Ticket.code)],
        "partner_id": [_first(Partner)], "reward_id": [_first(Reward)],
    }


def _urls(app) -> list[str]:
    """One or two concrete URLs for every GET rule, with real ids; dependent ids together."""
    values = _values()
    attachment = db.session.scalar(select(NoticeAttachment).order_by(NoticeAttachment.id))
    revision = db.session.scalar(select(NoticeRevision).order_by(NoticeRevision.id))
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == "SB-001"))
    station = db.session.get(Station, values["station_id"][0])
    day, slot = service.first_free(station, "online", local_now())
    special = {
        ("attachment_id", "notice_id"): [{"notice_id": attachment.notice_id,
                                           "attachment_id": attachment.id}],
        ("notice_id", "number"): [{"notice_id": revision.notice_id, "number": revision.number}],
        ("code", "day", "station_id"): [{"code": item.code, "station_id": station.id,
                                          "day": day.isoformat()}],
        ("code", "day", "hhmm", "station_id"): [{"code": item.code, "station_id": station.id,
                                                  "day": day.isoformat(),
                                                  "hhmm": f"{slot.starts:%H%M}"}],
    }
    urls = []
    with app.test_request_context():
        from flask import url_for
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods:
                continue
            names = tuple(sorted(rule.arguments))
            if names in special:
                choices = special[names]
            else:
                options = []
                for name in names:
                    converter = rule._converters[name]
                    if hasattr(converter, "items"):  # <any(a, b):name>
                        options.append([(name, v) for v in converter.items])
                    else:
                        options.append([(name, v) for v in values[name] if v is not None])
                choices = [dict(combo) for combo in itertools.product(*options)]
            urls += [url_for(rule.endpoint, **args) for args in choices]
    return sorted(set(urls))


def _client(app, role: str):
    client = app.test_client()
    phone = ROLES[role]
    if phone:
        response = Forms(client).post("/login", {"phone": phone, "password": DEMO_PASSWORD})
        assert response.status_code == 302, (role, response.status_code)
    if role == "clerk":  # at window 1: the calling panel shows its buttons
        assert Forms(client).post("/desk/window", {"window": "1"},
                                  token_from="/desk/").status_code == 302
    return client


STATUS_LINE = re.compile(r"^[1-5]\d\d( [^\r\n]*)?$")


class ErrorLog(logging.Handler):
    """Collects what the app logs as an error (a 500, a 503, an out-of-range number)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(record.getMessage())


@pytest.fixture
def errors(demo):
    handler = ErrorLog()
    demo.logger.addHandler(handler)
    yield handler.records
    demo.logger.removeHandler(handler)


@dataclass
class Walked:
    pages: dict[str, dict[str, str]]  # role → url → HTML of the pages that answered 200
    clients: dict[str, object]  # role → its browser (the forms' CSRF tokens are its session's)
    kiosks: dict[str, object]  # role → a kiosk browser (opening /kiosk/ makes one)


def walk(app, errors) -> Walked:
    """Open every URL as every role."""
    urls = _urls(app)
    assert len(urls) > 90, len(urls)
    walked = Walked({}, {}, {})
    for role in ROLES:
        client = walked.clients[role] = _client(app, role)
        kiosk_client = walked.kiosks[role] = app.test_client()
        kiosk_client.set_cookie(HALL_COOKIE, hall_token(_first(Station)))  # a set-up kiosk
        pages = walked.pages[role] = {}
        for url in urls:
            kiosk = url.startswith("/kiosk")  # would turn this browser into a kiosk
            browser = kiosk_client if kiosk else client
            response = browser.get(url)
            assert response.status_code < 500 and STATUS_LINE.match(response.status), \
                (role, url, response.status)
            fragment = browser.get(url, headers={"HX-Request": "true"})  # htmx asks for part
            assert fragment.status_code < 500 and STATUS_LINE.match(fragment.status), \
                (role, url, "HX-Request", fragment.status)
            if response.status_code == 200 and response.mimetype == "text/html":
                pages[url] = response.get_data(as_text=True)
    assert not errors, errors[:5]
    return walked


def test_every_get_route_answers_every_role_without_a_server_error(demo, errors):
    pages = walk(demo, errors).pages
    # The walk really reached the staff pages as staff (not only their login redirects).
    assert "/desk/" in pages["clerk"] and "/desk/" not in pages["resident"]
    assert "/admin/" in pages["admin"] and "/volunteer/manage/hours" in pages["coordinator"]
    assert "/editor/notices" in pages["editor"]
    # …and the hall's forms: the calling panel's buttons, the kiosk's ticket machine.
    assert all(path in pages["clerk"]["/desk/"] for path in (
        "/desk/call", "/recall", "/skip", "/transfer", "/requeue"))
    assert 'action="/kiosk/ticket"' in pages["anonymous"]["/kiosk/ticket"]


# -- every form, hostile values ---------------------------------------------------------------------

@dataclass
class Form:
    role: str
    page: str
    action: str
    method: str
    fields: list[tuple[str, str, str]]  # (name, type, value the page gave)
    seen: set = field(default_factory=set)

    def key(self) -> tuple:
        path = re.sub(r"/\d+", "/N", urlsplit(self.action).path)
        return (self.role, self.method, path, tuple(sorted(n for n, _t, _v in self.fields)))


def forms_on(role: str, url: str, html: str) -> list[Form]:
    found = []
    for node in BeautifulSoup(html, "html.parser").find_all("form"):
        action = urljoin(url, node.get("action") or url)
        if urlsplit(action).path.startswith(NOT_SUBMITTED):
            continue
        fields = []
        for tag in node.find_all(["input", "select", "textarea"]):
            name = tag.get("name")
            kind = tag.get("type", tag.name).lower() if tag.name == "input" else tag.name
            if not name or kind in ("submit", "button", "file", "image", "reset"):
                continue
            if kind in ("checkbox", "radio") and not tag.has_attr("checked"):
                value = tag.get("value", "on")
            elif tag.name == "select":
                chosen = tag.find("option", selected=True) or tag.find("option")
                value = chosen.get("value", chosen.get_text()) if chosen else ""
            elif tag.name == "textarea":
                value = tag.get_text()
            else:
                value = tag.get("value", "")
            fields.append((name, kind, value))
        found.append(Form(role, url, action, (node.get("method") or "get").lower(), fields))
    return found


def digest() -> dict[str, str]:
    """What is saved: a hash per table (the login sessions' last-seen times excepted)."""
    out = {}
    with db.engine.connect() as conn:
        for name in sorted(inspect(db.engine).get_table_names()):
            if name in ("login_sessions", "known_devices", "alembic_version"):
                continue
            h = hashlib.sha256()
            for row in conn.execute(text(f'SELECT * FROM "{name}"')).all():
                h.update(repr(sorted(map(str, row))).encode())
            out[name] = h.hexdigest()
    return out


def changed(before: dict, after: dict) -> list[str]:
    return [name for name in after if before.get(name) != after[name]]


def submissions(form: Form, depth: int) -> list[tuple[str, dict]]:
    """(what, data) for this form: every class in every field at once, then each field with
    `depth` classes on its own (the other fields as the page gave them), the classes rotating
    from field to field."""
    base = [(n, v) for n, _t, v in form.fields]
    fuzzable = [i for i, (n, t, _v) in enumerate(form.fields) if not n.endswith("csrf_token")]
    out = []
    for what, value in HOSTILE.items():
        out.append((f"all={what}", [(n, value if i in fuzzable else v)
                                    for i, (n, v) in enumerate(base)]))
    classes = list(HOSTILE.items())
    for k, i in enumerate(fuzzable):
        for what, value in (classes[(depth * k + j) % len(classes)] for j in range(depth)):
            data = list(base)
            data[i] = (base[i][0], value)
            out.append((f"{base[i][0]}={what}", data))
    return out


def _fresh_token(client, form: Form) -> str | None:
    """The CSRF token the form's page gives now ("" for a form without one); None when the
    page no longer shows the form."""
    response = client.get(form.page)
    if response.status_code != 200:
        return None
    for again in forms_on(form.role, form.page, response.get_data(as_text=True)):
        if again.action == form.action and again.method == form.method:
            return next((v for n, _t, v in again.fields if n.endswith("csrf_token")), "")
    return None


def _said(response) -> str:
    """The heading and first error of a page, to say where an assertion failed."""
    if response.mimetype != "text/html":
        return response.mimetype
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    parts = [soup.find("h1"), soup.select_one(".error-summary li, .error-page p")]
    return " | ".join(p.get_text(" ", strip=True)[:80] for p in parts if p)


def _settled_digest():
    """What is saved, once work an accepted submission started in the background is done
    (a synonym change rebuilds the search documents: on PostgreSQL those are rows)."""
    from portal.search import service
    thread = service._rebuild_thread
    if thread is not None:
        thread.join(timeout=120)
    return digest()


def _reflected(response) -> bool:
    if not response.mimetype.startswith("text/"):
        return False  # a spreadsheet or a photo: not rendered by the browser as a page
    body = response.get_data(as_text=True)
    return "<script>alert(1)</script>" in body or "<img src=x onerror" in body


def test_every_form_survives_hostile_values(demo, errors):
    walked = walk(demo, errors)
    pages = walked.pages
    # A form every role sees alike (the preferences, the search box, an appeal, a like) is
    # fuzzed once, by the first role in ROLES that reaches it (anonymous before a resident
    # before staff); a staff form by the first role whose pages show it.
    forms, seen = [], set()
    for role, by_url in pages.items():
        for url, html in by_url.items():
            for form in forms_on(role, url, html):
                if form.key()[1:] not in seen:
                    seen.add(form.key()[1:])
                    forms.append(form)
    assert len(forms) > 60, len(forms)
    # Sampled (the suite runs on both databases): every form gets every class at least once
    # in all its fields; each field on its own gets one class on SQLite, rotating.
    depth = 1 if db.engine.dialect.name == "sqlite" else 0
    statuses: dict[int, int] = {}
    count, baseline = 0, None  # baseline: what is saved, when known to be current
    for form in forms:
        kiosk = form.page.startswith("/kiosk")  # a kiosk page's forms, in the kiosk browser
        client = (walked.kiosks if kiosk else walked.clients)[form.role]
        token = _fresh_token(client, form)  # what came before may have reset the session
        for what, data in submissions(form, depth):
            if token is None:
                break  # the page is gone (the fuzzing before removed what it showed)
            data = [(n, token if n.endswith("csrf_token") else v) for n, v in data]
            target = urlsplit(form.action)
            path = target.path + (f"?{target.query}" if target.query else "")
            if form.method == "post":
                baseline = baseline or _settled_digest()
                response = client.post(path, data=MultiDict(data))
            else:
                response = client.get(target.path + "?" + urlencode(data))
            count += 1
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            where = (form.role, form.method, path, what, response.status_code,
                     _said(response))
            assert response.status_code < 500 and STATUS_LINE.match(response.status), where
            assert not _reflected(response), where
            if form.method == "post" and response.status_code >= 400:
                after = digest()
                assert after == baseline, ("a refused submission changed saved data", where,
                                           changed(baseline, after))
            elif form.method == "post" or response.mimetype != "text/html":
                baseline = None  # accepted (or an export, which audits): saved data moved on
            if response.status_code in (302, 303):
                token = _fresh_token(client, form)  # a login, a reset: the session moved on
    assert not errors, errors[:5]
    # What was saved with hostile values shows escaped on every page that shows it.
    for role in ("anonymous", "clerk", "moderator", "coordinator", "admin", "editor"):
        client = _client(demo, role)
        for url in pages[role]:
            if not url.startswith("/kiosk"):
                assert not _reflected(client.get(url)), (role, url)
    fields = sum(len({n for n, _t, _v in f.fields}) for f in forms)
    print(f"fuzzed {len(forms)} forms ({fields} fields, {len(HOSTILE)} value classes) with "
          f"{count} submissions; statuses {dict(sorted(statuses.items()))}")
