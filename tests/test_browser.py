"""Journeys in a real browser: Debian's Chromium, headless, driven by Playwright.

Phone width (375 px) and kiosk size (1080×1920). Screenshots land in test-artifacts/ so a
person can look at what the tests saw. Without /usr/bin/chromium these tests skip locally
and fail in CI (CI=true), where .ci/run installs it.
"""
from __future__ import annotations

import os
import re
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from portal.extensions import db
from tests.conftest import make_app

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = {"width": 375, "height": 740}
KIOSK = {"width": 1080, "height": 1920}
IDLE_SECONDS = 4
FULL_WIDTH = str.maketrans("0123456789 ", "０１２３４５６７８９　")  # how some phone keyboards type


LIVE: dict = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory, sqlite_template):
    """The portal with demo data, served on a free loopback port in a thread."""
    folder = tmp_path_factory.mktemp("live")
    shutil.copy(sqlite_template, folder / "portal.db")
    app = make_app(folder, f"sqlite:///{folder / 'portal.db'}", KIOSK_IDLE_SECONDS=IDLE_SECONDS)
    with app.app_context():
        from portal.seed import seed_demo
        seed_demo()
        db.session.remove()
    LIVE["app"] = app  # for a test that runs a jobs-worker task against the same database
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must install chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def phone(browser, server):
    context = browser.new_context(viewport=PHONE, base_url=server, locale="zh-CN",
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(params=["375", "1080"])
def screen(request, browser, server):
    """A phone at 375 px, or a kiosk-sized touch screen (1080×1920) used as a plain browser."""
    size = PHONE if request.param == "375" else KIOSK
    context = browser.new_context(viewport=size, base_url=server, locale="zh-CN",
                                  has_touch=True, is_mobile=request.param == "375")
    page = context.new_page()
    page.size_name = request.param
    yield page
    context.close()


@pytest.fixture
def kiosk(browser, server):
    context = browser.new_context(viewport=KIOSK, base_url=server, locale="zh-CN", has_touch=True)
    page = context.new_page()
    yield page
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe
    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def test_register_log_out_and_log_in(screen):
    phone, size = screen, screen.size_name
    number = "1390001234" + ("5" if size == "375" else "6")
    phone.goto("/")
    shot(phone, f"hub-{size}")
    phone.get_by_role("link", name="注册", exact=True).click()
    phone.get_by_label("手机号码").fill(" ".join(number).translate(FULL_WIDTH))
    phone.get_by_label("姓名").fill("马晓云")
    phone.get_by_label("户籍或居住的村（社区）").select_option(label="西河村")
    phone.get_by_label("设置密码").fill("12345678")
    phone.get_by_label("再次输入密码").fill("12345678")
    phone.get_by_label("我已阅读并同意").check()
    phone.get_by_role("button", name="注册").click()
    # A weak password: the summary is focused, the message sits by the field, answers kept.
    expect(phone.locator("#error-summary")).to_be_focused()  # waits for the script
    assert phone.title().startswith("错误：")
    assert "容易被猜到" in phone.locator("#password-error").inner_text()
    assert phone.get_by_label("姓名").input_value() == "马晓云"
    shot(phone, f"register-error-{size}")
    phone.get_by_label("设置密码").fill("xihe-village-2026")
    phone.get_by_label("再次输入密码").fill("xihe-village-2026")
    phone.get_by_role("button", name="注册").click()
    phone.wait_for_url(re.compile(r"/me/$"))
    assert f"139****{number[-4:]}" in phone.locator("main").inner_text()
    shot(phone, f"me-{size}")
    phone.get_by_role("button", name="退出").click()
    phone.wait_for_url(re.compile(r"/$"))
    phone.get_by_role("link", name="登录", exact=True).click()
    phone.get_by_label("手机号码").fill(number)
    phone.get_by_label("密码").fill("xihe-village-2026")
    phone.get_by_role("button", name="登录").click()
    phone.wait_for_url(re.compile(r"/me/$"))
    assert "马晓云" in phone.locator("main").inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= phone.viewport_size["width"]


def test_elder_mode_and_english_from_any_page(screen):
    phone, size = screen, screen.size_name
    phone.goto("/login")
    base = phone.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    phone.get_by_role("button", name="长辈模式").click()
    expect(phone.locator("html")).to_have_class(re.compile(r"\belder\b"))
    # The class is there as soon as the new page's <html> is parsed, maybe before its stylesheet
    # applies: wait for the page to load, then for the larger type (times out if it never comes).
    phone.wait_for_load_state("load")
    phone.wait_for_function(
        "min => parseFloat(getComputedStyle(document.documentElement).fontSize) >= min",
        arg=base * 1.2,
    )
    height = phone.get_by_role("button", name="登录").bounding_box()["height"]
    assert height >= 56
    phone.goto("/register")
    assert "elder" in phone.get_attribute("html", "class")
    shot(phone, f"register-elder-{size}")
    assert serious_violations(phone) == []
    phone.get_by_role("button", name="English").click()
    expect(phone.locator("h1")).to_have_text("Register a Tongban account")
    assert phone.get_attribute("html", "lang") == "en"
    shot(phone, f"register-elder-en-{size}")
    phone.get_by_role("button", name="中文").click()
    phone.get_by_role("button", name="关闭长辈模式").click()
    expect(phone.locator("html")).not_to_have_class(re.compile(r"\belder\b"))


@pytest.mark.parametrize("path", ["/", "/register", "/login", "/volunteer/", "/volunteer/wishes/",
                                  "/dashboard/", "/dashboard/now", "/open-data", "/accessibility"])
def test_no_serious_accessibility_problems_on_a_phone(phone, path):
    phone.goto(path)
    assert serious_violations(phone) == []


def test_kiosk_has_large_targets_and_passes_axe(kiosk):
    kiosk.goto("/kiosk/")
    shot(kiosk, "kiosk-1080")
    for tile in kiosk.locator(".kiosk-tile").all():
        assert tile.bounding_box()["height"] >= 64
    assert serious_violations(kiosk) == []
    kiosk.goto("/login")
    assert kiosk.locator("#remember").count() == 0


def test_kiosk_clears_the_session_after_idle_time(kiosk):
    kiosk.goto("/kiosk/")
    kiosk.locator(".kiosk-tile", has_text="登录").click()
    kiosk.get_by_label("手机号码").fill("13800000001")
    kiosk.get_by_label("密码").fill("demo-2026")
    kiosk.get_by_role("button", name="登录").click()
    kiosk.wait_for_url(re.compile(r"/me/$"))
    assert "张秀兰" in kiosk.locator("main").inner_text()
    kiosk.locator("#idle-warning").wait_for(state="visible", timeout=IDLE_SECONDS * 1000)
    shot(kiosk, "kiosk-idle-warning-1080")
    kiosk.wait_for_url(re.compile(r"/kiosk/$"), timeout=(IDLE_SECONDS + 5) * 1000)
    assert "张秀兰" not in kiosk.content()
    kiosk.go_back()  # the next person presses Back: the page is fetched again, signed out
    assert "张秀兰" not in kiosk.content()
    kiosk.goto("/me/")
    assert "/login" in kiosk.url


def test_resident_books_at_another_village_on_a_phone(phone):
    phone.goto("/login")
    phone.get_by_label("手机号码").fill("13800000002")
    phone.get_by_label("密码").fill("demo-2026")
    phone.get_by_role("button", name="登录").click()
    phone.wait_for_url(re.compile(r"/me/$"))
    phone.goto("/services/")
    phone.get_by_label("按名称查找事项").fill("高龄")
    phone.wait_for_url(re.compile(r"q="))  # live filter pushed the URL
    phone.locator(".item-list a").first.click()
    phone.get_by_role("link", name="预约办理").click()
    choices = phone.locator(".choice-list a.choice")
    assert "西河村" in choices.first.inner_text()  # the resident's own village first
    shot(phone, "book-station-375")
    choices.nth(3).click()  # another village
    expect(phone.locator(".caption")).to_contain_text("第2步")
    station_name = phone.locator(".caption").inner_text()
    phone.locator(".day-list a.choice").first.click()
    shot(phone, "book-slot-375")
    phone.locator(".slot-grid a.choice").first.click()
    assert phone.locator("#name").count() == 0  # booked under the account
    phone.get_by_role("button", name="确认预约").click()
    phone.wait_for_url(re.compile(r"/confirmation$"))
    ref = phone.locator(".ref").inner_text().strip()
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{8}", ref)
    assert phone.locator("img.qr").is_visible()
    shot(phone, "book-confirmation-375")
    assert "西河村" not in station_name.split("·")[1]
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.goto("/me/")
    assert ref in phone.locator("main").inner_text()


def test_a_resident_picks_the_least_busy_station_on_the_dashboard_and_books_there(phone,
                                                                                   browser,
                                                                                   server):
    """At 375 px: the dashboard's "right now" puts the least busy station first; its link
    leads through the catalogue and the guide straight to that station's days."""
    sign_in_as(phone, "13800000002")
    phone.goto("/dashboard/")
    shot(phone, "dashboard-375")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    first = phone.locator("#now tbody tr").first
    station = first.locator("th").inner_text().split("\n")[0].strip()
    waiting = [int(row.locator("td").nth(0).inner_text()) + int(row.locator("td").nth(1).inner_text())
               for row in phone.locator("#now tbody tr").all()]
    assert waiting == sorted(waiting)
    first.get_by_role("link", name=f"到{station}预约").click()
    expect(phone.locator("main .notice")).to_contain_text(station)
    phone.get_by_label("按名称查找事项").fill("生育")  # 高龄 is booked by this resident above
    phone.wait_for_url(re.compile(r"q="))
    phone.locator(".item-list a").first.click()
    phone.get_by_role("link", name=f"在{station}预约").click()
    expect(phone.locator(".caption")).to_contain_text(station)
    phone.locator(".day-list a.choice").first.click()
    phone.locator(".slot-grid a.choice").first.click()
    phone.get_by_role("button", name="确认预约").click()
    phone.wait_for_url(re.compile(r"/confirmation$"))
    expect(phone.locator("main")).to_contain_text(station)
    wide = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN",
                               base_url=server)
    try:
        desk = wide.new_page()
        desk.goto("/dashboard/?period=year")
        shot(desk, "dashboard-1366")
        assert serious_violations(desk) == []
        desk.emulate_media(media="print")
        assert desk.locator(".print-only").first.is_visible()
        assert not desk.locator("#now").is_visible()
        shot(desk, "dashboard-print")
    finally:
        wide.close()


