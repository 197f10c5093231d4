"""Notices: the editorial workflow and its permissions, revisions, sanitising, attachments,
the public list and feed, and the JSON Lines importer."""
from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from datetime import date, datetime

import pytest
from PIL import Image
from bs4 import BeautifulSoup
import time_machine
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.extensions import db
from portal.notices import workflow
from portal.notices.models import Notice
from portal.notices.workflow import NoticeRefused
from portal.search import drain, query_index
from portal.search.models import SearchOutbox
from portal.timeutil import utcnow
from tests.conftest import SHANGHAI, sign_in

VALUES = dict(title="关于做好秋季防火工作的通知", doc_number="青政发[2026]7号", agency="青禾镇人民政府",
              category="应急管理", written_on=date(2026, 10, 8), validity="valid",
              body="## 一、总体要求\n\n严禁野外用火。\n\n- 各村要巡查\n- 发现火情及时报告",
              body_format="markdown")


@pytest.fixture
def office(app):
    """An editor and a town-staff writer, signed in on their own clients."""
    from types import SimpleNamespace
    return SimpleNamespace(editor=sign_in(app, "13911120001", "editor", name="刘编辑"),
                           writer=sign_in(app, "13911120002", "town_staff", name="陈写手"))


def published(editor_user, **overrides) -> Notice:
    notice = workflow.save(None, editor_user, **{**VALUES, **overrides})
    workflow.submit(notice, editor_user)
    workflow.publish(notice, editor_user)
    # Apply the queued index change, as the request that published it would have: else a
    # later search finds no index, starts a rebuild thread, and its writes race the test's.
    drain()
    return notice


def found(text: str, **kwargs) -> list[str]:
    """Titles found, after applying what is queued (as the next request would)."""
    from flask import current_app
    drain()
    with current_app.test_request_context():  # hits link to pages: url_for needs a request
        return [re.sub("<[^>]+>", "", str(h.title)) for h in query_index(text, **kwargs).hits]


# -- workflow -----------------------------------------------------------------------------------

def test_draft_review_publish_withdraw_through_the_pages(office, client, page):
    writer, editor = office.writer, office.editor
    response = writer.post("/editor/notices/new", {**VALUES, "written_on": "2026-10-08"})
    notice_id = int(response.headers["Location"].rsplit("/", 1)[1])
    notice = db.session.get(Notice, notice_id)
    assert (notice.status, notice.doc_number, notice.revision) == ("draft", "青政发〔2026〕7号", 1)
    assert client.get(f"/notices/{notice_id}").status_code == 404  # not public yet
    writer.post(f"/editor/notices/{notice_id}", {**VALUES, "title": VALUES["title"] + "（修订）"})
    writer.post(f"/editor/notices/{notice_id}/submit")
    assert writer.post(f"/editor/notices/{notice_id}/publish", {"when": "now"}).status_code == 403
    editor.post(f"/editor/notices/{notice_id}/publish", {"when": "now"})
    db.session.refresh(notice)
    assert notice.status == "published" and notice.revision == 2
    shown = page(client.get(f"/notices/{notice_id}"))
    assert "（修订）" in shown.text("h1") and "青政发〔2026〕7号" in shown.text(".notice-meta")
    assert shown.soup.select_one(".notice-body h2").get_text() == "一、总体要求"
    assert found("秋季防火") == [notice.title]
    editor.post(f"/editor/notices/{notice_id}/withdraw")
    assert client.get(f"/notices/{notice_id}").status_code == 404
    assert found("秋季防火") == []
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == "Notice", AuditEvent.object_id == str(notice_id))).all()
    assert actions == ["notice.saved", "notice.saved", "notice.submit", "notice.publish",
                       "notice.withdraw"]


def test_refused_steps(office):
    notice = workflow.save(None, office.writer.user, **VALUES)
    with pytest.raises(NoticeRefused) as early:
        workflow.publish(notice, office.editor.user)  # a draft must be reviewed first
    assert early.value.code == "invalid"
    workflow.submit(notice, office.writer.user)
    with pytest.raises(NoticeRefused) as role:
        workflow.publish(notice, office.writer.user)
    assert role.value.code == "role"
    workflow.publish(notice, office.editor.user)
    workflow.withdraw(notice, office.editor.user)
    with pytest.raises(NoticeRefused):
        workflow.save(notice, office.editor.user, **VALUES)  # withdrawn: restore first
    workflow.restore(notice, office.editor.user)
    assert notice.status == "draft" and notice.publish_at is None


def test_a_scheduled_notice_appears_by_itself_at_its_time(office, client, page):
    with time_machine.travel(datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI), tick=False) as clock:
        office.editor.login()
        notice = workflow.save(None, office.editor.user, **VALUES)
        workflow.submit(notice, office.editor.user)
        office.editor.post(f"/editor/notices/{notice.id}/publish",
                           {"when": "later", "day": "2026-11-25", "at": "08:00"})
        db.session.refresh(notice)
        assert notice.status == "published" and notice.published_on == date(2026, 11, 25)
        assert client.get(f"/notices/{notice.id}").status_code == 404
        assert notice.title not in page(client.get("/notices/")).text()
        assert found("秋季防火") == []
        clock.move_to(datetime(2026, 11, 25, 8, 1, tzinfo=SHANGHAI))
        assert client.get(f"/notices/{notice.id}").status_code == 200
        assert notice.title in page(client.get("/notices/")).text()
        assert found("秋季防火") == [notice.title]


