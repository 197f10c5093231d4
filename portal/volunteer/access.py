"""Who may do what in volunteer service (checked per object on every route).

- A coordinator acts for the teams and stations they coordinate (a Coordination row each):
  an activity of one of their teams or at one of their stations; wishes and orders that came
  in at one of their stations; hours and star levels of their teams; the service-menu
  entries their teams usually serve.
- A volunteer sees their own sign-ups, hours and certificate; a team member sees what was
  claimed by or dispatched to their team.
- A resident's address and phone on an order are seen by the resident and the dispatched
  team (its members and coordinators) only.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort, g
from sqlalchemy import select

from portal.extensions import db
from portal.volunteer.models import (Activity, Coordination, ServiceOffer, ServiceOrder,
                                     TeamMember, Volunteer, Wish)


@dataclass(frozen=True)
class Scope:
    teams: frozenset[int]
    stations: frozenset[int]

    def __bool__(self) -> bool:
        return bool(self.teams or self.stations)


def scope(user) -> Scope:
    """The teams and stations `user` coordinates (none without the coordinator role)."""
    if not user.is_authenticated or not user.has_role("coordinator"):
        return Scope(frozenset(), frozenset())
    cache = g.setdefault("volunteer_scopes", {})
    if user.id not in cache:
        rows = db.session.execute(select(Coordination.team_id, Coordination.station_id)
                                  .where(Coordination.user_id == user.id)).all()
        cache[user.id] = Scope(frozenset(t for t, _ in rows if t),
                               frozenset(s for _, s in rows if s))
    return cache[user.id]


def forget_scope(user) -> None:
    g.setdefault("volunteer_scopes", {}).pop(user.id, None)


def manages(user, activity: Activity) -> bool:
    mine = scope(user)
    return activity.team_id in mine.teams or activity.station_id in mine.stations


def activity_or_404(user, activity_id: int) -> Activity:
    activity = db.session.get(Activity, activity_id)
    if activity is None or not manages(user, activity):
        abort(404)
    return activity


def volunteer_of(user) -> Volunteer | None:
    """The signed-in resident's volunteer record, unless they withdrew their consent."""
    record = record_of(user)
    return record if record is not None and record.withdrawn_at is None else None


def record_of(user) -> Volunteer | None:
    """The record itself, withdrawn or not (registering again fills it in anew)."""
    if not user.is_authenticated:
        return None
    return db.session.scalar(select(Volunteer).where(Volunteer.user_id == user.id))


def member_teams(volunteer: Volunteer | None) -> set[int]:
    if volunteer is None:
        return set()
    return set(db.session.scalars(select(TeamMember.team_id)
                                  .where(TeamMember.volunteer_id == volunteer.id)))


def keeps_offer(user, offer: ServiceOffer) -> bool:
    """The service menu: an entry is kept by the coordinators of its usual team (any
    coordinator, for an entry without one)."""
    mine = scope(user)
    return bool(mine) and (offer.team_id is None or offer.team_id in mine.teams)


def screens(user, wish: Wish) -> bool:
    return wish.station_id in scope(user).stations


def claimant(volunteer: Volunteer | None, wish: Wish) -> bool:
    """The volunteer who claimed it, or a member of the team that claimed it."""
    if volunteer is None:
        return False
    return wish.claim_volunteer_id == volunteer.id or (
        wish.claim_team_id is not None and wish.claim_team_id in member_teams(volunteer))


def dispatches(user, order: ServiceOrder) -> bool:
    return order.station_id in scope(user).stations


def on_dispatched_team(user, order: ServiceOrder) -> bool:
    """A member or coordinator of the team the order was dispatched to."""
    if order.team_id is None:
        return False
    return order.team_id in scope(user).teams or order.team_id in member_teams(volunteer_of(user))


def sees_contact(user, order: ServiceOrder) -> bool:
    return user.is_authenticated and (order.user_id == user.id or on_dispatched_team(user, order))


def sees_order(user, order: ServiceOrder) -> bool:
    return sees_contact(user, order) or dispatches(user, order)