def test_walk_in_books_at_the_kiosk_prints_a_slip_and_looks_it_up(kiosk, browser, server):
    kiosk.add_init_script("window.print = () => { window.__printed = true; };")
    kiosk.goto("/kiosk/")
    kiosk.locator(".kiosk-tile", has_text="预约办事").click()
    kiosk.locator(".item-list a").first.click()
    kiosk.get_by_role("link", name="预约办理").click()
    kiosk.locator(".choice-list a.choice").first.click()
    kiosk.locator(".day-list a.choice").first.click()
    kiosk.locator(".slot-grid a.choice").first.click()
    kiosk.get_by_label("姓名").fill("路过的王大爷")
    kiosk.get_by_label("手机号码").fill("137 1234 5678")
    kiosk.get_by_role("button", name="确认预约").click()
    kiosk.wait_for_url(re.compile(r"/confirmation$"))
    ref = kiosk.locator(".ref").inner_text().strip()
    shot(kiosk, "kiosk-confirmation-1080")
    kiosk.get_by_role("link", name="打印预约单").click()
    kiosk.wait_for_url(re.compile(r"/slip$"))  # loaded, so the deferred script has wired the button
    kiosk.get_by_role("button", name="打印").click()
    kiosk.wait_for_function("window.__printed === true")
    kiosk.emulate_media(media="print")
    shot(kiosk, "kiosk-slip-print-1080")
    kiosk.emulate_media(media="screen")
    assert kiosk.locator(".site-header").is_visible()
    # Someone else, on another device, looks it up by code and the last four digits.
    other = browser.new_context(viewport=PHONE, base_url=server, locale="zh-CN").new_page()
    other.goto("/bookings/")
    other.get_by_label("预约编号").fill(ref.lower())
    other.get_by_label("预约手机号码的后四位").fill("5678")
    other.get_by_role("button", name="查询").click()
    other.wait_for_url(re.compile(rf"/bookings/{ref}$"))
    assert "已预约" in other.locator(".status").inner_text()
    assert "137****5678" in other.locator("main").inner_text()
    shot(other, "booking-status-375")
    other.context.close()


