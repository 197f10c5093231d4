"""Micro-wishes (微心愿): posted → public (screened) → claimed → fulfilled → thanked;
posted → rejected at screening; posted/public → withdrawn by the resident.

The public wall shows only what the coordinator screened (title, story, a name such as
东岭村王奶奶); the phone and address go to the claimant only. One claimant: a volunteer, or a
team jointly.
"""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal import audit, happenings
from portal.database import write_transaction
from portal.extensions import db
from portal.timeutil import utcnow
from portal.transitions import advance
from portal.volunteer import steps
from portal.volunteer.models import Team, Volunteer, VolunteerStation, Wish
from portal.volunteer.signups import VolunteerRefused

STORY_MAX = 300


def max_value() -> int:
    return int(current_app.config["VOLUNTEER_WISH_MAX_YUAN"])


def post_wish(*, user, station: VolunteerStation, title: str, story: str, value_yuan: int,
              address: str) -> Wish:
    if not 0 <= value_yuan <= max_value():
        raise VolunteerRefused("value", _l("微心愿的价值请在%(n)d元以内。", n=max_value()))
    if len(story) > STORY_MAX:
        raise VolunteerRefused("story", _l("心愿说明不能超过%(n)d个字。", n=STORY_MAX))
    wish = Wish(user_id=user.id, station=station, title=title, story=story,
                value_yuan=value_yuan, phone=user.phone, address=address)
    db.session.add(wish)
    db.session.flush()
    steps.add("wish", wish, "posted", user.id)
    db.session.commit()
    return wish


def screen(wish: Wish, *, actor_id: int, approve: bool, public_name: str = "", title: str = "",
           story: str = "", reason: str = "") -> None:
    """Put a wish on the wall as edited (no personal data), or turn it down with a reason."""
    if approve and not public_name.strip():
        raise VolunteerRefused("public_name", _l("请填写公开显示的称呼，例如“东岭村王奶奶”。"))
    if not approve and not reason.strip():
        raise VolunteerRefused("reason", _l("请写明不通过的理由（居民会看到）。"))
    values = ({"public_name": public_name.strip(), "title": title or wish.title,
               "story": story or wish.story} if approve else {"reason": reason.strip()})
    with write_transaction():
        advance(wish, Wish.status == "posted", status="public" if approve else "rejected",
                **values,
                refused=VolunteerRefused("moved", _l("这个心愿已经审核过了。")))
        steps.add("wish", wish, "screened" if approve else "rejected", actor_id, reason)
        audit.record("volunteer.wish_screen", wish, approve=approve)
        steps.tell(wish.user, _l("您的微心愿“%(title)s”已通过审核，登上心愿墙。", title=wish.title)
                   if approve else _l("您的微心愿“%(title)s”未通过审核：%(reason)s",
                                      title=wish.title, reason=reason))
        db.session.commit()


def claim(wish: Wish, volunteer: Volunteer, *, team: Team | None, member_teams: set[int]) -> None:
    """One claimant: the volunteer, or a team they belong to (jointly)."""
    if team is not None and team.id not in member_teams:
        raise VolunteerRefused("not_member", _l("只能以自己所在的团队名义认领。"))
    with write_transaction():
        advance(wish, Wish.status == "public", status="claimed", claimed_by=volunteer.id,
                claim_volunteer_id=None if team else volunteer.id,
                claim_team_id=team.id if team else None, claimed_at=utcnow(),
                refused=VolunteerRefused("taken", _l("这个心愿刚刚被别人认领了，看看其他心愿吧。")))
        who = team.name if team else volunteer.real_name
        steps.add("wish", wish, "claimed", volunteer.user_id, who)
        steps.tell(wish.user, _l("您的微心愿“%(title)s”已由%(who)s认领，志愿者会与您联系。",
                                 title=wish.title, who=who))
        db.session.commit()


def fulfil(wish: Wish, volunteer: Volunteer, note: str) -> None:
    if not note.strip():
        raise VolunteerRefused("note", _l("请简单写一下心愿是怎样实现的。"))
    with write_transaction():
        advance(wish, Wish.status == "claimed", status="fulfilled", fulfil_note=note.strip(),
                fulfilled_at=utcnow(),
                refused=VolunteerRefused("moved", _l("这个心愿已经标记为实现了。")))
        steps.add("wish", wish, "fulfilled", volunteer.user_id, note.strip())
        steps.tell(wish.user, _l("您的微心愿“%(title)s”已实现。欢迎在“我的”里说声谢谢、评个分。",
                                 title=wish.title))
        happenings.wish_fulfilled.send(wish)
        db.session.commit()


def thank(wish: Wish, *, user_id: int, rating: int, thanks: str) -> None:
    if not 1 <= rating <= 5:
        raise VolunteerRefused("rating", _l("请选择1到5分。"))
    with write_transaction():
        advance(wish, Wish.status == "fulfilled", status="thanked", rating=rating,
                thanks=thanks.strip(),
                refused=VolunteerRefused("moved", _l("心愿实现后才能致谢，而且只能致谢一次。")))
        steps.add("wish", wish, "thanked", user_id, thanks.strip())
        db.session.commit()


def withdraw_wish(wish: Wish, *, user_id: int) -> None:
    with write_transaction():
        advance(wish, Wish.status.in_(("posted", "public")), status="withdrawn",
                refused=VolunteerRefused("moved", _l("心愿已被认领，不能撤回了；请联系认领的志愿者。")))
        steps.add("wish", wish, "withdrawn", user_id)
        db.session.commit()
