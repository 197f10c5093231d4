"""The micro-wish wall (微心愿): post, claim, fulfil, thank, withdraw."""
from __future__ import annotations


from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from portal.extensions import db, limiter
from portal.volunteer import access, steps, wishes
from portal.volunteer.forms import (ClaimForm, NoteForm, ThanksForm, WishForm)
from portal.volunteer.models import (Team,
                                     VolunteerStation, Wish)
from portal.volunteer.signups import VolunteerRefused
from portal.web import attempted, form_status, render, user_key
from portal.volunteer.views import active_stations, bp, checked, options, volunteer_or_register
from portal.page_cache import cached_page


@bp.route("/wishes/")
@cached_page("volunteer", "places", "people", signed_in=True)
def wall():
    """Screened wishes waiting for someone, and those claimed (with who claimed them)."""
    shown = db.session.scalars(select(Wish).where(Wish.status.in_(("public", "claimed")))
                               .options(joinedload(Wish.claim_team), joinedload(Wish.claim_volunteer),
                                        joinedload(Wish.station))
                               .order_by(Wish.status.desc(), Wish.id.desc()).limit(200)).all()
    fulfilled = db.session.scalar(select(func.count()).select_from(Wish).where(
        Wish.status.in_(("fulfilled", "thanked"))))
    return render("volunteer/wall.html", wishes=shown, fulfilled=fulfilled)


@bp.route("/wishes/new", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per day", methods=["POST"], key_func=user_key)
def new_wish():
    """Post a micro-wish; it goes on the wall after screening."""
    form = WishForm()
    form.station.choices = options(active_stations(), _("请选择"))
    if form.validate_on_submit():
        station = db.session.get(VolunteerStation, form.station.data)
        try:
            if station is None or not station.active:
                raise VolunteerRefused("station", _("请选择服务站"))
            wish = wishes.post_wish(user=current_user, station=station, title=form.title.data,
                                    story=form.story.data, value_yuan=form.value_yuan.data,
                                    address=form.address.data)
        except VolunteerRefused as refused:
            form.form_errors.append(str(refused.message))
        else:
            flash(_("心愿已提交。协调员审核后（去掉个人信息）会登上心愿墙。"), "success")
            return redirect(url_for("volunteer.wish", wish_id=wish.id))
    return (render("volunteer/new_wish.html", form=form, max_value=wishes.max_value()),
            form_status(form))


def _wish_or_404(wish_id: int) -> Wish:
    wish = db.session.get(Wish, wish_id)
    if wish is None:
        abort(404)
    involved = current_user.is_authenticated and (
        wish.user_id == current_user.id or access.screens(current_user, wish)
        or access.claimant(access.volunteer_of(current_user), wish))
    if wish.status in ("posted", "rejected", "withdrawn") and not involved:
        abort(404)
    return wish


@bp.route("/wishes/<int:wish_id>")
def wish(wish_id: int):
    """One wish; its owner, claimant and coordinators also see the steps and how to get in touch."""
    found = _wish_or_404(wish_id)
    volunteer = access.volunteer_of(current_user)
    owner = current_user.is_authenticated and found.user_id == current_user.id
    claimant = access.claimant(volunteer, found)
    claim = ClaimForm()
    claim.team.choices = [SelectChoice(0, _("我个人认领"))] + [
        SelectChoice(t.id, _("以“%(team)s”团队名义认领", team=t.name)) for t in (volunteer.teams if volunteer else [])]
    coordinator = current_user.is_authenticated and access.screens(current_user, found)
    return render("volunteer/wish.html", wish=found, volunteer=volunteer, owner=owner,
                  claimant=claimant, claim=claim, fulfil=NoteForm(), thanks=ThanksForm(),
                  contact=owner or claimant or coordinator,
                  steps=steps.steps("wish", found.id) if owner or claimant or coordinator else [])


@bp.route("/wishes/<int:wish_id>/claim", methods=["POST"])
@login_required
def claim_wish(wish_id: int):
    """Claim a wish, alone or for a team one belongs to."""
    volunteer = volunteer_or_register()
    if volunteer is None:
        return redirect(url_for("volunteer.register",
                                next=url_for("volunteer.wish", wish_id=wish_id)))
    form = ClaimForm()

    def act(found):
        if found.user_id == current_user.id:
            raise VolunteerRefused("own", _("不能认领自己的心愿。"))
        team = db.session.get(Team, form.team.data) if form.team.data else None
        if form.team.data and team is None:
            raise VolunteerRefused("team", _("只能以自己所在的团队名义认领。"))
        wishes.claim(found, volunteer, team=team, member_teams=access.member_teams(volunteer))
        return _("认领成功。请尽快联系心愿人，实现后在这里标记。")
    found = _wish_or_404(wish_id)
    return attempted(lambda: act(found), url_for("volunteer.wish", wish_id=found.id))


@bp.route("/wishes/<int:wish_id>/fulfil", methods=["POST"])
@login_required
def fulfil_wish(wish_id: int):
    """The claimant says how the wish came true."""
    form, volunteer = NoteForm(), access.volunteer_of(current_user)

    def act(found):
        if not access.claimant(volunteer, found):
            abort(404)
        checked(form)
        wishes.fulfil(found, volunteer, form.note.data)
        return _("已标记为实现，谢谢您！")
    found = _wish_or_404(wish_id)
    return attempted(lambda: act(found), url_for("volunteer.wish", wish_id=found.id))


@bp.route("/wishes/<int:wish_id>/thank", methods=["POST"])
@login_required
def thank_wish(wish_id: int):
    """The owner thanks and rates, once."""
    form = ThanksForm()

    def act(found):
        if found.user_id != current_user.id:
            abort(404)
        checked(form)
        wishes.thank(found, user_id=current_user.id, rating=form.rating.data,
                     thanks=form.note.data or "")
        return _("谢谢您的评价，已转告志愿者。")
    found = _wish_or_404(wish_id)
    return attempted(lambda: act(found), url_for("volunteer.wish", wish_id=found.id))


@bp.route("/wishes/<int:wish_id>/withdraw", methods=["POST"])
@login_required
def withdraw_wish(wish_id: int):
    """The owner takes the wish back, while nobody has claimed it."""
    def act(found):
        if found.user_id != current_user.id:
            abort(404)
        wishes.withdraw_wish(found, user_id=current_user.id)
        return _("心愿已撤回。")
    found = _wish_or_404(wish_id)
    return attempted(lambda: act(found), url_for("volunteer.wish", wish_id=found.id))
