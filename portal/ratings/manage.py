"""Ratings, the staff side: the follow-up of bad ratings (`follow_ups`, at /desk/follow-ups):
call back, rectify, reply, in working days. A clerk sees the own station's cases, town
staff every station's."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.ratings import rules
from portal.ratings.forms import StepForm
from portal.ratings.models import FollowUp, Rating
from portal.security import staff_only
from portal.timeutil import local_today
from portal.web import render

bp = Blueprint("follow_ups", __name__, url_prefix="/desk/follow-ups")
staff_only(bp, "clerk", "town_staff")


def _cases_query():
    query = select(FollowUp).options(joinedload(FollowUp.rating).joinedload(Rating.booking))
    if not current_user.has_role("town_staff"):
        query = query.where(FollowUp.station_id == current_user.station_id)
    return query


@bp.route("")
def index():
    """Bad ratings' follow-up cases; overdue ones first and highlighted."""
    today = local_today()
    cases = db.session.scalars(_cases_query().order_by(FollowUp.opened_at.desc())).all()
    rows = sorted(((c, rules.overdue(c, today), rules.next_step(c)) for c in cases),
                  key=lambda row: (not row[1], row[2] is None))
    return render("follow_ups/index.html", rows=rows, today=today)


@bp.route("/<int:case_id>", methods=["GET", "POST"])
def case(case_id: int):
    """One case: the rating, the steps so far, and the next step to record."""
    case = db.session.scalar(_cases_query().where(FollowUp.id == case_id)) or abort(404)
    form = StepForm()
    step_name = rules.next_step(case)
    status = 200
    if form.validate_on_submit() and step_name:
        try:
            rules.record_step(case, step_name, current_user._get_current_object(), form.text.data)
        except rules.RatingRefused as refused:
            form.form_errors.append(refused.message)
            status = 409
        else:
            flash(_("已记录。"), "success")
            return redirect(url_for("follow_ups.case", case_id=case.id))
    elif form.errors:
        status = 422
    return render("follow_ups/case.html", case=case, form=form, step=step_name,
                  overdue=rules.overdue(case, local_today())), status
