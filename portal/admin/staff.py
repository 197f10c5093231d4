"""Staff roles on existing accounts: an admin gives a registered person the roles they work in.

One account per person: a clerk, editor or coordinator registers like any resident, and an
admin then gives the roles (and, for a clerk, the station; for a department account, the
department; for a partner account, the partner shop; for a coordinator, the volunteer teams and stations). Roles are read on every
request, so a change takes effect at the person's next click. Every change is audited with
what was before.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.accounts.models import ROLES, User, UserRole
from portal.extensions import db
from portal.refused import Refused


class StaffRefused(Refused):
    """A rule said no; `message` says why, `code` is the form field it is about."""

    @property
    def field(self) -> str:
        return self.code


@dataclass
class Duties:
    roles: set[str]
    station_id: int | None = None
    department_id: int | None = None
    partner_id: int | None = None
    teams: set[int] = field(default_factory=set)  # volunteer teams coordinated
    volunteer_stations: set[int] = field(default_factory=set)


def duties_of(user: User) -> Duties:
    from portal.volunteer.models import Coordination
    rows = db.session.execute(select(Coordination.team_id, Coordination.station_id)
                              .where(Coordination.user_id == user.id)).all()
    return Duties(roles=set(user.roles), station_id=user.station_id,
                  department_id=user.department_id, partner_id=user.partner_id,
                  teams={t for t, _ in rows if t}, volunteer_stations={s for _, s in rows if s})


def set_duties(user: User, wanted: Duties, *, actor: User) -> None:
    """Give `user` exactly these roles and their places; refuse what would not work."""
    unknown = wanted.roles - set(ROLES)
    if unknown:
        raise StaffRefused("roles", _l("没有这个角色：%(r)s", r="、".join(sorted(unknown))))
    if "clerk" in wanted.roles and wanted.station_id is None:
        raise StaffRefused("station", _l("窗口人员要选一个服务站"))
    if "department" in wanted.roles and wanted.department_id is None:
        raise StaffRefused("department", _l("责任部门账号要选一个部门"))
    if "partner" in wanted.roles and wanted.partner_id is None:
        raise StaffRefused("partner", _l("合作商家账号要选一个商家"))
    if user.id == actor.id and "admin" in user.roles and "admin" not in wanted.roles:
        raise StaffRefused("roles", _l("不能去掉自己的管理员角色，请另一位管理员来改"))
    try:
        _apply(user, wanted)
    except IntegrityError:  # another admin gave the same role this very moment
        db.session.rollback()
        raise StaffRefused("roles", _l("另一位管理员刚刚同时修改了这个账号的角色，请核对后再保存。")) \
            from None


def _apply(user: User, wanted: Duties) -> None:
    from portal.volunteer.models import Coordination
    before = duties_of(user)
    for row in list(user.role_rows):
        if row.role not in wanted.roles:
            user.role_rows.remove(row)
    for role in sorted(wanted.roles - before.roles):
        user.role_rows.append(UserRole(role=role))
    user.station_id = wanted.station_id if "clerk" in wanted.roles else None
    user.department_id = wanted.department_id if "department" in wanted.roles else None
    user.partner_id = wanted.partner_id if "partner" in wanted.roles else None
    teams, stations = ((wanted.teams, wanted.volunteer_stations)
                       if "coordinator" in wanted.roles else (set(), set()))
    db.session.execute(delete(Coordination).where(
        Coordination.user_id == user.id,
        or_(Coordination.team_id.is_not(None) & Coordination.team_id.not_in(teams),
            Coordination.station_id.is_not(None) & Coordination.station_id.not_in(stations))))
    db.session.add_all([Coordination(user_id=user.id, team_id=t)
                        for t in sorted(teams - before.teams)] +
                       [Coordination(user_id=user.id, station_id=s)
                        for s in sorted(stations - before.volunteer_stations)])
    audit.record("admin.staff", user, before=_plain(before), after=_plain(wanted))
    db.session.commit()


def _plain(duties: Duties) -> dict:
    return {"roles": sorted(duties.roles), "station": duties.station_id,
            "department": duties.department_id, "partner": duties.partner_id, "teams": sorted(duties.teams),
            "volunteer_stations": sorted(duties.volunteer_stations)}
