"""Service orders (居民点单、社区派单、志愿者接单、群众评单): ordered → dispatched (to a
team) → accepted (by a volunteer of that team) → done → rated; ordered/dispatched →
cancelled by the resident. Every step is on the resident's timeline.
"""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l

from portal import audit, happenings
from portal.database import write_transaction
from portal.extensions import db
from portal.transitions import advance
from portal.volunteer import steps
from portal.volunteer.models import (HourChange, HourRecord, ServiceOffer, ServiceOrder, Team,
                                     Volunteer, VolunteerStation)
from portal.volunteer.signups import VolunteerRefused


def place_order(*, user, offer: ServiceOffer, station: VolunteerStation, details: str,
                address: str, phone: str, wanted_on: date | None, today: date) -> ServiceOrder:
    if not offer.active:
        raise VolunteerRefused("offer", _l("这项服务暂停点单了。"))
    if wanted_on is not None and wanted_on < today:
        raise VolunteerRefused("past", _l("希望服务的日期不能早于今天。"))
    order = ServiceOrder(user_id=user.id, offer=offer, station=station, details=details,
                         address=address, phone=phone, wanted_on=wanted_on)
    db.session.add(order)
    db.session.flush()
    steps.add("order", order, "ordered", user.id)
    db.session.commit()
    return order


def dispatch(order: ServiceOrder, team: Team, *, actor_id: int) -> None:
    """Send the order to a team (again, to another team, while nobody has accepted it)."""
    if not team.active:
        raise VolunteerRefused("team", _l("这个团队已停用。"))
    with write_transaction():
        advance(order, ServiceOrder.status.in_(("ordered", "dispatched")), status="dispatched",
                team_id=team.id,
                refused=VolunteerRefused("moved", _l("这个点单已有志愿者接单或已结束，不能再派单。")))
        steps.add("order", order, "dispatched", actor_id, team.name)
        audit.record("volunteer.order_dispatch", order, team=team.id)
        steps.tell(order.user, _l("您点的“%(offer)s”已派给%(team)s，志愿者接单后会与您联系。",
                                  offer=order.offer.name, team=team.name))
        db.session.commit()


def accept(order: ServiceOrder, volunteer: Volunteer, *, member_teams: set[int]) -> None:
    if order.team_id not in member_teams:
        raise VolunteerRefused("not_member", _l("只有接到派单的团队成员才能接单。"))
    with write_transaction():
        advance(order, ServiceOrder.status == "dispatched", status="accepted",
                volunteer_id=volunteer.id,
                refused=VolunteerRefused("taken", _l("这个点单刚刚被别的志愿者接了。")))
        steps.add("order", order, "accepted", volunteer.user_id, volunteer.real_name)
        steps.tell(order.user, _l("志愿者%(name)s已接下您点的“%(offer)s”，会尽快与您联系。",
                                  name=volunteer.real_name, offer=order.offer.name))
        db.session.commit()


def finish(order: ServiceOrder, volunteer: Volunteer, *, note: str, minutes: int,
           served_on: date) -> None:
    """Done: the time it took goes to the coordinator as hours to approve."""
    if order.volunteer_id != volunteer.id:
        raise VolunteerRefused("not_yours", _l("只有接单的志愿者才能标记完成。"))
    if not 0 < minutes <= 24 * 60:
        raise VolunteerRefused("minutes", _l("服务时长要在0到24小时之间。"))
    with write_transaction():
        advance(order, ServiceOrder.status == "accepted", status="done", done_note=note.strip(),
                refused=VolunteerRefused("moved", _l("这个点单已经标记完成了。")))
        record = HourRecord(volunteer_id=volunteer.id, team_id=order.team_id, order_id=order.id,
                            served_on=served_on, what=order.offer.name, minutes=minutes)
        record.changes.append(HourChange(actor_id=volunteer.user_id, action="recorded",
                                         status="pending", minutes=minutes, reason="点单服务"))
        db.session.add(record)
        steps.add("order", order, "done", volunteer.user_id, note.strip())
        steps.tell(order.user, _l("您点的“%(offer)s”已完成服务，请在“我的”里评价。",
                                  offer=order.offer.name))
        happenings.order_done.send(order)
        db.session.commit()


def rate(order: ServiceOrder, *, user_id: int, rating: int, note: str) -> None:
    if not 1 <= rating <= 5:
        raise VolunteerRefused("rating", _l("请选择1到5分。"))
    with write_transaction():
        advance(order, ServiceOrder.status == "done", status="rated", rating=rating,
                rating_note=note.strip(),
                refused=VolunteerRefused("moved", _l("服务完成后才能评价，而且只能评价一次。")))
        steps.add("order", order, "rated", user_id, note.strip())
        db.session.commit()


def cancel_order(order: ServiceOrder, *, user_id: int) -> None:
    with write_transaction():
        advance(order, ServiceOrder.status.in_(("ordered", "dispatched")), status="cancelled",
                refused=VolunteerRefused("moved", _l("志愿者已经接单，不能在网上取消了；请联系志愿者。")))
        steps.add("order", order, "cancelled", user_id)
        db.session.commit()
