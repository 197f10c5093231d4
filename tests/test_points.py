"""Points: a ledger granted once per deed and taken back when the deed is undone, monthly caps,
rules kept as written, redemptions racing for the last item or for the same balance (threads
on SQLite and PostgreSQL, and gunicorn worker processes over HTTP), codes that expire and give
the points back, partners who see and confirm only their own, the settlement file and the
public board naming only those who agreed."""
from __future__ import annotations

import csv
import io
import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.civility import workflow as civility
from portal.civility.models import Report, ReportCategory
from portal.extensions import db
from portal.notifications import Message
from portal.points import board, ledger, rewards
from portal.points.models import (Partner, PointEntry, PointRule, Redemption, Reward)
from portal.points.rewards import PointsRefused
from portal.timeutil import local_today, to_utc, utcnow
from portal.volunteer import hours
from portal.volunteer.models import HourRecord, Team, Volunteer
from tests.conftest import PASSWORD, make_user, race, sign_in
from tests.live import Browser, gunicorn
from tests.test_volunteer import id_card


def volunteer_of(user) -> Volunteer:
    volunteer = Volunteer(user_id=user.id, real_name=user.name, id_card=id_card(user.id),
                          gender="female", skills="digital", availability="weekend")
    db.session.add(volunteer)
    db.session.commit()
    return volunteer


def served(volunteer, minutes: int, day: date | None = None) -> HourRecord:
    team = db.session.scalar(select(Team)) or Team(name="数码助老队")
    record = HourRecord(volunteer_id=volunteer.id, team=team, served_on=day or local_today(),
                        what="教老人用手机", minutes=minutes)
    db.session.add(record)
    db.session.commit()
    return record


def rule(source: str, points: int, cap: int | None = None) -> PointRule:
    made = PointRule(source=source, points=points, monthly_cap=cap)
    db.session.add(made)
    db.session.commit()
    return made


def lines(user) -> list[tuple[str, int]]:
    db.session.expire_all()
    return [(e.kind, e.points) for e in db.session.scalars(
        select(PointEntry).where(PointEntry.user_id == user.id).order_by(PointEntry.id))]


@pytest.fixture
def people(app):
    rule("hours", 10)
    coordinator = make_user("13922220001", "coordinator", name="孙协调")
    she = make_user("13955550001", name="陈小红")
    return coordinator, she, volunteer_of(she)


# -- the ledger ---------------------------------------------------------------------------------

def test_hours_earn_once_when_approved_and_follow_every_later_decision(people):
    coordinator, she, volunteer = people
    record = served(volunteer, 120)
    assert lines(she) == []  # pending hours earn nothing yet
    hours.decide(record, "approve", actor_id=coordinator.id)
    hours.decide(record, "approve", actor_id=coordinator.id)  # approved again: nothing new
    assert lines(she) == [("grant", 20)]
    hours.decide(record, "adjust", actor_id=coordinator.id, minutes=90, reason="提前离开")
    assert lines(she) == [("grant", 20), ("reversal", -20), ("grant", 15)]
    hours.decide(record, "reject", actor_id=coordinator.id, reason="核实未到岗")
    assert lines(she)[-1] == ("reversal", -15) and ledger.balance(she.id) == 0
    hours.decide(record, "approve", actor_id=coordinator.id)  # the decision changed again
    assert ledger.balance(she.id) == 15 and len(lines(she)) == 5
    entry = db.session.scalar(select(PointEntry).where(PointEntry.user_id == she.id))
    entry.points = 999  # the ledger is never edited …
    with pytest.raises(ValueError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.scalar(select(PointEntry).where(PointEntry.user_id == she.id)))
    with pytest.raises(ValueError):  # … nor deleted
        db.session.commit()
    db.session.rollback()


def test_the_months_cap_grants_what_it_leaves_and_a_new_month_starts_afresh(people):
    coordinator, she, volunteer = people
    rule("hours", 10, cap=50)
    first = local_today().replace(day=1)
    for _ in range(3):
        hours.decide(served(volunteer, 120, first), "approve", actor_id=coordinator.id)
    assert [p for _kind, p in lines(she)] == [20, 20, 10]
    fourth = served(volunteer, 120, first)
    hours.decide(fourth, "approve", actor_id=coordinator.id)
    zero = db.session.scalar(select(PointEntry).where(PointEntry.source_id == fourth.id))
    assert zero.points == 0 and zero.worth == 20  # recorded: worth 20, capped to nothing
    next_month = to_utc(datetime.combine((first + timedelta(days=32)).replace(day=1),
                                         datetime.min.time()) + timedelta(hours=12))
    later = served(volunteer, 120)
    later.status = "approved"
    db.session.commit()
    ledger.settle("hours", later, now=next_month)
    db.session.commit()
    assert lines(she)[-1] == ("grant", 20)