def test_every_edit_is_a_revision_that_can_be_viewed(office, page):
    notice = workflow.save(None, office.editor.user, **VALUES)
    workflow.save(notice, office.editor.user, **{**VALUES, "body": VALUES["body"] + "\n\n新增一段。"})
    listing = page(office.editor.get(f"/editor/notices/{notice.id}/revisions"))
    assert len(listing.soup.select(".revisions li")) == 2
    second = page(office.editor.get(f"/editor/notices/{notice.id}/revisions/2"))
    assert "+新增一段。" in second.text(".diff")
    assert office.editor.get(f"/editor/notices/{notice.id}/revisions/9").status_code == 404


def test_people_without_an_editor_role_cannot_reach_the_editor_pages(app, auth, client):
    assert client.get("/editor/notices").status_code == 302  # to the login
    auth.login()  # a resident
    assert client.get("/editor/notices").status_code == 403
    assert client.get("/editor/notices/new").status_code == 403


# -- sanitising ---------------------------------------------------------------------------------

ATTACKS = ('<script>alert(1)</script>', '<img src=x onerror=alert(1)>',
           '"><svg onload=alert(1)>', "javascript:alert(1)")


def test_script_and_event_handlers_never_reach_a_page(office, client, page):
    evil = " ".join(ATTACKS)
    body = f"{evil}\n\n[点我](javascript:alert(1)) <a href=\"#\" onclick=\"x()\">x</a>\n\n<iframe src=//x>"
    notice = published(office.editor.user, title=f"通知{evil}", doc_number=evil[:60],
                       agency=evil[:80], category=evil[:60], body=body)
    for url in (f"/notices/{notice.id}", "/notices/", "/search?q=通知", "/"):
        html = client.get(url).get_data(as_text=True)
        soup = page(client.get(url)).soup
        assert not soup.find("script", src=False), url
        assert not soup.find(["iframe", "svg"]), url
        assert not [t for t in soup.find_all(True) if any(a.startswith("on") for a in t.attrs)], url
        assert 'href="javascript:' not in html, url
    # In the feed, titles are text constructs (readers show them as text); the HTML
    # content is the sanitised body.
    root = ET.fromstring(client.get("/notices/feed.xml").data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    for entry in root.findall("a:entry", ns):
        assert entry.find("a:title", ns).get("type", "text") == "text"
        content = BeautifulSoup(entry.find("a:content", ns).text, "html.parser")
        assert not content.find(["script", "img", "svg", "iframe"])
        assert not [t for t in content.find_all(True) if any(a.startswith("on") for a in t.attrs)]
    plain = published(office.editor.user, title="纯文本", body=evil, body_format="plain")
    shown = page(client.get(f"/notices/{plain.id}"))
    assert "<script>alert(1)</script>" in shown.text(".notice-body")  # shown as text


# -- attachments --------------------------------------------------------------------------------

def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def jpeg(size=(40, 30)) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", size, "red").save(out, "JPEG")
    return out.getvalue()


def upload(client_post, notice, data: bytes, name: str):
    return client_post(f"/editor/notices/{notice.id}/attachments",
                       {"file": (io.BytesIO(data), name)}, content_type="multipart/form-data",
                       follow_redirects=True)


@pytest.mark.parametrize("data, name, kind", [(pdf(), "办事指南.pdf", "pdf"),
                                              (docx(), "申请表.docx", "docx"),
                                              (jpeg(), "照片.JPG", "jpeg")])
def test_attachments_are_checked_by_content_and_downloaded_safely(office, client, data, name, kind):
    notice = published(office.editor.user)
    upload(office.editor.post, notice, data, name)
    db.session.refresh(notice)
    (item,) = notice.attachments
    response = client.get(f"/notices/{notice.id}/attachments/{item.id}")
    if kind == "jpeg":  # images are re-encoded (upright, no metadata): see the test below
        assert item.kind == kind and item.size == len(response.data)
        assert Image.open(io.BytesIO(response.data)).format == "JPEG"
    else:
        assert item.kind == kind and item.size == len(data)
        assert response.data == data
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_photo_attached_to_a_notice_is_served_upright_and_without_its_metadata(office,
                                                                                client):
    """A phone photo (EXIF GPS, orientation 6: stored sideways) was served to anyone byte for
    byte, where the editor stood included. It goes through the civility photos' treatment."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° to show
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (29.0, 30.0, 0.0), 3: "E", 4: (120.0, 10.0, 0.0)})
    out = io.BytesIO()
    Image.new("RGB", (60, 20), "red").save(out, "JPEG", exif=exif)
    assert Image.open(io.BytesIO(out.getvalue())).getexif().get_ifd(0x8825)
    notice = published(office.editor.user)
    upload(office.editor.post, notice, out.getvalue(), "现场.jpg")
    db.session.refresh(notice)
    (item,) = notice.attachments
    served = client.get(f"/notices/{notice.id}/attachments/{item.id}").data
    image = Image.open(io.BytesIO(served))
    assert image.size == (20, 60)  # upright
    assert not image.getexif() and b"PhoneMaker" not in served and "exif" not in image.info
    assert item.size == len(served)


@pytest.mark.parametrize("data, name, words", [
    (b"just some text, honestly", "年报.pdf", "只能上传"),
    (jpeg()[:200], "cut.jpg", "只能上传"),
    (b"<html><script>alert(1)</script></html>", "x.docx", "只能上传"),
    (b"", "empty.pdf", "文件是空的"),
    (pdf() + b"0" * (10 * 1024 * 1024), "big.pdf", "不能超过10 MB"),
])
def test_bad_attachments_are_refused_with_a_message(office, data, name, words, page):
    notice = published(office.editor.user)
    shown = page(upload(office.editor.post, notice, data, name))
    assert words in shown.text(".notice-error")
    db.session.refresh(notice)
    assert notice.attachments == []


def test_attachments_of_unpublished_notices_stay_private(office, client):
    notice = workflow.save(None, office.editor.user, **VALUES)
    upload(office.editor.post, notice, pdf(), "a.pdf")
    db.session.refresh(notice)
    url = f"/notices/{notice.id}/attachments/{notice.attachments[0].id}"
    assert client.get(url).status_code == 404
    staff = f"/editor/notices/{notice.id}/attachments/{notice.attachments[0].id}"
    assert office.editor.get(staff).status_code == 200


# -- the public list and the feed --------------------------------------------------------------

def test_the_list_puts_pinned_first_filters_and_pages(office, client, page):
    editor = office.editor.user
    old = published(editor, title="旧通知", category="农业农村", agency="农业办")
    for n in range(22):
        published(editor, title=f"通知{n:02d}", category="民政")
    workflow.pin(old, editor, True)
    first = page(client.get("/notices/"))
    titles = [a.get_text() for a in first.soup.select(".notice-list li > a")]
    assert titles[0] == "旧通知" and len(titles) == 20
    assert first.soup.select_one('a[rel="next"]')
    second = page(client.get("/notices/?page=2"))
    assert len(second.soup.select(".notice-list li")) == 3
    only = page(client.get("/notices/?category=农业农村"))
    assert [a.get_text() for a in only.soup.select(".notice-list li > a")] == ["旧通知"]
    year = date.today().year
    assert len(page(client.get(f"/notices/?year={year}")).soup.select(".notice-list li")) == 20
    assert "没有符合条件的通知" in page(client.get("/notices/?year=1999")).text()
    fragment = client.get("/notices/?category=民政", headers={"HX-Request": "true"})
    assert b"<html" not in fragment.data and "通知21".encode() in fragment.data
    assert client.get("/notices/?page=abc&year=x&category=%00").status_code == 200


def test_the_atom_feed_lists_the_latest(office, client):
    for n in range(3):
        published(office.editor.user, title=f"第{n}号通知 <&>")
    response = client.get("/notices/feed.xml")
    assert response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.find("a:title", ns).text for e in root.findall("a:entry", ns)]
    assert titles == ["第2号通知 <&>", "第1号通知 <&>", "第0号通知 <&>"]


# -- import ------------------------------------------------------------------------------------

def test_import_reports_bad_lines_and_lands_the_good_ones(runner, tmp_path):
    good = dict(title="关于做好村级微心愿征集的通知", doc_number="青文明〔2026〕9号", agency="青禾镇文明办",
                category="精神文明", published_at="2026-11-02", body="第一段。\n第二段，微心愿认领。")
    lines = [json.dumps(good, ensure_ascii=False), "{not json", json.dumps({"title": "无正文"}),
             json.dumps({**good, "published_at": "2026-13-45"}), "",
             json.dumps({**good, "title": "另一条"}, ensure_ascii=False), "[1, 2]",
             json.dumps({**good, "title": "长" * 201}, ensure_ascii=False)]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    result = runner.invoke(args=["notices", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 2 notices, skipped 5 lines" in result.output
    for number in (2, 3, 4, 7, 8):
        assert f"line {number}:" in result.output
    assert "published_at" in result.output and "JSON" in result.output
    notices = db.session.scalars(select(Notice).order_by(Notice.id)).all()
    assert [n.status for n in notices] == ["published", "published"]
    assert notices[0].published_on == date(2026, 11, 2) and notices[0].live(utcnow())
    assert found("微心愿 征集") == ["关于做好村级微心愿征集的通知"]
    assert db.session.scalar(select(func.count()).select_from(SearchOutbox)) == 0
