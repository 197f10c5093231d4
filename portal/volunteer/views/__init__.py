"""Volunteer service for residents and volunteers, on the `volunteer` blueprint: this module
holds the blueprint and what its pages share; the pages are in `activities.py` (activities,
sign-up and the waitlist, registration, my volunteering and the certificate, teams, a
volunteer's tasks), `wishes.py` (the micro-wish wall) and `orders.py` (service orders).
Coordinators' pages are in `volunteer/manage.py`.
"""
from __future__ import annotations

from flask import Blueprint, flash
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from portal.extensions import db
from portal.templating import label_filters
from portal.volunteer import access
from portal.volunteer.hours import hours_text
from portal.volunteer.models import (AVAILABILITY_LABELS, GENDER_LABELS, HOUR_ACTION_LABELS,
                                     HOUR_LABELS, ORDER_LABELS, SIGNUP_LABELS, SKILL_LABELS,
                                     STEP_ACTION_LABELS, WISH_LABELS, Team, VolunteerStation)
from portal.volunteer.signups import VolunteerRefused

bp = Blueprint("volunteer", __name__, url_prefix="/volunteer")
label_filters(bp, skill_label=SKILL_LABELS, availability_label=AVAILABILITY_LABELS,
              gender_label=GENDER_LABELS, signup_status=SIGNUP_LABELS,
              hour_status=HOUR_LABELS, hour_action=HOUR_ACTION_LABELS,
              wish_status=WISH_LABELS, order_status=ORDER_LABELS,
              volunteer_step=STEP_ACTION_LABELS)
bp.add_app_template_filter(hours_text, "hours")
PER_PAGE = 20


def active_teams() -> list[Team]:
    return db.session.scalars(select(Team).where(Team.active.is_(True)).order_by(Team.name)).all()


def active_stations() -> list[VolunteerStation]:
    return db.session.scalars(select(VolunteerStation).where(VolunteerStation.active.is_(True))
                              .order_by(VolunteerStation.name)).all()


def options(rows, first: str) -> list[SelectChoice]:
    return [SelectChoice(0, first)] + [SelectChoice(r.id, r.name) for r in rows]


def checked(form) -> None:
    """A small form posted from a page that shows several: its problems as one refusal."""
    if not form.validate():
        raise VolunteerRefused("form", "；".join(
            str(message) for field in form for message in field.errors))



def volunteer_or_register():
    """The signed-in person's volunteer record, or None with a note to register first."""
    volunteer = access.volunteer_of(current_user)
    if volunteer is None:
        flash(_("第一次参加志愿服务，请先登记志愿者信息。"), "info")
    return volunteer

# The pages register their routes on `bp` when imported.
from portal.volunteer.views import activities, orders, wishes  # noqa: E402, F401