def test_a_rule_change_is_a_new_row_and_earlier_points_stay(app, people, client, page):
    coordinator, she, volunteer = people
    hours.decide(served(volunteer, 60), "approve", actor_id=coordinator.id)
    admin = sign_in(app, "13900009901", "admin", name="吴管理")
    response = admin.post("/admin/points/", {"rule-source": "hours", "rule-points": "15",
                                             "rule-monthly_cap": "", "rule-note": "提高"})
    assert response.status_code == 302
    hours.decide(served(volunteer, 60), "approve", actor_id=coordinator.id)
    assert [p for _kind, p in lines(she)] == [10, 15]
    assert [(r.source, r.points) for r in db.session.scalars(
        select(PointRule).order_by(PointRule.id))] == [("hours", 10), ("hours", 15)]
    refused = admin.post("/admin/points/", {"rule-source": "hours", "rule-points": "-5"})
    assert refused.status_code == 422 and "积分在0到1000之间" in refused.get_data(as_text=True)
    shown = page(admin.get("/admin/points/"))
    assert shown.status == 200 and "提高" in shown.text()
    public = page(client.get("/points/"))
    assert "15分" in public.text()


def test_a_verified_civil_act_earns_its_reporter_points_and_a_withdrawal_takes_them_back(
        app, town):
    rule("civil_act", 5)
    reporter = make_user("13955550002", name="李好人")
    moderator = make_user("13955550003", "moderator", name="周审核")
    category = db.session.scalar(select(ReportCategory).order_by(ReportCategory.id))
    report = Report(kind="praise", category_id=category.id, reporter_id=reporter.id,
                    description="帮老人过马路", place="东岭村口", occurred_at=datetime(2026, 11, 1, 9))
    db.session.add(report)
    db.session.commit()
    civility.verify(report, moderator)
    assert lines(reporter) == [("grant", 5)]
    civility.reject(db.session.get(Report, report.id), moderator, "核实不是本人所为")
    assert lines(reporter) == [("grant", 5), ("reversal", -5)]


# -- redeeming -------------------------------------------------------------------------------

@pytest.fixture
def shop(app):
    partner = Partner(name="青禾便民超市", address="村口")
    other = Partner(name="镇文化站", kind="town")
    partner.rewards = [Reward(name="鸡蛋一盒", points=50, stock=2,
                              valid_until=local_today() + timedelta(days=30))]
    other.rewards = [Reward(name="电影票", points=30, stock=5,
                            valid_until=local_today() + timedelta(days=30))]
    db.session.add_all([partner, other])
    db.session.commit()
    return partner, other


def grant(user, points: int) -> None:
    """Points from a deed (an approved hour record of the right length)."""
    if db.session.scalar(select(func.count()).select_from(PointRule)) == 0:
        rule("hours", 60)
    volunteer = db.session.scalar(select(Volunteer).where(Volunteer.user_id == user.id)) \
        or volunteer_of(user)
    record = served(volunteer, points)  # 60 points an hour: a minute a point
    hours.decide(record, "approve", actor_id=None)


def test_a_redemption_spends_once_and_the_partner_confirms_only_its_own(app, shop):
    partner, other = shop
    she = make_user("13955550004", name="陈小红")
    grant(she, 40)
    with pytest.raises(PointsRefused) as short:
        rewards.redeem(she, partner.rewards[0])
    assert short.value.code == "not_enough" and "需要50分，您现在有40分" in str(short.value.message)
    db.session.rollback()
    assert db.session.get(Reward, partner.rewards[0].id).stock == 2  # nothing taken
    grant(she, 10)
    code = rewards.redeem(she, partner.rewards[0]).code
    assert ledger.balance(she.id) == 0 and db.session.get(Reward, partner.rewards[0].id).stock == 1
    with pytest.raises(PointsRefused) as elsewhere:  # another partner's code: not found
        rewards.confirm(code, other, actor_id=she.id)
    assert elsewhere.value.code == "unknown"
    spent = rewards.confirm(f" {code.lower()[1:]} ", partner, actor_id=she.id)  # typed loosely
    assert spent.status == "spent"
    with pytest.raises(PointsRefused) as twice:
        rewards.confirm(code, partner, actor_id=she.id)
    assert twice.value.code == "spent"
    assert rewards.expire_due(utcnow() + timedelta(days=30)) == 0  # spent: never refunded