def test_every_service_guide_prints_on_one_a4_page(browser, server):
    """The printed guide is the one-time notice (一次性告知): one sheet of A4."""
    import json

    from portal.booking.catalogue import DEMO_CATALOGUE
    page = browser.new_page(base_url=server)
    too_long = []
    for item in json.loads(DEMO_CATALOGUE.read_text(encoding="utf-8"))["items"]:
        page.goto(f"/services/{item['code']}")
        pdf = page.pdf(format="A4", margin={"top": "12mm", "bottom": "12mm",
                                            "left": "12mm", "right": "12mm"})
        if len(re.findall(rb"/Type\s*/Page[^s]", pdf)) != 1:
            too_long.append(item["code"])
    page.close()
    assert too_long == []


@pytest.fixture
def desk_pc(browser, server):
    """A clerk's desk PC: a wide screen, no touch."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server,
                                  locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


def sign_in_as(page, phone: str) -> None:
    page.goto("/login")
    page.get_by_label("手机号码").fill(phone)
    page.get_by_label("密码").fill("demo-2026")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/me/$"))


def check_in_by_code(desk_pc, ref: str) -> None:
    desk_pc.goto("/desk/")
    desk_pc.get_by_label("签到：输入或扫描预约编号").fill(ref)
    desk_pc.keyboard.press("Enter")  # what a USB scanner does after the code
    desk_pc.wait_for_url(re.compile(rf"/desk/bookings/{ref.upper()}$"))


def test_desk_journey_return_for_supplement_complete_and_a_bad_rating(phone, desk_pc, kiosk):
    """A resident books at their village; the clerk checks in by code, accepts, returns it for
    one missing material; the resident comes back, the clerk completes; the resident rates
    不满意 at the kiosk; town staff see the follow-up case. On a Tuesday morning."""
    import time_machine

    from tests.conftest import TUESDAY_MORNING
    with time_machine.travel(TUESDAY_MORNING, tick=True):
        sign_in_as(phone, "13800000001")  # 张秀兰, 东岭村
        phone.goto("/services/MZ-004")
        phone.get_by_role("link", name="预约办理").click()
        phone.locator(".choice-list a.choice").first.click()  # the own village
        phone.locator(".day-list a.choice").first.click()  # today
        phone.locator(".slot-grid a.choice").first.click()
        phone.get_by_role("button", name="确认预约").click()
        phone.wait_for_url(re.compile(r"/confirmation$"))
        ref = phone.locator(".ref").inner_text().strip()

        sign_in_as(desk_pc, "13800000101")  # 王芳, clerk at 东岭村
        check_in_by_code(desk_pc, ref.lower())
        expect(desk_pc.locator(".status")).to_have_text("已签到")
        desk_pc.get_by_role("button", name="受理", exact=True).click()
        expect(desk_pc.locator(".status")).to_have_text("已受理")
        materials = desk_pc.locator(".materials-form fieldset")
        missing = materials.last.locator("legend").inner_text().split("（")[0]
        for n in range(materials.count() - 1):
            materials.nth(n).get_by_label("已带来").check()
        materials.last.get_by_label("缺少").check()
        desk_pc.get_by_role("button", name="保存核对结果").click()
        desk_pc.get_by_role("button", name="退回补正并打印一次性告知书").click()
        desk_pc.wait_for_url(re.compile(r"/notice$"))
        assert missing in desk_pc.locator(".missing").inner_text()
        desk_pc.emulate_media(media="print")
        shot(desk_pc, "desk-one-time-notice-print")
        desk_pc.emulate_media(media="screen")

        phone.goto(f"/bookings/{ref}")
        expect(phone.locator(".status")).to_have_text("退回补正")
        assert missing in phone.locator("#missing-title + ul").inner_text()
        shot(phone, "status-returned-375")

        check_in_by_code(desk_pc, ref)  # the resident is back with the missing paper
        desk_pc.get_by_role("button", name="材料已补齐，继续办理").click()
        expect(desk_pc.locator(".status")).to_have_text("办理中")
        desk_pc.locator(".materials-form fieldset").last.get_by_label("已带来").check()
        desk_pc.get_by_role("button", name="保存核对结果").click()
        desk_pc.get_by_role("button", name="办结", exact=True).click()
        expect(desk_pc.locator(".status")).to_have_text("已办结")
        assert "王芳" in desk_pc.locator("#person").inner_text()  # still the responsible clerk
        shot(desk_pc, "desk-case-completed")

        kiosk.goto("/kiosk/")
        kiosk.locator(".kiosk-tile", has_text="评价服务").click()
        kiosk.get_by_label("预约编号").fill(ref)
        kiosk.get_by_label("预约手机号码的后四位").fill("0001")
        kiosk.get_by_role("button", name="下一步").click()
        kiosk.wait_for_url(re.compile(r"/rate$"))
        for button in kiosk.locator(".rating-level").all():
            assert button.bounding_box()["height"] >= 64
        shot(kiosk, "kiosk-rating-1080")
        kiosk.get_by_role("button", name="不满意", exact=True).click()
        expect(kiosk.locator("h1")).to_have_text("谢谢您的评价")

        sign_in_as(desk_pc, "13800000201")  # 陈静, town-centre staff
        desk_pc.goto("/desk/follow-ups")
        row = desk_pc.locator("tr", has_text="高龄老年人津贴申请")
        expect(row).to_contain_text("不满意")
        expect(row).not_to_have_class("overdue")  # the call back is due tomorrow
    # A week later, nobody having called back, the same case is flagged (and comes first).
    with time_machine.travel(TUESDAY_MORNING + timedelta(days=7), tick=True):
        sign_in_as(desk_pc, "13800000201")
        desk_pc.goto("/desk/follow-ups")
        late = desk_pc.locator("tr.overdue", has_text="高龄老年人津贴申请")
        expect(late).to_contain_text("不满意")
        shot(desk_pc, "desk-follow-ups")
        desk_pc.goto("/desk/")
        shot(desk_pc, "desk-centre-queue")


def test_an_editor_publishes_and_a_resident_finds_it_by_live_search_and_pinyin(desk_pc, phone):
    sign_in_as(desk_pc, "13800000301")  # 刘洋, editor
    desk_pc.goto("/editor/notices/new")
    desk_pc.get_by_label("标题", exact=True).fill("关于举办荷塘村中秋音乐会的通知")
    desk_pc.get_by_label("发文机关").fill("青禾镇文明办（演示）")
    desk_pc.get_by_label("主题分类").fill("文化体育")
    desk_pc.get_by_label("正文", exact=True).fill("## 时间地点\n\n九月二十五日晚在荷塘村文化礼堂举行，欢迎村民带孩子参加。")
    desk_pc.get_by_role("button", name="保存").click()
    expect(desk_pc.locator(".notice-success")).to_contain_text("已保存")
    desk_pc.get_by_role("button", name="提交审核").click()
    desk_pc.get_by_role("button", name="发布", exact=True).click()
    expect(desk_pc.locator(".status")).to_have_text("已发布")
    shot(desk_pc, "editor-published")

    phone.goto("/")
    phone.get_by_label("搜索政策、通知、办事指南和志愿活动").fill("文化礼堂")
    phone.keyboard.press("Enter")
    phone.wait_for_url(re.compile(r"/search\?q="))
    box = phone.get_by_label("搜索政策、通知、办事指南和志愿活动")
    box.fill("文化礼堂 孩子")  # live: no Enter; htmx swaps the results in and pushes the URL
    phone.wait_for_url(re.compile(r"%E5%AD%A9%E5%AD%90"))  # 孩子: the pushed URL follows typing
    result = phone.locator(".results .result-title a", has_text="荷塘村中秋音乐会")
    expect(result).to_be_visible()
    marked = {m.inner_text() for m in phone.locator(".results mark").all()}
    assert marked and marked <= {"文化", "礼堂", "文化礼堂", "孩子"}
    shot(phone, "search-live-375")
    box.fill("yinyuehui")
    expect(phone.locator(".results .result-title a", has_text="荷塘村中秋音乐会")).to_be_visible()
    phone.locator(".results .result-title a", has_text="荷塘村中秋音乐会").click()
    expect(phone.locator("h1")).to_have_text("关于举办荷塘村中秋音乐会的通知")
    assert "文化礼堂" in phone.locator(".notice-body").inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_face_in_a_reported_photo_is_proposed_confirmed_and_redacted(phone, desk_pc, tmp_path):
    """A resident reports at 375 px with a photo of a person; the jobs worker's detector
    proposes a box over the face; the moderator sees it drawn, adds one by hand, confirms,
    verifies and publishes; the public photo has the face painted over."""
    import io
    from pathlib import Path

    from PIL import Image
    from portal import jobs
    photo = tmp_path / "scene.jpg"
    image = Image.new("RGB", (800, 600), (170, 200, 230))
    portrait = Image.open(Path(__file__).resolve().parent.parent / "bench" / "redaction"
                          / "sources" / "astronaut.jpg")
    image.paste(portrait, (100, 100))  # its face: x 161–250, y 158–278
    image.save(photo, "JPEG")

    sign_in_as(phone, "13800000002")
    phone.goto("/civility/report")
    phone.get_by_label("类别").select_option(label="乱扔杂物")
    phone.get_by_label("发生了什么").fill("有人把装修垃圾倒在荷塘村河边")
    phone.get_by_label("地点").fill("荷塘村河边")
    phone.get_by_label("日期").fill("2026-11-20")
    phone.get_by_label("大约时间").fill("07:30")
    phone.get_by_label("照片（最多4张，选填）").set_input_files(str(photo))
    shot(phone, "civility-report-375")
    phone.get_by_role("button", name="提交").click()
    phone.wait_for_url(re.compile(r"/me/reports/\d+$"))
    report_id = int(phone.url.rsplit("/", 1)[1])
    expect(phone.locator(".status")).to_have_text("待审核")

    sign_in_as(desk_pc, "13800000401")  # 周敏, moderator
    desk_pc.goto(f"/civility/moderate/reports/{report_id}")
    expect(desk_pc.locator(".redact-editor .notice").first).to_contain_text("正在自动查找")
    with LIVE["app"].app_context():  # the worker's minute: the detector looks at the photo
        assert "proposed 1 boxes" in jobs.run("faces", any_hour=True).result
    desk_pc.reload()
    editor = desk_pc.locator(".redact-editor.redact-ready").first
    expect(editor.locator(".notice")).to_contain_text("自动找到 1 处")
    expect(editor.locator(".redact-box")).to_have_count(1)
    x, y, w, h = map(int, editor.locator("textarea.redact-boxes").input_value().split(","))
    assert x <= 161 and y <= 158 and x + w >= 250 and y + h >= 278  # the whole face
    stage = editor.locator("img")
    stage.scroll_into_view_if_needed()
    box = stage.bounding_box()
    scale = box["width"] / 800
    desk_pc.mouse.move(box["x"] + 450 * scale, box["y"] + 120 * scale)  # one more, by hand
    desk_pc.mouse.down()
    desk_pc.mouse.move(box["x"] + 560 * scale, box["y"] + 200 * scale, steps=5)
    desk_pc.mouse.up()
    expect(editor.locator(".redact-box")).to_have_count(2)
    field = editor.locator("textarea.redact-boxes")
    drawn = field.input_value().splitlines()[1]
    desk_pc.mouse.move(box["x"] + 500 * scale, box["y"] + 160 * scale)  # drag it a little
    desk_pc.mouse.down()
    desk_pc.mouse.move(box["x"] + 520 * scale, box["y"] + 170 * scale, steps=4)
    desk_pc.mouse.up()
    moved = field.input_value().splitlines()[1]
    assert moved != drawn and moved.split(",")[2:] == drawn.split(",")[2:]  # same size
    desk_pc.mouse.move(box["x"] + 700 * scale, box["y"] + 500 * scale)  # a stray box…
    desk_pc.mouse.down()
    desk_pc.mouse.move(box["x"] + 760 * scale, box["y"] + 560 * scale, steps=4)
    desk_pc.mouse.up()
    expect(editor.locator(".redact-box")).to_have_count(3)
    desk_pc.mouse.click(box["x"] + 730 * scale, box["y"] + 530 * scale)  # …tapped away
    expect(editor.locator(".redact-box")).to_have_count(2)
    shot(desk_pc, "civility-redact-proposed")
    desk_pc.get_by_role("button", name="确认并保存打码").first.click()
    expect(desk_pc.locator(".notice-success")).to_contain_text("2处打码")
    desk_pc.get_by_role("button", name="核实，待下一期发布").click()
    desk_pc.goto("/civility/moderate/issues/new")
    number = int(re.search(r"第(\d+)期", desk_pc.locator("h1").inner_text()).group(1))
    desk_pc.get_by_role("button", name=f"发布第{number}期").click()
    desk_pc.wait_for_url(re.compile(rf"/civility/issues/{number}$"))

    phone.goto(f"/civility/issues/{number}")
    item = phone.locator(".exposure", has_text="装修垃圾")
    expect(item).to_be_visible()
    assert "moderate" not in phone.content()
    source = item.locator("img").first.get_attribute("src")
    full = phone.request.get(source.replace("/thumb", "/full"))
    with Image.open(io.BytesIO(full.body())) as served:
        assert max(served.getpixel((205, 218))) < 30  # the face: painted over
        assert max(served.getpixel((525, 170))) < 30  # the moderator's own box, moved
        assert min(served.getpixel((700, 100))) > 100  # the sky: untouched
        assert not served.getexif()
    shot(phone, "civility-issue-375")


def test_a_waitlisted_volunteer_is_promoted_checked_in_and_out_and_certified(phone, desk_pc,
                                                                             browser, server):
    """The coordinator publishes a one-place activity; 李建国 takes the place; 张秀兰 (at
    375 px) joins the waitlist and is promoted when he cancels; the coordinator checks her in
    and out by her code and approves the hours; her certificate lists them."""
    import time_machine

    from tests.conftest import SHANGHAI, TUESDAY_MORNING
    at = lambda hour, minute: TUESDAY_MORNING.replace(hour=hour, minute=minute)  # noqa: E731
    with time_machine.travel(TUESDAY_MORNING, tick=True) as clock:
        sign_in_as(desk_pc, "13800000501")  # 孙丽, coordinator
        desk_pc.goto("/volunteer/manage/activities/new")
        desk_pc.get_by_label("活动名称").fill("教老人用手机挂号")
        desk_pc.get_by_label("组织团队").select_option(label="数码助老志愿服务队")
        desk_pc.get_by_label("服务站").select_option(label="东岭村志愿服务驿站")
        desk_pc.get_by_label("集合地点").fill("东岭村村委会一楼")
        desk_pc.get_by_label("日期").fill("2026-11-24")
        desk_pc.get_by_label("开始时间").fill("11:30")
        desk_pc.get_by_label("结束时间").fill("12:30")
        desk_pc.get_by_label("名额", exact=True).fill("1")
        desk_pc.get_by_role("button", name="发布").click()
        desk_pc.wait_for_url(re.compile(r"/volunteer/manage/activities/\d+$"))
        activity = desk_pc.url.rsplit("/", 1)[-1]

        other = browser.new_context(viewport=PHONE, base_url=server, locale="zh-CN").new_page()
        sign_in_as(other, "13800000002")  # 李建国
        other.goto(f"/volunteer/activities/{activity}")
        other.get_by_role("button", name="报名参加").click()
        expect(other.locator(".status")).to_have_text("已报名")

        sign_in_as(phone, "13800000001")  # 张秀兰
        phone.goto("/volunteer/")
        phone.get_by_role("link", name="教老人用手机挂号").click()
        phone.get_by_role("button", name="名额已满，加入候补").click()
        expect(phone.locator(".status")).to_have_text("候补第1位")
        shot(phone, "volunteer-waitlisted-375")

        other.get_by_role("button", name="取消报名").click()
        expect(other.locator(".notice")).to_contain_text("已取消报名")
        other.context.close()

        phone.reload()
        expect(phone.locator(".status")).to_have_text("已报名")
        code = phone.locator(".ref").inner_text().strip()
        assert phone.locator("img.qr").is_visible()
        phone.goto("/me/")
        expect(phone.locator(".messages")).to_contain_text("候补成功")

        clock.move_to(at(11, 25).astimezone(SHANGHAI))
        sign_in_as(desk_pc, "13800000501")
        desk_pc.goto(f"/volunteer/manage/activities/{activity}")
        assert serious_violations(desk_pc) == []  # the roster, with its release forms
        desk_pc.get_by_label("签到码").fill(code.lower())
        desk_pc.keyboard.press("Enter")  # what a scanner does after the code
        expect(desk_pc.locator(".notice")).to_contain_text("张秀兰 已签到")
        clock.move_to(at(12, 40).astimezone(SHANGHAI))
        desk_pc.get_by_label("签到码").fill(code)
        desk_pc.keyboard.press("Enter")
        expect(desk_pc.locator(".notice")).to_contain_text("已签退")
        row = desk_pc.locator("tr", has_text="张秀兰")
        expect(row).to_contain_text("1小时")
        shot(desk_pc, "volunteer-attendance")
        row.get_by_role("button", name="认定").click()
        expect(desk_pc.locator("tr", has_text="张秀兰")).to_contain_text("已认定")
        desk_pc.goto("/volunteer/manage/offers")
        assert serious_violations(desk_pc) == []

        sign_in_as(phone, "13800000001")
        phone.goto("/volunteer/me/certificate")
        certificate = phone.locator(".certificate")
        served = certificate.locator("tbody tr", has_text="教老人用手机挂号")
        expect(served.locator("td").first).to_have_text("2026-11-24")
        expect(served.locator("td").last).to_have_text("1")  # 11:30–12:30, clipped to the activity
        phone.emulate_media(media="print")
        shot(phone, "volunteer-certificate-print-375")
        phone.emulate_media(media="screen")


def test_approved_hours_earn_points_redeemed_at_the_kiosk_and_taken_by_the_shop(phone, desk_pc,
                                                                                 kiosk):
    """The coordinator approves 沈明's 2.5 hours (25 points, the demo's 10 an hour); at the
    kiosk he sees 50 points, redeems a box of eggs and reads his code; the shop's account (郑老板,
    on a phone at 375 px) types it in; his balance and the stock changed once, and the code
    cannot be taken twice."""
    sign_in_as(desk_pc, "13800000501")  # 孙丽, coordinator
    desk_pc.goto("/volunteer/manage/hours")
    record = desk_pc.locator(".hour-record", has_text="沈明")
    record.get_by_label("认定", exact=True).check()
    record.get_by_role("button", name="提交审核").click()
    expect(desk_pc.locator(".notice")).to_be_visible()

    kiosk.goto("/kiosk/")
    kiosk.locator(".kiosk-tile", has_text="登录").click()
    kiosk.get_by_label("手机号码").fill("13700002009")  # 沈明
    kiosk.get_by_label("密码").fill("demo-2026")
    kiosk.get_by_role("button", name="登录").click()
    kiosk.wait_for_url(re.compile(r"/me/$"))
    kiosk.goto("/points/")
    expect(kiosk.locator(".points-balance strong")).to_have_text("50")
    eggs = kiosk.locator(".reward-list li", has_text="鸡蛋一盒")
    stock = int(re.search(r"剩(\d+)份", eggs.inner_text()).group(1))
    shot(kiosk, "points-kiosk-1080")
    eggs.get_by_role("button", name="兑换").click()
    kiosk.wait_for_url(re.compile(r"/me/points"))
    expect(kiosk.locator(".notice")).to_contain_text("兑换成功")
    code = kiosk.locator(".redemption-issued .ref-inline").first.inner_text().strip()
    assert kiosk.locator(".redemption-issued img.qr").first.is_visible()
    expect(kiosk.locator(".points-balance strong")).to_have_text("0")
    shot(kiosk, "points-code-1080")

    sign_in_as(phone, "13800000701")  # 郑老板, 青禾便民超市
    phone.goto("/partner/")
    phone.get_by_label(re.compile("兑换码")).fill(code.lower())
    phone.get_by_role("button", name="核销").click()
    expect(phone.locator(".notice")).to_contain_text("已核销：鸡蛋一盒")
    shot(phone, "points-partner-375")
    assert serious_violations(phone) == []
    phone.get_by_label(re.compile("兑换码")).fill(code)
    phone.get_by_role("button", name="核销").click()
    expect(phone.locator(".notice")).to_contain_text("已经使用过了")

    sign_in_as(desk_pc, "13700002009")
    desk_pc.goto("/me/points")
    expect(desk_pc.locator(".points-balance strong")).to_have_text("0")
    expect(desk_pc.locator(".redemption-spent")).to_contain_text("已使用")
    desk_pc.goto("/points/")
    assert f"剩{stock - 1}份" in desk_pc.locator(".reward-list li", has_text="鸡蛋一盒").inner_text()
    assert serious_violations(desk_pc) == []


DISPLAY = {"width": 1920, "height": 1080}


def test_the_station_hall_a_ticket_a_call_the_screen_and_the_phone(phone, desk_pc, kiosk,
                                                                   browser, server):
    """At 西河村 on a Tuesday morning: the clerk sets up the hall's kiosk; a walk-in takes a
    ticket there (1080×1920) and follows it on a phone (375 px); a booked resident checks in
    by scanning the QR of the booking; the clerk presses 叫号; the calling screen (1920×1080)
    shows the number and the walk-in's phone says it is their turn. Numbers only."""
    import time_machine

    from tests.conftest import TUESDAY_MORNING
    with time_machine.travel(TUESDAY_MORNING, tick=True):
        desk_pc.goto("/services/JY-001")  # a resident books at 西河村 for today, as a guest
        desk_pc.get_by_role("link", name="预约办理").click()
        desk_pc.locator(".choice-list a.choice", has_text="西河村").click()
        desk_pc.locator(".day-list a.choice").first.click()
        desk_pc.locator(".slot-grid a.choice").first.click()
        desk_pc.get_by_label("姓名").fill("孙阿姨")
        desk_pc.get_by_label("手机号码").fill("137 3333 4444")
        desk_pc.get_by_role("button", name="确认预约").click()
        desk_pc.wait_for_url(re.compile(r"/confirmation$"))
        ref = desk_pc.locator(".ref").inner_text().strip()

        kiosk.goto("/kiosk/")  # the station's clerk sets the kiosk up, then leaves it
        sign_in_as(kiosk, "13800000102")
        kiosk.goto("/kiosk/setup")
        station, = kiosk.get_by_label("这台自助终端所在的服务站").select_option(
            label="西河村便民服务站")
        kiosk.get_by_role("button", name="保存").click()
        kiosk.wait_for_url(re.compile(r"/kiosk/ticket$"))
        kiosk.get_by_role("button", name="结束使用，清除我的信息").click()
        kiosk.wait_for_url(re.compile(r"/kiosk/$"))

        kiosk.locator(".kiosk-tile", has_text="取号排队").click()  # a walk-in
        kiosk.get_by_role("link", name="现场取号").click()
        kiosk.get_by_label("事项").select_option(label="城乡居民基本医疗保险参保登记")
        kiosk.get_by_label("姓名").fill("刘大爷")
        kiosk.get_by_label("手机号码").fill("137 2222 3333")
        kiosk.get_by_role("button", name="取号").click()
        kiosk.wait_for_url(re.compile(r"/tickets/\w+$"))
        expect(kiosk.locator("h1")).to_have_text("A001")
        walk_in = kiosk.url
        shot(kiosk, "hall-ticket-kiosk-1080")
        assert serious_violations(kiosk) == []

        kiosk.goto("/kiosk/ticket")  # the booked resident scans the booking's QR code
        kiosk.get_by_label("预约编号，或扫描预约单、排队号上的二维码").fill(f"{server}/bookings/{ref}")
        kiosk.keyboard.press("Enter")
        kiosk.wait_for_url(re.compile(r"/tickets/\w+$"))
        expect(kiosk.locator("h1")).to_have_text("B001")
        assert "刘大爷" not in kiosk.content() and "孙阿姨" not in kiosk.content()

        phone.goto(walk_in)  # the walk-in scanned the printed ticket with a phone
        expect(phone.locator(".ticket-state")).to_contain_text("下一位就是您")
        shot(phone, "hall-ticket-waiting-375")
        assert serious_violations(phone) == []

        sign_in_as(desk_pc, "13800000102")  # 赵磊 at window 2 presses 叫号
        desk_pc.goto("/desk/")
        desk_pc.get_by_label("我的窗口").select_option(label="2号窗口")
        desk_pc.get_by_role("button", name="设定").click()
        desk_pc.get_by_role("button", name="叫号（下一位）").click()
        expect(desk_pc.locator(".notice-success")).to_contain_text("已呼叫 A001 到2号窗口")
        expect(desk_pc.locator(".calling")).to_contain_text("刘大爷")  # the clerk sees who
        shot(desk_pc, "hall-desk-calling")

        screen = browser.new_context(viewport=DISPLAY, base_url=server, locale="zh-CN",
                                     timezone_id="Asia/Shanghai").new_page()
        screen.goto(f"/stations/{station}/display")
        expect(screen.locator(".display-number")).to_have_text("A001")
        expect(screen.locator(".display-window")).to_contain_text("到2号窗口")
        assert "刘大爷" not in screen.content() and "3333" not in screen.content()
        shot(screen, "hall-display-1920")
        assert serious_violations(screen) == []

        # The walk-in's phone updates itself (every 5 s): it is their turn.
        expect(phone.locator(".ticket-state")).to_contain_text("轮到您了", timeout=12_000)
        expect(phone.locator(".ticket-state")).to_contain_text("请到2号窗口")
        shot(phone, "hall-ticket-called-375")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        desk_pc.get_by_role("button", name="叫号（下一位）").click()  # window 2 still calls A001
        expect(desk_pc.locator(".notice-error")).to_contain_text("正在呼叫A001")
        screen.context.close()


