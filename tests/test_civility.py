"""The civility board: the photo pipeline and bad uploads, the state machine, who may see
and do what, that nothing unverified or unredacted is ever public, rectification, appeals
and retention."""
from __future__ import annotations

import io
import re
import struct
import zlib
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from PIL import Image
from sqlalchemy import func, select

from portal.civility import photos, workflow
from portal.civility.models import Appeal, Photo, Report, ReportCategory, ReportEvent
from portal.civility.workflow import CivilityRefused
from portal.extensions import db
from portal.uploads import UploadRefused, path_of
from tests.conftest import SHANGHAI, sign_in


# -- images ------------------------------------------------------------------------------------

def jpeg(size=(640, 480), color="red", gps=None, orientation=None, comment=None) -> bytes:
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "DemoPhone"  # Make
    exif[0x0132] = "2026:11:24 09:00:00"  # DateTime
    if orientation:
        exif[0x0112] = orientation
    if gps:
        lat, lon = gps
        exif[0x8825] = {1: "N", 2: _dms(lat), 3: "E", 4: _dms(lon)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=comment or b"")
    return out.getvalue()


def _dms(value: float):
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 2)
    return (degrees, minutes, seconds)


def png_bomb(side: int = 50_000) -> bytes:
    """A PNG whose header claims side × side pixels (the data never needs to exist)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + \
        chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")


def no_metadata(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        return not image.getexif() and not {"exif", "icc_profile", "comment", "xmp"} & set(image.info)


def test_kept_photos_are_upright_re_encoded_and_carry_no_metadata(app):
    done = photos.process(jpeg((640, 480), gps=(30.25, 119.9), orientation=6))
    assert (done.latitude, done.longitude) == (30.25, 119.9)
    stored = (app.config["PORTAL_DATA_DIR"] + "/uploads/civility/" + done.original)
    data = open(stored, "rb").read()
    assert no_metadata(data) and b"DemoPhone" not in data
    assert (done.width, done.height) == (480, 640)  # turned by its EXIF orientation


def test_heic_photos_are_accepted(app):
    import pillow_heif  # noqa: F401  (registered by portal.civility.photos)
    out = io.BytesIO()
    Image.new("RGB", (300, 200), "blue").save(out, format="HEIF")
    assert photos.process(out.getvalue()).width == 300


@pytest.mark.parametrize("data, words", [
    (b"this is just text, named photo.jpg", "不是照片"),
    (jpeg()[:-400], "不是照片"),
    (png_bomb(), "像素太多"),
    (jpeg() + b"<html><script>alert(1)</script></html>", "夹带"),
    (jpeg() + b"PK\x03\x04" + b"\x00" * 200, "夹带"),
    (jpeg(comment=b"<?php system($_GET['c']); ?>"), "夹带"),
    (b"\xff\xd8\xff" + b"\x00" * (11 * 1024 * 1024), "太大"),
])
def test_bad_uploads_are_refused_with_a_message(app, data, words):
    with pytest.raises(UploadRefused) as refused:
        photos.process(data)
    assert words in str(refused.value.message)


# -- reporting through the pages ---------------------------------------------------------------

@pytest.fixture
def board(clock, app, town):
    """The demo board (departments, categories, two issues), a resident, a moderator and
    the demo department account."""
    from portal.accounts.models import User
    from portal.civility.demo import seed_civility
    resident = sign_in(app, "13911140001", name="居民甲")
    seed_civility(db.session.get(User, resident.user.id))
    moderator = sign_in(app, "13911140002", "moderator", name="审核员")
    department_account = sign_in(app, "13911140003", "department", name="执法队")
    first = db.session.scalar(select(Report).where(Report.department_id.is_not(None)))
    department_account.user.department_id = first.department_id
    db.session.commit()
    return SimpleNamespace(app=app, resident=resident, moderator=moderator,
                           department=department_account,
                           category=db.session.scalar(select(ReportCategory).where(
                               ReportCategory.name == "占道经营")))


def submit(board, files, **fields):
    data = {"kind": "uncivil", "category": board.category.id, "description": "摊贩占用人行道",
            "place": "东岭村集市", "day": "2026-11-24", "at": "08:30", **fields}
    data["photos"] = [(io.BytesIO(content), name) for name, content in files]
    return board.resident.post("/civility/report", data, content_type="multipart/form-data")


def newest() -> Report:
    return db.session.scalar(select(Report).order_by(Report.id.desc()))


def test_a_report_is_hidden_until_verified_and_published(board, client, page):
    response = submit(board, [("a.jpg", jpeg(gps=(30.25, 119.9))), ("b.png", _png())])
    assert response.status_code == 302
    report = newest()
    assert report.status == "submitted" and len(report.photos) == 2
    assert report.latitude == 30.25  # kept private, for duplicate finding
    assert client.get(f"/civility/items/{report.id}").status_code == 404
    for photo in report.photos:
        assert client.get(f"/civility/photos/{photo.id}/full").status_code == 404
    tracking = page(board.resident.get(f"/me/reports/{report.id}"))
    assert "待审核" in tracking.text(".status")
    with pytest.raises(CivilityRefused) as early:
        workflow.verify(report, board.moderator.user)  # photos not yet redacted
    assert early.value.code == "photos"
    with pytest.raises(CivilityRefused) as waiting:  # the detector has not looked yet
        workflow.redact(report.photos[0], board.moderator.user, [])
    assert waiting.value.code == "detecting"
    assert workflow.propose_pending() == (2, 0)  # plain colours: nothing to propose
    board.moderator.post(f"/civility/moderate/photos/{report.photos[0].id}/redact",
                         {"boxes": "10,10,100,80\n300,200,120,60"})
    board.moderator.post(f"/civility/moderate/photos/{report.photos[1].id}/redact",
                         {"hide": "y"})
    board.moderator.post(f"/civility/moderate/reports/{report.id}/verify")
    db.session.refresh(report)
    assert report.status == "verified" and client.get(f"/civility/items/{report.id}").status_code == 404
    board.moderator.post("/civility/moderate/issues/new", {"report": [report.id]})
    db.session.refresh(report)
    assert report.status == "published" and report.issue.number == 3
    shown = page(client.get(f"/civility/issues/{report.issue.number}"))
    assert "摊贩占用人行道" in shown.text() and "居民甲" not in shown.text()
    public = client.get(f"/civility/photos/{report.photos[0].id}/full")
    assert public.status_code == 200 and no_metadata(public.data)
    with Image.open(io.BytesIO(public.data)) as image:
        assert image.getpixel((50, 50)) == (0, 0, 0) or max(image.getpixel((50, 50))) < 20
        assert image.getpixel((600, 50))[0] > 200  # red where nothing was painted
    assert client.get(f"/civility/photos/{report.photos[1].id}/full").status_code == 404


def _png() -> bytes:
    out = io.BytesIO()
    info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    info.add_text("Author", "someone private")
    Image.new("RGB", (200, 100), "green").save(out, "PNG", pnginfo=info)
    return out.getvalue()


def test_a_bad_photo_gets_a_message_and_the_rest_is_kept(board, page):
    shown = page(submit(board, [("ok.jpg", jpeg()), ("notes.jpg", b"not an image at all")],
                        description="在河道倒垃圾"))
    assert shown.status == 422 and "notes.jpg" in shown.text(".error-summary")
    assert shown.soup.select_one("#description").get_text().strip() == "在河道倒垃圾"
    assert shown.soup.select_one("#place")["value"] == "东岭村集市"
    assert db.session.scalar(select(func.count()).where(Report.description == "在河道倒垃圾")) == 0


def test_a_30_mb_photo_is_refused_without_losing_the_form(board, page):
    big = b"\xff\xd8\xff" + b"\x00" * (30 * 1024 * 1024)
    shown = page(submit(board, [("huge.jpg", big)], description="三十兆的照片"))
    assert shown.status == 422 and "太大" in shown.text(".error-summary")
    assert shown.soup.select_one("#description").get_text().strip() == "三十兆的照片"


def test_the_photo_position_fills_in_the_place_rounded_to_about_100_m(board, page):
    submit(board, [("a.jpg", jpeg(gps=(30.25 + 0.03 * 0.6428, 119.9 + 0.03 * 0.766)))], place="")
    report = newest()
    assert "附近" in report.place and "照片定位约 30.269, 119.923" in report.place
    assert (report.latitude, report.longitude) == (30.26928, 119.92298)  # kept for moderators
    review = page(board.moderator.get(f"/civility/moderate/reports/{report.id}"))
    assert "30.26928" in review.text()


def test_the_honeypot_keeps_bots_out(board):
    before = db.session.scalar(select(func.count()).select_from(Report))
    response = submit(board, [], website="http://spam.example")
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Report)) == before


def test_submissions_are_limited_per_account(board):
    codes = [submit(board, [], description=f"第{n}次报告内容").status_code for n in range(11)]
    assert codes[:10] == [302] * 10 and codes[10] == 429


def test_reporting_needs_an_account(client):
    assert client.get("/civility/report").status_code == 302


# -- moderation ----------------------------------------------------------------------------------

def test_reject_needs_a_reason_the_reporter_sees(board, page):
    submit(board, [])
    report = newest()
    board.moderator.post(f"/civility/moderate/reports/{report.id}/reject", {"reason": " "})
    assert newest().status == "submitted"
    board.moderator.post(f"/civility/moderate/reports/{report.id}/reject",
                         {"reason": "照片看不清，无法核实"})
    assert newest().status == "rejected"
    assert "照片看不清" in page(board.resident.get(f"/me/reports/{report.id}")).text()


def test_duplicates_are_found_and_merged(board, page):
    submit(board, [], place="东岭村集市东口", at="08:30")
    first = newest()
    submit(board, [], place="东岭村集市东口附近", at="09:10")
    second = newest()
    assert first in workflow.duplicates(second)
    review = page(board.moderator.get(f"/civility/moderate/reports/{second.id}"))
    assert review.soup.select_one(f'input[name="into"][value="{first.id}"]')
    board.moderator.post(f"/civility/moderate/reports/{second.id}/merge", {"into": first.id})
    db.session.refresh(second)
    assert second.status == "merged" and second.merged_into_id == first.id
    with pytest.raises(CivilityRefused):
        workflow.verify(second, board.moderator.user)


def test_two_issues_at_once_never_share_a_report(board):
    submit(board, [])
    report = newest()
    workflow.verify(report, board.moderator.user)
    workflow.publish_issue(board.moderator.user, [report.id])
    with pytest.raises(CivilityRefused):
        workflow.publish_issue(board.moderator.user, [report.id])


# -- who may see and do what -------------------------------------------------------------------

def test_roles_reach_only_their_own_pages(board, client):
    assert client.get("/civility/moderate/").status_code == 302
    for person, forbidden in ((board.resident, ("/civility/moderate/", "/civility/department/")),
                              (board.department, ("/civility/moderate/",)),
                              (board.moderator, ("/civility/department/",))):
        for url in forbidden:
            assert person.get(url).status_code == 403, url
    photo = db.session.scalars(select(Photo)).first()
    assert client.get(f"/civility/moderate/photos/{photo.id}/original").status_code == 302
    assert board.resident.get(f"/civility/moderate/photos/{photo.id}/original").status_code == 403
    other = sign_in(board.app, "13911140009", name="别人")
    assert other.get(f"/me/reports/{photo.report_id}").status_code == 404
    assert other.get(f"/civility/my-photos/{photo.id}").status_code == 404


def test_no_public_url_shows_anything_unverified_or_unredacted(board, client):
    """Walk every public GET route with every id that exists: nothing of a report that is
    not public, no working copy of a photo, and never the reporter, may come back."""
    submit(board, [("secret.jpg", jpeg(color="blue"))], description="未核实的秘密内容XYZ")
    hidden = newest()
    reports = db.session.scalars(select(Report)).all()
    secrets = {"未核实的秘密内容XYZ", "居民甲", "13911140001"} | {
        r.description for r in reports if r.status in ("submitted", "verified", "rejected", "merged")}
    originals = {p.original for p in db.session.scalars(select(Photo))} | {
        p.original_thumb for p in db.session.scalars(select(Photo))}
    public_blueprints = {"civility", "main", "notices", "search", "booking"}
    ids = [str(i) for i in range(1, max(r.id for r in reports) + 3)]
    photo_ids = [str(p.id) for p in db.session.scalars(select(Photo))]
    checked = 0
    for rule in board.app.url_map.iter_rules():
        if rule.endpoint.partition(".")[0] not in public_blueprints or "GET" not in rule.methods:
            continue
        if "/me/" in rule.rule or "my-photos" in rule.rule:
            continue  # a signed-in reporter's own pages
        for value in (photo_ids if "photo" in rule.rule else ids)[:40] if rule.arguments else [None]:
            url = re.sub(r"<(?:int:)?[a-z_]+>", value or "", rule.rule)
            url = re.sub(r"<any\(([a-z]+)[^)]*\):[a-z]+>", r"\1", url)
            response = client.get(url)
            body = response.get_data()
            text = body.decode("utf-8", "replace")
            assert not any(s in text for s in secrets), url
            assert not any(name in text for name in originals), url
            if response.mimetype == "image/jpeg":
                assert not any(body == open(f"{board.app.config['PORTAL_DATA_DIR']}/uploads/civility/{n}", "rb").read()
                               for n in originals), url
            checked += 1
    assert checked > 50
    for photo in hidden.photos:
        for size in ("full", "thumb"):
            assert client.get(f"/civility/photos/{photo.id}/{size}").status_code == 404


# -- rectification, appeals, retention ---------------------------------------------------------

def published_uncivil(board) -> Report:
    submit(board, [])
    report = newest()
    workflow.verify(report, board.moderator.user, board.department.user.department_id)
    workflow.publish_issue(board.moderator.user, [report.id])
    return newest()


def test_the_department_rectifies_its_own_items_and_overdue_ones_are_flagged(board, clock, page):
    report = published_uncivil(board)
    assert report.rectification == "assigned" and report.rectify_due is not None
    other_department = sign_in(board.app, "13911140010", "department", name="交警")
    assert other_department.post(f"/civility/department/items/{report.id}/start").status_code == 404
    board.department.post(f"/civility/department/items/{report.id}/start", {"note": "已到场"})
    db.session.refresh(report)
    assert report.rectification == "rectifying"
    board.department.post(f"/civility/department/items/{report.id}/finish", {"note": " "})
    db.session.refresh(report)
    assert report.rectification == "rectifying"  # a finish needs a note
    clock.move_to(datetime(2026, 12, 30, 9, 0, tzinfo=SHANGHAI))
    board.department.login()
    listing = page(board.department.get("/civility/department/"))
    assert "已超期" in listing.text()
    board.department.post(f"/civility/department/items/{report.id}/finish",
                          {"note": "摊贩已入场经营", "photo": (io.BytesIO(jpeg()), "after.jpg")},
                          content_type="multipart/form-data")
    db.session.refresh(report)
    assert report.rectification == "rectified" and report.photos[-1].role == "after"
    assert report.photos[-1].public is None  # an after-photo is redacted before it is shown


def test_appeals_are_decided_and_withdrawn_items_leave_the_board(board, client, page):
    report = published_uncivil(board)
    response = client.get(f"/civility/items/{report.id}")
    token = page(response).csrf()
    client.post(f"/civility/items/{report.id}", data={"csrf_token": token, "name": "摊主",
                                                      "phone": "13700001234",
                                                      "text": "我已经办了摊位证"})
    entry = db.session.scalar(select(Appeal).where(Appeal.report_id == report.id))
    assert entry.status == "open"
    board.moderator.post(f"/civility/moderate/appeals/{entry.id}",
                         {"outcome": "withdrawn", "note": "核实已办证，撤下"})
    db.session.refresh(report)
    assert report.status == "withdrawn" and client.get(f"/civility/items/{report.id}").status_code == 404
    db.session.refresh(entry)
    assert entry.status == "withdrawn" and entry.decided_by == board.moderator.user.id


def test_items_leave_the_board_after_the_retention_period(board, clock, client, page):
    report = published_uncivil(board)
    counted = page(client.get("/civility/")).text("#counts-title + p + div")
    clock.move_to(datetime.now(SHANGHAI) + timedelta(days=91))
    assert client.get(f"/civility/items/{report.id}").status_code == 404
    issue = page(client.get(f"/civility/issues/{report.issue.number}"))
    assert "只保留统计数字" in issue.text()
    assert page(client.get("/civility/")).text("#counts-title + p + div") == counted


def test_photos_and_positions_are_deleted_once_a_report_is_done_with(board, clock, client, page,
                                                                      runner):
    submit(board, [("a.jpg", jpeg(gps=(30.25, 119.9)))])
    shown = newest()
    workflow.propose_pending()
    workflow.redact(shown.photos[0], board.moderator.user, [[10, 10, 100, 80]])
    workflow.verify(shown, board.moderator.user)
    workflow.publish_issue(board.moderator.user, [shown.id])
    submit(board, [("b.jpg", jpeg(color="blue", gps=(30.26, 119.91)))],
           description="照片里看不清是谁")
    rejected = newest()
    workflow.reject(rejected, board.moderator.user, "无法核实")
    clock.move_to(datetime.now(SHANGHAI) + timedelta(days=150))
    board.resident.login()  # days later: a new session
    submit(board, [("c.jpg", jpeg(color="green"))], description="又有人占道经营",
           day=datetime.now(SHANGHAI).date().isoformat())
    waiting = newest()  # not done with
    assert waiting.status == "submitted" and len(waiting.photos) == 1
    names = {r.id: [n for p in r.photos for n in (p.original, p.original_thumb, p.public,
                                                  p.public_thumb) if n]
             for r in (shown, rejected, waiting)}
    assert all(path_of(photos.AREA, n).exists() for ns in names.values() for n in ns)
    assert len(names[shown.id]) == 4 and len(names[rejected.id]) == 2
    counted = page(client.get("/civility/")).text("#counts-title + p + div")

    assert workflow.purge() == 0  # off the board 60 days ago, rejected 150 days ago: kept
    clock.move_to(datetime.now(SHANGHAI) + timedelta(days=35))  # 185 days after
    result = runner.invoke(args=["civility", "purge"])
    purged = db.session.scalar(select(func.count()).select_from(ReportEvent).where(
        ReportEvent.action == "purge"))  # ours and the demo's older ones
    assert result.exit_code == 0 and f"purged the photos of {purged} reports" in result.output
    db.session.expire_all()
    for report_id in (shown.id, rejected.id):
        done = db.session.get(Report, report_id)
        assert done.photos == [] and done.latitude is None and done.longitude is None
        assert not any(path_of(photos.AREA, n).exists() for n in names[report_id])
    assert db.session.get(Report, shown.id).description == "摊贩占用人行道"
    assert len(db.session.get(Report, waiting.id).photos) == 1
    assert all(path_of(photos.AREA, n).exists() for n in names[waiting.id])
    board.resident.login()
    tracking = page(board.resident.get(f"/me/reports/{rejected.id}"))
    assert "照片和定位已按保存期限删除" in tracking.text() and not tracking.soup.select("img")
    assert page(client.get("/civility/")).text("#counts-title + p + div") == counted
    assert workflow.purge() == 0  # once
