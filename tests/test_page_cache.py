"""The public pages a worker keeps (portal/page_cache.py): kept for new visitors, never for a
signed-in person, and never served after the content they show changed — by a form, a bulk
UPDATE, the clock — on any worker process."""
from __future__ import annotations

import re
import urllib.request
from datetime import timedelta

import time_machine
from sqlalchemy import select, update

from portal import page_cache
from portal.booking.models import ServiceItem
from portal.civility.models import Report
from portal.extensions import db
from portal.notices import workflow
from portal.notices.models import Notice
from portal.page_cache import AREAS, ContentStamp
from portal.timeutil import utcnow
from portal.volunteer.models import Activity
from tests.conftest import sign_in
from tests.live import gunicorn
from tests.test_notices import VALUES, published


def stamps() -> dict[str, int]:
    db.session.commit()
    return dict(db.session.execute(select(ContentStamp.area, ContentStamp.stamp)).all())


def board_counts(app) -> int:
    from portal.civility import workflow as civility
    with app.test_request_context():
        counted = sum(civility.counts().values())
    db.session.commit()  # end the read the request context began (as a GET's: deferred)
    return counted


def test_every_table_belongs_to_an_area_or_is_said_to_belong_to_none():
    missing = set(db.metadata.tables) - set(AREAS)
    assert not missing, f"add these tables to page_cache.AREAS: {sorted(missing)}"


def test_a_write_moves_its_areas_stamp_in_its_own_commit_and_a_rollback_does_not(app, town):
    before = stamps()
    item = db.session.scalar(select(ServiceItem))
    item.name = item.name + "（新）"
    db.session.commit()
    after = stamps()
    assert after["catalogue"] != before["catalogue"]
    assert {k: v for k, v in after.items() if k != "catalogue"} == \
        {k: v for k, v in before.items() if k != "catalogue"}
    # a bulk UPDATE through the session
    db.session.execute(update(Notice).values(pinned=False))
    db.session.commit()
    assert stamps()["notices"] != after["notices"]
    # rolled back: nothing moves, and nothing is left over for the next commit
    now = stamps()
    db.session.execute(update(Activity).values(title="x"))
    db.session.rollback()
    db.session.commit()
    assert stamps() == now
    # a savepoint rolled back inside a transaction that commits: the outer write still counts
    # (the savepoint's own areas move too: one page rendered again, never one stale)
    db.session.execute(update(Report).values(place="y"))
    with db.session.begin_nested() as nested:
        db.session.execute(update(Notice).values(pinned=False))
        nested.rollback()
    db.session.commit()
    moved = stamps()
    assert moved["civility"] != now["civility"]


def test_a_new_visitor_gets_the_kept_page_with_a_token_of_their_own(app, town, client):
    first = client.get("/notices/")
    again = app.test_client().get("/notices/")
    assert first.status_code == again.status_code == 200
    assert "X-Page-Cache" not in first.headers and again.headers["X-Page-Cache"] == "hit"
    tokens = [re.search(r'name="csrf_token" value="([^"]+)"', r.get_data(as_text=True))
              for r in (first, again)]
    assert all(tokens) and tokens[0].group(1) != tokens[1].group(1)
    assert page_cache._CSRF.decode() not in again.get_data(as_text=True)
    # the token on the kept page is this visitor's: their form goes through
    visitor = app.test_client()
    html = visitor.get("/notices/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    switched = visitor.post("/prefs", data={"csrf_token": token, "lang": "en", "next": "/"})
    assert switched.status_code == 302
    english = visitor.get("/notices/")
    assert "<h1>Policy notices</h1>" in english.get_data(as_text=True)  # a variant of its own


def test_personal_pages_htmx_and_flash_messages_pass_by(app, town, client):
    shown = int(re.search(r"/volunteer/activities/(\d+)",
                          app.test_client().get("/volunteer/").get_data(as_text=True)).group(1))
    activity = f"/volunteer/activities/{shown}"
    app.test_client().get(activity), app.test_client().get(activity)
    resident = sign_in(app, "13911190001", name="张居民")
    # a page that shows the person (the activity: "you have signed up") is never shared…
    assert "X-Page-Cache" not in resident.get(activity).headers
    assert "X-Page-Cache" not in resident.get(activity).headers
    # …one that does not is, per layout: signed in, with a logout of this session's own
    resident.get("/volunteer/")
    shared = resident.get("/volunteer/")
    html = shared.get_data(as_text=True)
    assert shared.headers["X-Page-Cache"] == "hit" and 'action="/logout"' in html
    anonymous = app.test_client().get("/volunteer/").get_data(as_text=True)
    assert 'action="/logout"' not in anonymous
    with resident.client.session_transaction() as session:
        token = session["csrf_token"]
    from flask_wtf.csrf import validate_csrf
    mark = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    with app.test_request_context():
        from flask import session as request_session
        request_session["csrf_token"] = token
        validate_csrf(mark)  # the kept page carries this person's own token
    assert "张居民" not in str(page_cache.pages()._lru)
    assert "X-Page-Cache" not in client.get("/volunteer/", headers={"HX-Request": "true"}).headers
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "已保存")]
    flashed = client.get("/volunteer/")
    assert "已保存" in flashed.get_data(as_text=True) and "X-Page-Cache" not in flashed.headers
    assert "已保存" not in app.test_client().get("/volunteer/").get_data(as_text=True)