LOOKS = {  # name → (viewport, cookies)
    "375": (PHONE, {}),
    "elder-375": (PHONE, {"tb_elder": "1"}),
    "kiosk": (KIOSK, {"tb_kiosk": "1"}),
}
PAGES = {"hub": "/", "guide": "/services/SB-008", "weekly-issue": "/civility/issues/1",
         "desk": "/desk/", "kiosk-home": "/kiosk/"}  # the kiosk home last: it makes a kiosk


@pytest.mark.parametrize("look", LOOKS)
def test_five_pages_at_phone_width_in_elder_mode_and_on_the_kiosk(browser, server, look):
    """The hub, a guide, the kiosk home, a weekly issue and the desk: no serious or critical
    axe finding, nothing wider than the screen, every control in the header at least 44 px
    (48 in elder mode and on the kiosk). Screenshots in test-artifacts/."""
    size, cookies = LOOKS[look]
    context = browser.new_context(viewport=size, base_url=server, locale="zh-CN",
                                  has_touch=True, is_mobile=size is PHONE)
    context.add_cookies([{"name": k, "value": v, "url": server} for k, v in cookies.items()])
    page = context.new_page()
    try:
        for name, path in PAGES.items():
            if name == "desk":
                sign_in_as(page, "13800000101")
            page.goto(path)
            assert page.locator("h1").count() >= 1, name
            shot(page, f"page-{name}-{look}")
            assert serious_violations(page) == [], name
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= size["width"] + 1, (name, wide)
            smallest = 48 if look != "375" else 44
            for control in page.locator(".site-header button, .site-header a, .prefs button").all():
                box = control.bounding_box()
                if box:
                    assert box["height"] >= smallest and box["width"] >= smallest, \
                        (name, control.inner_text(), box)
    finally:
        context.close()


