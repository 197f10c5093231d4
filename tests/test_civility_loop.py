"""The civility loop closes: a moderator checks (验收) what a department says it rectified —
passed, or back with a reason and a new deadline — the public item says 已整改并验收 only
after the check; departments are ranked by the month; residents like red-list items, once."""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from sqlalchemy import select

from portal.civility import workflow
from portal.civility.models import Like, Report
from portal.civility.workflow import CivilityRefused
from portal.extensions import db
from tests.conftest import SHANGHAI, sign_in
from tests.test_civility import board, jpeg, published_uncivil  # noqa: F401 (fixture)


def rectified(board) -> Report:
    report = published_uncivil(board)
    board.department.post(f"/civility/department/items/{report.id}/start", {"note": "已到场"})
    board.department.post(f"/civility/department/items/{report.id}/finish",
                          {"note": "摊贩已入场经营"})
    db.session.refresh(report)
    assert report.rectification == "rectified"
    return report


def test_a_rectified_item_is_checked_before_the_public_is_told(board, client, page):
    report = rectified(board)
    shown = page(client.get(f"/civility/items/{report.id}"))
    assert "整改完成，待验收" in shown.text() and "已整改并验收" not in shown.text()
    queue = page(board.moderator.get("/civility/moderate/"))
    assert f"编号{report.id}" in queue.text("section[aria-labelledby=check-title]")
    failed = board.moderator.post(f"/civility/moderate/reports/{report.id}/check",
                                  {"outcome": "fail", "note": "", "due": "2026-12-20"},
                                  follow_redirects=True)
    assert "请写明还有什么没整改好" in failed.get_data(as_text=True)
    late = board.moderator.post(f"/civility/moderate/reports/{report.id}/check",
                                {"outcome": "fail", "note": "人行道仍有杂物", "due": "2026-11-01"},
                                follow_redirects=True)
    assert "新的整改期限" in late.get_data(as_text=True)
    board.moderator.post(f"/civility/moderate/reports/{report.id}/check",
                         {"outcome": "fail", "note": "人行道仍有杂物", "due": "2026-12-20"})
    db.session.refresh(report)
    assert report.rectification == "rectifying" and report.rectify_due == date(2026, 12, 20)
    assert report.events[-1].action == "check_fail" and "人行道仍有杂物" in report.events[-1].note
    board.department.post(f"/civility/department/items/{report.id}/finish", {"note": "已清理"})
    board.moderator.post(f"/civility/moderate/reports/{report.id}/check",
                         {"outcome": "pass", "note": "",
                          "photo": (io.BytesIO(jpeg()), "check.jpg")},
                         content_type="multipart/form-data")
    db.session.refresh(report)
    assert report.rectification == "checked" and report.checked_at is not None
    assert report.photos[-1].role == "after" and report.photos[-1].public is None
    assert "已整改并验收" in page(client.get(f"/civility/items/{report.id}")).text()
    again = board.moderator.post(f"/civility/moderate/reports/{report.id}/check",
                                 {"outcome": "pass"}, follow_redirects=True)
    assert "刚刚已更新" in again.get_data(as_text=True)  # checked once
    other = sign_in(board.app, "13911140020", name="居民乙")
    assert other.post(f"/civility/moderate/reports/{report.id}/check",
                      {"outcome": "pass"}).status_code in (302, 403, 404)


def test_departments_are_ranked_by_the_month(board, clock):
    mine = board.department.user.department_id

    def row(month):
        return next(r for r in workflow.ranking(month) if r.department.id == mine)

    december, november = date(2026, 12, 1), date(2026, 11, 1)
    before, checks_before = row(december), row(november)
    before = (before.due, before.on_time)
    checks_before = (checks_before.checks, checks_before.passed)
    on_time, late = rectified(board), published_uncivil(board)
    assert on_time.rectify_due.replace(day=1) == late.rectify_due.replace(day=1) == december
    workflow.check(on_time, board.moderator.user, True, "", today=date(2026, 11, 24))
    after = row(december)
    assert (after.due, after.on_time) == (before[0] + 2, before[1] + 1)
    checked = row(november)
    assert (checked.checks, checked.passed) == (checks_before[0] + 1, checks_before[1] + 1)
    ranked = workflow.ranking(december)
    assert ranked.index(after) < len([r for r in ranked if r.due or r.checks])
    clock.move_to(datetime(2026, 12, 2, 9, 0, tzinfo=SHANGHAI))
    board.moderator.login()
    shown = board.moderator.get("/civility/moderate/").get_data(as_text=True)
    assert "2026年11月责任部门考核排名" in shown and "2026年12月责任部门考核排名" in shown


def test_residents_like_red_list_items_once_and_may_take_it_back(board, client, page):
    praise = db.session.scalar(select(Report).where(Report.kind == "praise",
                                                    Report.status == "published"))
    uncivil = published_uncivil(board)
    url = f"/civility/items/{praise.id}/like"
    count = lambda: db.session.query(Like).filter_by(report_id=praise.id).count()  # noqa: E731
    others = count()  # the demo residents' likes
    for _ in range(2):
        assert board.resident.post(url, {}).status_code == 302
    assert count() == others + 1
    shown = page(board.resident.get(f"/civility/items/{praise.id}"))
    assert f"{others + 1}人点赞" in shown.text() and "已点赞（点击取消）" in shown.text()
    board.resident.post(url, {"on": "0"})
    assert count() == others
    refused = board.resident.post(f"/civility/items/{uncivil.id}/like", {},
                                  follow_redirects=True)
    assert "只能给红榜上的文明之举点赞" in refused.get_data(as_text=True)
    with pytest.raises(CivilityRefused):
        workflow.like(uncivil, board.resident.user.id, True)
    assert client.post(url).status_code in (302, 400)  # signed out: to the login page
    assert "登录" in page(client.get(f"/civility/items/{praise.id}")).text("#likes")
