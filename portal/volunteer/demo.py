"""Demo data for volunteer service: teams, stations, a coordinator for all of them, volunteers
with hours across the star thresholds, upcoming activities (some full, with a waitlist; a
weekly series; one under way today), past activities with hours approved and pending, wishes
and orders in every state. Dates are relative to today, so the demo never goes stale."""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from sqlalchemy import func, select, update

from portal.accounts.models import User
from portal.extensions import db
from portal.timeutil import local_now, utcnow
from portal.volunteer import signups
from portal.volunteer.models import (Activity, Coordination, HourChange, HourRecord, ServiceOffer,
                                     ServiceOrder, SignUp, Step, Team, Volunteer, VolunteerStation,
                                     Wish)

TEAMS = (("健康义诊志愿服务队", "health", "镇卫生院医生护士，每月进村量血压、测血糖、讲健康知识。"),
         ("法律援助志愿服务队", "legal", "司法所和律师事务所的志愿者，解答婚姻、土地、劳务纠纷问题。"),
         ("数码助老志愿服务队", "digital", "教老人用智能手机：挂号、视频通话、防诈骗。"),
         ("文艺宣传志愿服务队", "culture", "广场舞、快板、村晚，宣传移风易俗。"),
         ("环境守护志愿服务队", "environment", "河道巡查、垃圾分类宣传、植树护绿。"))
STATIONS = (("东岭村志愿服务驿站", "东岭村村委会一楼"), ("西河村志愿服务驿站", "西河村文化礼堂"),
            ("镇新时代文明实践站", "青禾镇文化中心二楼"))
OFFERS = (("上门家电维修", "为独居、高龄老人维修小家电、更换灯泡水龙头。", 2),
          ("陪同就医", "陪同行动不便的老人到镇卫生院或县医院看病、取药。", 0),
          ("法律咨询", "志愿律师电话或上门解答法律问题。", 1),
          ("手机使用指导", "上门教用智能手机、医保电子凭证、健康码。", 2),
          ("代购代办", "代买生活用品、代缴水电费。", 3))
# (team, station, title, place, days from today (None: next Saturday), start, end, capacity,
#  taken, waiting, weeks)
UPCOMING = (
    (0, 0, "义诊进村：量血压测血糖", "东岭村村委会广场", 2, time(8, 30), time(11, 30), 6, 4, 0, 1),
    (2, 2, "手机课堂：学用医保电子凭证", "文化中心二楼教室", 3, time(14, 0), time(16, 0), 4, 4, 2, 1),
    (4, 1, "西河河道巡查", "西河村文化礼堂门口集合", 4, time(7, 30), time(10, 0), 10, 3, 0, 1),
    (1, 2, "法律明白人讲座", "文化中心报告厅", 5, time(9, 0), time(11, 0), 3, 3, 1, 1),
    (3, 0, "文艺进村排练", "东岭村文化广场", 6, time(18, 30), time(20, 30), 20, 8, 0, 1),
    (0, 2, "周六健康小屋值守", "文化中心一楼健康小屋", None, time(9, 0), time(12, 0), 2, 1, 0, 4),
    (4, 0, "垃圾分类入户宣传", "东岭村村委会", 9, time(9, 0), time(11, 30), 8, 2, 0, 1),
    (2, 1, "防诈骗知识讲座", "西河村文化礼堂", 12, time(14, 30), time(16, 0), 12, 0, 0, 1),
)
# Activities for residents, not volunteers (any resident joins; no hours): (team, station,
# title, place, days ahead, starts, ends, capacity, weeks)
RESIDENT_ACTIVITIES = (
    (2, 2, "四点半课堂：小学生课后托管", "文化中心二楼阅览室", 2, time(16, 30), time(18, 0), 15, 4),
    (3, 0, "腰鼓队排练（欢迎居民加入）", "东岭村文化广场", 3, time(19, 0), time(20, 30), 2, 1),
    (1, 1, "个体商户消防安全培训", "西河村文化礼堂", 8, time(15, 0), time(16, 30), 30, 1),
)
NAMES = ("周大伟", "吴小红", "郑海燕", "王建军", "冯丽", "陈志强", "褚晓梅", "卫国庆", "蒋春花",
         "沈明", "韩雪", "杨帆")