@pytest.mark.parametrize("look", ["375", "elder-375"])
def test_my_data_pages_at_phone_width_and_the_download(browser, server, look, tmp_path):
    """A resident's own data at 375 px (and in elder mode): what is held, correcting, the
    delete confirmation; axe clean, nothing wider than the screen; the ZIP downloads."""
    import zipfile
    size, cookies = LOOKS[look]
    context = browser.new_context(viewport=size, base_url=server, locale="zh-CN",
                                  has_touch=True, is_mobile=True, accept_downloads=True)
    context.add_cookies([{"name": k, "value": v, "url": server} for k, v in cookies.items()])
    page = context.new_page()
    try:
        sign_in_as(page, "13800000002")
        for name, path in (("data", "/me/data"), ("profile", "/me/profile"),
                           ("delete", "/me/delete")):
            page.goto(path)
            shot(page, f"mydata-{name}-{look}")
            assert serious_violations(page) == [], name
            assert page.evaluate("document.documentElement.scrollWidth") <= size["width"] + 1
        page.goto("/me/data")
        with page.expect_download() as download:
            page.get_by_role("link", name="下载 ZIP").click()
        saved = tmp_path / "mine.zip"
        download.value.save_as(saved)
        names = zipfile.ZipFile(saved).namelist()
        assert "index.html" in names and "data.json" in names
    finally:
        context.close()