def test_an_unconfirmed_code_expires_and_gives_points_and_stock_back_once(app, shop):
    partner, _other = shop
    she = make_user("13955550005", name="陈小红")
    grant(she, 50)
    code = rewards.redeem(she, partner.rewards[0]).code
    later = utcnow() + timedelta(days=rewards.REDEMPTION_DAYS, minutes=1)
    assert rewards.expire_due(utcnow()) == 0
    assert rewards.expire_due(later) == 1 and rewards.expire_due(later) == 0
    assert ledger.balance(she.id) == 50 and db.session.get(Reward, partner.rewards[0].id).stock == 2
    assert lines(she)[-2:] == [("redemption", -50), ("refund", 50)]
    told = db.session.scalars(select(Message.body).where(Message.user_id == she.id,
                                                         Message.kind == "points")).all()
    assert any("已过期" in body and code in body for body in told)
    with pytest.raises(PointsRefused) as late:
        rewards.confirm(code, partner, actor_id=she.id, now=later)
    assert late.value.code == "expired"


def test_two_people_racing_for_the_last_item_leave_one_winner(shop, wide_app):
    partner, _other = shop
    reward = db.session.get(Reward, partner.rewards[0].id)  # in this (wide) app's session
    reward.stock = 1
    db.session.commit()
    people = [make_user(f"139666{n:05d}", name=f"居民{n}") for n in range(6)]
    for person in people:
        grant(person, 50)
    ids, reward_id = [p.id for p in people], reward.id

    def take(k, barrier):
        from portal.accounts.models import User
        me, wanted = db.session.get(User, ids[k]), db.session.get(Reward, reward_id)
        wanted.partner  # loaded before the race, as the page had it
        barrier.wait()
        rewards.redeem(me, wanted)

    outcomes = race(wide_app, len(ids), take, PointsRefused)
    assert sorted(outcomes) == ["ok"] + ["out_of_stock"] * 5, outcomes
    db.session.expire_all()
    assert db.session.get(Reward, reward_id).stock == 0
    assert db.session.scalar(select(func.count()).select_from(Redemption)) == 1
    assert sorted(ledger.balance(i) for i in ids) == [0] + [50] * 5


def test_spending_the_same_balance_twice_at_once_leaves_one_winner(shop, wide_app):
    partner, other = shop
    she = make_user("13955550006", name="陈小红")
    grant(she, 50)  # enough for either reward, not for two of any
    me, wanted = she.id, [partner.rewards[0].id, other.rewards[0].id] * 3

    def take(k, barrier):
        from portal.accounts.models import User
        person, reward = db.session.get(User, me), db.session.get(Reward, wanted[k])
        reward.partner
        barrier.wait()
        rewards.redeem(person, reward)

    outcomes = race(wide_app, len(wanted), take, PointsRefused)
    assert outcomes.count("ok") == 1 and set(outcomes) == {"ok", "not_enough"}, outcomes
    assert ledger.balance(she.id) in (0, 20)