COORDINATOR = "13800000501"
RESIDENTS = ("13800000001", "13800000002")


def seed_volunteer(town) -> int:
    """Load the demo once; returns how many activities there are."""
    if db.session.scalar(select(func.count()).select_from(Team)):
        return db.session.scalar(select(func.count()).select_from(Activity))
    rng = random.Random(7)
    teams = [Team(name=n, skill=s, description=d) for n, s, d in TEAMS]
    stations = [VolunteerStation(name=n, address=a, village_id=town.villages[i].id)
                for i, (n, a) in enumerate(STATIONS)]
    db.session.add_all(teams + stations)
    db.session.flush()
    coordinator = db.session.scalar(select(User).where(User.phone == COORDINATOR))
    db.session.add_all([Coordination(user_id=coordinator.id, team_id=t.id) for t in teams] +
                       [Coordination(user_id=coordinator.id, station_id=s.id) for s in stations])
    db.session.add_all([ServiceOffer(name=n, description=d, team_id=teams[t].id, position=i)
                        for i, (n, d, t) in enumerate(OFFERS)])
    volunteers = _volunteers(town, teams, rng)
    now = local_now().replace(second=0, microsecond=0)
    _past(teams, stations, volunteers, now, rng)
    _upcoming(teams, stations, volunteers, now, coordinator)
    _today(teams, stations, volunteers, now)
    _resident(teams, stations, now, coordinator)
    db.session.flush()
    _wishes_and_orders(teams, stations, volunteers, coordinator)
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(Activity))


def _volunteers(town, teams, rng) -> list[Volunteer]:
    """The two demo residents and a dozen more (they share the demo password's hash)."""
    password_hash = db.session.scalar(select(User.password_hash).where(User.phone == RESIDENTS[0]))
    users = [db.session.scalar(select(User).where(User.phone == p)) for p in RESIDENTS]
    for n, name in enumerate(NAMES):
        user = User(phone=f"1370000{2000 + n:04d}", name=name, password_hash=password_hash,
                    village=town.villages[n % len(town.villages)])
        db.session.add(user)
        users.append(user)
    db.session.flush()
    volunteers = []
    for n, user in enumerate(users):
        volunteer = Volunteer(user_id=user.id, real_name=user.name, id_card=_id_card(n),
                              gender=("female", "male")[n % 2],
                              skills=",".join(rng.sample(("health", "digital", "elderly",
                                                          "culture", "environment"), 2)),
                              availability="weekend,weekday_evening")
        volunteer.teams = [teams[n % len(teams)]] + ([teams[2]] if n == 0 else [])
        volunteers.append(volunteer)
    db.session.add_all(volunteers)
    db.session.flush()
    return volunteers


def _id_card(n: int) -> str:
    from portal.accounts.validation import id_card_check_char
    first17 = f"33010019{70 + n % 25:02d}0{1 + n % 9}1{n % 10}{100 + n:03d}"[:17]
    return first17 + id_card_check_char(first17)


def _signup(activity, volunteer, status, queued) -> SignUp:
    signup = SignUp(activity_id=activity.id, volunteer_id=volunteer.id, status=status,
                    code=signups.new_code(), queued_at=queued)
    db.session.add(signup)
    return signup