def test_a_page_that_flashes_while_it_renders_is_not_kept(app, town, monkeypatch):
    from flask import flash
    from portal.notices import views
    real = views.filtered

    def flashing(form):
        flash("只给这一位看的提示", "success")
        return real(form)
    monkeypatch.setattr(views, "filtered", flashing)
    assert "只给这一位看的提示" in app.test_client().get("/notices/").get_data(as_text=True)
    monkeypatch.setattr(views, "filtered", real)
    assert "只给这一位看的提示" not in app.test_client().get("/notices/").get_data(as_text=True)


def test_each_kind_of_staff_change_shows_on_the_next_request(app, town):
    visitor = app.test_client
    editor = sign_in(app, "13911190002", "editor", name="刘编辑")
    # warm every page, then change what each shows
    notice = published(editor.user, title="旧标题的通知")
    for url in ("/", "/notices/", f"/notices/{notice.id}", "/kiosk/", "/services/",
                "/civility/", "/volunteer/"):
        visitor().get(url), visitor().get(url)
    draft = workflow.save(notice, editor.user, **{**VALUES, "title": "新标题的通知"})
    assert editor.post(f"/editor/notices/{draft.id}/publish", {"when": "now"}).status_code == 302
    for url in ("/", "/notices/", f"/notices/{notice.id}"):
        assert "新标题的通知" in visitor().get(url).get_data(as_text=True), url
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == "SB-001"))
    item.name = "改过名的事项"
    db.session.commit()
    assert "改过名的事项" in visitor().get("/services/").get_data(as_text=True)
    shown = int(re.search(r"/volunteer/activities/(\d+)",
                          visitor().get("/volunteer/").get_data(as_text=True)).group(1))
    db.session.execute(update(Activity).where(Activity.id == shown).values(title="改过名的活动"))
    db.session.commit()
    assert "改过名的活动" in visitor().get("/volunteer/").get_data(as_text=True)
    assert "改过名的活动" in visitor().get(f"/volunteer/activities/{shown}").get_data(as_text=True)
    visitor().get("/civility/"), visitor().get("/civility/")
    from portal.civility import workflow as civility
    counted = board_counts(app)
    from portal.civility.models import ReportCategory
    moderator = sign_in(app, "13911190005", "moderator", name="王审核")
    report = civility.submit(moderator.user, kind="uncivil",
                             category=db.session.scalar(select(ReportCategory)),
                             description="乱堆杂物", place="独一无二的桥头", occurred_at=utcnow(),
                             processed=[])
    db.session.commit()
    civility.verify(report, moderator.user)
    civility.publish_issue(moderator.user, [report.id])
    db.session.commit()
    assert "独一无二的桥头" in visitor().get("/civility/").get_data(as_text=True)
    assert board_counts(app) == counted + 1  # the board's all-time counts follow the stamp