def test_over_http_worker_processes_racing_never_overspend_or_oversell(
        app, database_url, tmp_path, shop):
    """Against gunicorn (three worker processes): six residents press 兑换 for the two last
    boxes of eggs at the same instant, and one resident presses it in four browsers at once."""
    partner, other = shop
    people = [make_user(f"139777{n:05d}", name=f"居民{n}") for n in range(6)]
    for person in people:
        grant(person, 50)
    twice = make_user("13977799999", name="陈小红")
    grant(twice, 30)  # one film ticket
    phones, eggs, film = [p.phone for p in people], partner.rewards[0].id, other.rewards[0].id
    ids = [p.id for p in people]
    db.session.remove()
    with gunicorn(database_url, tmp_path, workers=3, threads=4) as base:
        browsers = [Browser(base) for _ in phones] + [Browser(base) for _ in range(4)]
        for browser, phone in zip(browsers, phones + ["13977799999"] * 4):
            browser.login(phone, PASSWORD)
        tokens = [b.token("/points/") for b in browsers]
        barrier, codes = threading.Barrier(len(browsers)), [0] * len(browsers)

        def press(n):
            barrier.wait(timeout=60)
            codes[n] = browsers[n].post(f"/points/rewards/{eggs if n < 6 else film}/redeem",
                                        {"csrf_token": tokens[n]})

        threads = [threading.Thread(target=press, args=(n,)) for n in range(len(browsers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert codes == [302] * len(browsers), codes
    with app.app_context():
        assert db.session.get(Reward, eggs).stock == 0
        assert db.session.get(Reward, film).stock == 4
        assert sorted(ledger.balance(i) for i in ids) == [0, 0, 50, 50, 50, 50]
        assert ledger.balance(db.session.scalar(select(PointEntry.user_id).where(
            PointEntry.kind == "redemption", PointEntry.points == -30))) == 0
        assert db.session.scalar(select(func.count()).select_from(Redemption)) == 3


# -- the partner's pages, the settlement file, the board ------------------------------------------

def test_a_partner_account_takes_codes_for_its_own_shop_only(app, shop, page):
    partner, other = shop
    she = make_user("13955550007", name="陈小红")
    grant(she, 80)
    mine = rewards.redeem(she, partner.rewards[0]).code
    theirs = rewards.redeem(she, other.rewards[0]).code
    clerk = sign_in(app, "13955550008", "partner", name="郑老板")
    clerk.user.partner_id = partner.id
    db.session.commit()
    assert clerk.get("/partner/").status_code == 200
    refused = clerk.post("/partner/confirm", {"code": theirs}, follow_redirects=True)
    assert "没有找到这个兑换码" in refused.get_data(as_text=True)
    taken = clerk.post("/partner/confirm", {"code": mine}, follow_redirects=True)
    assert "已核销" in taken.get_data(as_text=True)
    assert clerk.get(f"/partner/rewards/{other.rewards[0].id}").status_code == 404
    assert clerk.get(f"/partner/?partner={other.id}").status_code == 200  # still its own
    assert other.name not in page(clerk.get(f"/partner/?partner={other.id}")).text()
    sheet = clerk.get(f"/partner/redemptions.csv?month={local_today():%Y-%m}")
    rows = list(csv.reader(io.StringIO(sheet.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r[0] for r in rows[1:]] == [mine] and rows[1][2] == "50"
    for month in ("0001-01", "9999-12", "2026-13", "x"):  # this month instead, never a 500
        odd = clerk.get(f"/partner/redemptions.csv?month={month}")
        assert odd.status_code == 200 and mine in odd.get_data(as_text=True)
    unbound = sign_in(app, "13955550009", "partner", name="无店")
    assert unbound.get("/partner/").status_code == 404
    resident = sign_in(app, "13955550010", name="居民")
    assert resident.get("/partner/").status_code in (302, 403)


def test_the_board_names_only_those_who_agreed(app, shop, client, page):
    named = make_user("13955550011", name="愿具名")
    shy = make_user("13955550012", name="不具名")
    for person in (named, shy):
        grant(person, 40)
    ledger.set_named(named.id, True)
    month = local_today().replace(day=1)
    everyone = {p: n for b in board.top_by_village(month) for p, n in b.named}
    assert everyone == {}  # no village: not on a village's board
    from portal.places.models import Village, Town
    town = Town(code="t", name="青禾镇", phone="0")
    village = Village(name="东岭村", town=town)
    db.session.add_all([town, village])
    named.village, shy.village = village, village
    db.session.commit()
    [row] = board.top_by_village(month)
    assert row.named == [("愿具名", 40)] and row.people == 2 and row.points == 80
    shown = page(client.get("/points/"))
    assert "愿具名" in shown.text() and "不具名" not in shown.text()
    mine = sign_in(app, "13955550013", name="新人")
    opted = mine.post("/me/points/named", {"named": "y"})
    assert opted.status_code == 302 and db.session.get(ledger.PointAccount, mine.user.id).named


def test_the_demo_notice_on_points_tells_what_the_portal_does(app, town):
    """The demo's notice "关于邻礼通积分兑换的说明" states the demo's rules and the code's days."""
    from portal.notices.models import Notice
    body = db.session.scalar(select(Notice.body).where(Notice.title == "关于邻礼通积分兑换的说明"))
    for source, made in ledger.rules().items():
        assert f"{made.points}分" in body, source
        if made.monthly_cap is not None:
            assert f"每月最多{made.monthly_cap}分" in body, source
    assert f"{rewards.REDEMPTION_DAYS}天内" in body and "积分自动退回" in body
    assert db.session.scalar(select(func.count()).select_from(Partner)) == 2
    assert db.session.scalar(select(func.count()).select_from(Redemption).where(
        Redemption.status == "spent")) == 1