def _past(teams, stations, volunteers, now, rng) -> None:
    """Three months of finished activities: most hours approved, the last week's pending;
    one long-serving volunteer has enough hours for two stars."""
    for weeks_ago in range(12, 0, -1):
        day = now.date() - timedelta(weeks=weeks_ago, days=1)
        team, station = teams[weeks_ago % len(teams)], stations[weeks_ago % len(stations)]
        activity = Activity(team=team, station=station, title=f"{team.name[:4]}服务日",
                            place=station.address, day=day, starts=time(9, 0), ends=time(11, 30),
                            capacity=6, taken=4, created_at=now - timedelta(weeks=weeks_ago + 2))
        db.session.add(activity)
        db.session.flush()
        for volunteer in rng.sample(volunteers, 4):
            signup = _signup(activity, volunteer, "confirmed", now - timedelta(weeks=weeks_ago + 1))
            signup.checked_in_at = datetime.combine(day, time(8, 55))
            signup.checked_out_at = datetime.combine(day, time(11, 35))
            db.session.flush()
            status = "pending" if weeks_ago == 1 else "approved"
            _hours(volunteer, team, day, activity.title, 150, status, signup_id=signup.id)
    veteran = volunteers[2]
    for month in range(1, 25):  # two years of monthly 14-hour duty: 336 hours
        _hours(veteran, teams[0], now.date() - timedelta(days=30 * month + 20), "健康小屋月度值守",
               14 * 60, "approved")
    veteran.star_level = 1  # reviewed at one star; the second is due for review


def _hours(volunteer, team, day, what, minutes, status, signup_id=None) -> None:
    record = HourRecord(volunteer_id=volunteer.id, team_id=team.id, signup_id=signup_id,
                        served_on=day, what=what, minutes=minutes, status=status)
    record.changes.append(HourChange(action="recorded", status="pending", minutes=minutes,
                                     reason="签到签退"))
    if status == "approved":
        record.changes.append(HourChange(action="approved", status="approved", minutes=minutes))
    db.session.add(record)


def _upcoming(teams, stations, volunteers, now, coordinator) -> None:
    saturday = (5 - now.weekday()) % 7 or 7
    for n, (team, station, title, place, offset, starts, ends, capacity, taken, waiting,
            weeks) in enumerate(UPCOMING):
        made = signups.create(team=teams[team], station=stations[station], title=title,
                              place=place, day=now.date() + timedelta(days=saturday if offset is None else offset),
                              starts=starts,
                              ends=ends, capacity=capacity, weeks=weeks, now=now,
                              actor_id=coordinator.id, bring="身份证或志愿者证，水杯",
                              description=f"{title}。请提前10分钟到达，穿志愿者马甲。",
                              skill=teams[team].skill)
        # The demo residents (the first two volunteers) stay free for the visitor to try;
        # each activity starts further down the list, so nobody holds overlapping places.
        people = volunteers[2:]
        people = people[3 * n % len(people):] + people[:3 * n % len(people)]
        for n, volunteer in enumerate(people[:taken + waiting]):
            status = "confirmed" if n < taken else "waitlisted"
            _signup(made[0], volunteer, status, now - timedelta(hours=48 - n))
        db.session.execute(update(Activity).where(Activity.id == made[0].id)
                           .values(taken=taken, waiting=waiting))


def _resident(teams, stations, now, coordinator) -> None:
    """Resident activities; the drum class is full, with one resident waiting."""
    joiners = (("13700003001", "林阿姨"), ("13700003002", "何大叔"), ("13700003003", "许小妹"))
    for team, station, title, place, offset, starts, ends, capacity, weeks in RESIDENT_ACTIVITIES:
        made = signups.create(team=teams[team], station=stations[station], title=title,
                              place=place, day=now.date() + timedelta(days=offset), starts=starts,
                              ends=ends, capacity=capacity, weeks=weeks, now=now,
                              actor_id=coordinator.id, kind="resident",
                              description=f"{title}。面向全体居民，免费参加，不需要登记为志愿者。")
        for phone, name in joiners[:3 if capacity == 2 else 1]:
            signups.join(made[0], name=name, phone=phone, user_id=None, now=now)