def test_a_scheduled_notice_appears_at_its_minute_without_any_write(app, town):
    editor = sign_in(app, "13911190003", "editor", name="刘编辑")
    soon = utcnow().replace(second=0, microsecond=0) + timedelta(minutes=2)
    notice = workflow.save(None, editor.user, **{**VALUES, "title": "定时发布的通知"})
    workflow.submit(notice, editor.user)
    workflow.publish(notice, editor.user, at=soon)
    db.session.commit()
    assert "定时发布的通知" not in app.test_client().get("/notices/").get_data(as_text=True)
    with time_machine.travel(soon + timedelta(seconds=1), tick=False):
        assert "定时发布的通知" in app.test_client().get("/notices/").get_data(as_text=True)


def test_a_change_shows_on_every_worker_process_at_once(app, town, tmp_path, database_url):
    """Two gunicorn workers, each with its own kept pages: both kept the list; a change made
    by a third process shows on every one of the next requests."""
    notice = published(sign_in(app, "13911190004", "editor").user)
    with gunicorn(database_url, tmp_path, workers=2, threads=1) as base:
        def fetch():
            # a new connection (and a new visitor) each time: the workers take turns
            with urllib.request.urlopen(base + "/notices/", timeout=10) as response:
                return response.headers.get("X-Page-Cache"), response.read().decode()
        warm = [fetch() for _ in range(30)]
        assert sum(1 for hit, _ in warm if hit == "hit") >= 20
        db.session.execute(update(Notice).where(Notice.id == notice.id)
                           .values(title="两个进程都要看到的标题"))
        db.session.commit()
        after = [fetch() for _ in range(20)]
        assert all("两个进程都要看到的标题" in html for _, html in after)
        assert sum(1 for hit, _ in after if hit == "hit") >= 10  # and kept again


def test_a_search_finds_a_new_notice_once_the_index_has_it(app, town, monkeypatch):
    """Whoosh: the rows change first, the index after (whoever drains the queue). A search
    between the two must not be kept past the index's change. (PostgreSQL: no between.)"""
    from portal.search import drain, service
    editor = sign_in(app, "13911190006", "editor", name="刘编辑")
    service.reindex()  # the index exists (a first search would start building it)
    url = "/search?q=" + urllib.request.quote("防汛演练")

    def titles():  # the titles found (marked; the "latest notices" beside no results are not)
        html = app.test_client().get(url).get_data(as_text=True)
        return re.sub("<[^>]+>", "", " ".join(re.findall(r"[^<>]*(?:<mark>[^<]*</mark>[^<>]*)+",
                                                          html)))
    for _ in range(2):
        assert "关于开展防汛演练的通知" not in titles()
    notice = workflow.save(None, editor.user, **{**VALUES, "title": "关于开展防汛演练的通知"})
    workflow.submit(notice, editor.user)
    workflow.publish(notice, editor.user)
    db.session.commit()
    if service.backend() == "postgres":  # the documents were written with the rows
        assert "关于开展防汛演练的通知" in titles()
        return
    with monkeypatch.context() as patched:  # a search between the commit and the index
        patched.setattr(service, "drain", lambda *args, **kwargs: 0)
        assert "关于开展防汛演练的通知" not in titles()
    drain()
    assert "关于开展防汛演练的通知" in titles()


def test_a_booking_moves_no_stamp(app, town):
    """Places taken move the station's usage version (the booking pages key on it), not the
    places area every public page shows: bookings do not empty the kept pages."""
    from portal.booking import service
    from portal.timeutil import local_now
    before = stamps()
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == "SB-001"))
    station = town.villages[2].station
    day, slot = service.first_free(station, "online", local_now() + timedelta(days=1))
    service.book(item=item, station=station, day=day, starts=slot.starts, channel="online",
                 name="居民", phone="13966660001", user_id=None, idempotency_key=None,
                 now=local_now())
    db.session.commit()
    assert stamps() == before
    station.name = station.name + "（新址）"  # but a real change to the station does
    db.session.commit()
    assert stamps()["places"] != before["places"]