def _today(teams, stations, volunteers, now) -> None:
    """An activity under way, for the coordinator's attendance page."""
    starts = (now - timedelta(minutes=30)).time().replace(second=0, microsecond=0)
    ends = min(now + timedelta(hours=2), datetime.combine(now.date(), time(23, 59))).time()
    if ends <= starts:
        return
    activity = Activity(team=teams[2], station=stations[0], title="数码助老：教老人视频通话",
                        place="东岭村村委会一楼", day=now.date(), starts=starts, ends=ends,
                        capacity=5, taken=3, skill="digital")
    db.session.add(activity)
    db.session.flush()
    for n, volunteer in enumerate(volunteers[5:8]):
        signup = _signup(activity, volunteer, "confirmed", now - timedelta(days=2, minutes=n))
        if n < 2:
            signup.checked_in_at = datetime.combine(now.date(), starts)


def _wishes_and_orders(teams, stations, volunteers, coordinator) -> None:
    zhang = db.session.scalar(select(User).where(User.phone == RESIDENTS[0]))
    li = db.session.scalar(select(User).where(User.phone == RESIDENTS[1]))
    helper = volunteers[3]
    wishes = (
        (li, "一副老花镜", "眼睛花了，看不清药盒上的字。", 60, "posted", "", None),
        (li, "学会用微信视频", "孙子在外地上学，想和他视频。", 0, "public", "西河村李大爷", None),
        (zhang, "一台收音机", "每天想听听戏曲和新闻。", 80, "public", "东岭村张奶奶", None),
        (li, "帮忙修好院门", "院门合页坏了，关不上。", 30, "claimed", "西河村李大爷", "team"),
        (zhang, "一本大字版新华字典", "想教孙女认字。", 40, "thanked", "东岭村张奶奶", "volunteer"),
    )
    for user, title, story, value, status, public_name, claim in wishes:
        wish = Wish(user_id=user.id, station=stations[0], title=title, story=story,
                    value_yuan=value, phone=user.phone, address="（演示地址）村东头第三户",
                    status=status, public_name=public_name)
        if claim == "team":
            wish.claim_team_id, wish.claimed_by = teams[2].id, helper.id
        elif claim == "volunteer":
            wish.claim_volunteer_id, wish.claimed_by = helper.id, helper.id
            wish.fulfil_note, wish.rating, wish.thanks = "已送到家中。", 5, "谢谢小王！"
            wish.fulfilled_at = utcnow()
        db.session.add(wish)
        db.session.flush()
        db.session.add(Step(object_type="wish", object_id=wish.id, action="posted",
                            actor_id=user.id))
        path = ("screened", "claimed", "fulfilled", "thanked")
        reached = {"posted": 0, "public": 1, "claimed": 2, "thanked": 4}[status]
        for action in path[:reached]:
            actor = coordinator.id if action == "screened" else (
                user.id if action == "thanked" else helper.user_id)
            db.session.add(Step(object_type="wish", object_id=wish.id, action=action,
                                actor_id=actor))
    offers = db.session.scalars(select(ServiceOffer).order_by(ServiceOffer.position)).all()
    orders = ((zhang, 0, "厨房的电饭锅不加热了。", "ordered", None),
              (li, 1, "下周二要去县医院复查，腿脚不便。", "dispatched", 0),
              (zhang, 3, "想学手机上交医保。", "accepted", 2),
              (li, 2, "宅基地边界和邻居有争议。", "rated", 1))
    for user, offer, details, status, team in orders:
        order = ServiceOrder(user_id=user.id, offer=offers[offer], station=stations[0],
                             details=details, address="（演示地址）村东头第三户", phone=user.phone,
                             status=status, team_id=teams[team].id if team is not None else None)
        if status in ("accepted", "rated"):
            member = next(v for v in volunteers if teams[team] in v.teams)
            order.volunteer_id = member.id
        if status == "rated":
            order.done_note, order.rating, order.rating_note = "已当面讲清楚政策。", 5, "很耐心"
        db.session.add(order)
        db.session.flush()
        for action in ("ordered", "dispatched", "accepted", "done", "rated")[
                :("ordered", "dispatched", "accepted", "done", "rated").index(status) + 1]:
            db.session.add(Step(object_type="order", object_id=order.id, action=action,
                                actor_id=user.id if action in ("ordered", "rated") else coordinator.id))
