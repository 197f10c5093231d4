"""Volunteer service for residents and volunteers: the activity list, one activity with
sign-up and the waitlist, registration, my volunteering and the certificate, teams, the
micro-wish wall and service orders. Coordinators' pages are in manage.py.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from portal.extensions import db, limiter
from portal.places.models import Town
from portal.timeutil import local_now, local_today
from portal.volunteer import access, hours, orders, signups, steps, wishes
from portal.volunteer.forms import (ClaimForm, FilterForm, FinishForm, NoteForm, OrderForm,
                                    ThanksForm, VolunteerForm, WishForm)
from portal.volunteer.models import (Activity, HourRecord, ServiceOffer, ServiceOrder, SignUp, Team,
                                     TeamMember, Volunteer, VolunteerStation, Wish)
from portal.volunteer.signups import VolunteerRefused
from portal.web import attempted, form_status, refusal, render, safe_next, user_key
from portal.params import arg_id, page_number
from portal.volunteer.models import (AVAILABILITY_LABELS, GENDER_LABELS, HOUR_ACTION_LABELS,
                                     HOUR_LABELS, ORDER_LABELS, SIGNUP_LABELS, SKILL_LABELS,
                                     STEP_ACTION_LABELS, WISH_LABELS)
from portal.volunteer.hours import hours_text
from portal.templating import label_filters

bp = Blueprint("volunteer", __name__, url_prefix="/volunteer")
label_filters(bp, skill_label=SKILL_LABELS, availability_label=AVAILABILITY_LABELS,
              gender_label=GENDER_LABELS, signup_status=SIGNUP_LABELS,
              hour_status=HOUR_LABELS, hour_action=HOUR_ACTION_LABELS,
              wish_status=WISH_LABELS, order_status=ORDER_LABELS,
              volunteer_step=STEP_ACTION_LABELS)
bp.add_app_template_filter(hours_text, "hours")
PER_PAGE = 20


def _teams() -> list[Team]:
    return db.session.scalars(select(Team).where(Team.active.is_(True)).order_by(Team.name)).all()


def _stations() -> list[VolunteerStation]:
    return db.session.scalars(select(VolunteerStation).where(VolunteerStation.active.is_(True))
                              .order_by(VolunteerStation.name)).all()


def _options(rows, first: str) -> list[SelectChoice]:
    return [SelectChoice(0, first)] + [SelectChoice(r.id, r.name) for r in rows]


def checked(form) -> None:
    """A small form posted from a page that shows several: its problems as one refusal."""
    if not form.validate():
        raise VolunteerRefused("form", "；".join(
            str(message) for field in form for message in field.errors))


# -- activities ---------------------------------------------------------------------------------

def upcoming(form: FilterForm, now: datetime):
    """Open activities that have not ended, soonest first, as the filters narrow them."""
    first = max(form.day.data or now.date(), now.date())
    query = select(Activity).where(Activity.status == "open", Activity.day >= first).where(
        or_(Activity.day > now.date(), Activity.ends > now.time()))
    if form.team.data:
        query = query.where(Activity.team_id == form.team.data)
    if form.station.data:
        query = query.where(Activity.station_id == form.station.data)
    if form.skill.data:
        query = query.where(Activity.skill == form.skill.data)
    return query.options(joinedload(Activity.team), joinedload(Activity.station)).order_by(
        Activity.day, Activity.starts, Activity.id)


@bp.route("/")
def activities():
    """Upcoming activities with places left, filterable by team, station, date and skill."""
    form = FilterForm(request.args)
    form.team.choices = _options(_teams(), _("全部团队"))
    form.station.choices = _options(_stations(), _("全部服务站"))
    form.validate()  # a malformed date is ignored (and said), the rest still filters
    page = db.paginate(upcoming(form, local_now()), page=page_number(),
                       per_page=PER_PAGE, error_out=False)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render("volunteer/activities.html", "volunteer/_activities.html", form=form,
                  page=page, args=args)


def _waiting_before(signup: SignUp) -> int:
    return db.session.scalar(select(func.count()).select_from(SignUp).where(
        SignUp.activity_id == signup.activity_id, SignUp.status == "waitlisted",
        or_(SignUp.queued_at < signup.queued_at,
            (SignUp.queued_at == signup.queued_at) & (SignUp.id < signup.id))))


@bp.route("/activities/<int:activity_id>")
def activity(activity_id: int):
    """One activity: what, where, when, places left — and my place or waitlist position."""
    found = db.session.get(Activity, activity_id) or abort(404)
    volunteer = access.volunteer_of(current_user)
    mine = volunteer and db.session.scalar(select(SignUp).where(
        SignUp.activity_id == found.id, SignUp.volunteer_id == volunteer.id))
    position = _waiting_before(mine) + 1 if mine and mine.status == "waitlisted" else None
    now = local_now()
    return render("volunteer/activity.html", activity=found, volunteer=volunteer, mine=mine,
                  position=position, started=signups.starts_at(found) <= now,
                  can_cancel=signups.cutoff(found) > now)


def _volunteer_or_register():
    volunteer = access.volunteer_of(current_user)
    if volunteer is None:
        flash(_("第一次参加志愿服务，请先登记志愿者信息。"), "info")
    return volunteer


@bp.route("/activities/<int:activity_id>/signup", methods=["POST"])
@login_required
@limiter.limit("30 per hour", methods=["POST"], key_func=user_key)
def sign_up(activity_id: int):
    found = db.session.get(Activity, activity_id) or abort(404)
    back = url_for("volunteer.activity", activity_id=found.id)
    if (volunteer := _volunteer_or_register()) is None:
        return redirect(url_for("volunteer.register", next=back))
    try:
        signup = signups.sign_up(found, volunteer, now=local_now())
    except VolunteerRefused as refused:
        return refusal(refused, back)
    if signup.status == "confirmed":
        flash(_("报名成功。签到码 %(code)s，活动当天请出示给协调员。", code=signup.code), "success")
    else:
        flash(_("名额已满，您已进入候补名单（第%(n)d位）。有人取消时按顺序递补，递补成功会通知您。",
                n=_waiting_before(signup) + 1), "info")
    return redirect(back)


@bp.route("/activities/<int:activity_id>/cancel", methods=["POST"])
@login_required
def cancel(activity_id: int):
    found = db.session.get(Activity, activity_id) or abort(404)
    back = url_for("volunteer.activity", activity_id=found.id)
    volunteer = access.volunteer_of(current_user)
    mine = volunteer and db.session.scalar(select(SignUp).where(
        SignUp.activity_id == found.id, SignUp.volunteer_id == volunteer.id))
    if not mine:
        abort(404)
    return attempted(lambda: signups.cancel(mine, now=local_now()), back, _("已取消报名。"))


# -- registration, my volunteering, the certificate ------------------------------------------------

@bp.route("/register", methods=["GET", "POST"])
@login_required
def register():
    """Register as a volunteer once (and change the details later)."""
    volunteer = access.volunteer_of(current_user)
    form = VolunteerForm(obj=None)
    form.teams.choices = [SelectChoice(t.id, t.name) for t in _teams()]
    if request.method == "GET":
        _fill(form, volunteer)
    if form.validate_on_submit():
        try:
            volunteer = _save(form, volunteer)
        except IntegrityError:  # another account's record has this ID number, or a twin
            db.session.rollback()  # of a double-clicked form registered first
            volunteer = access.volunteer_of(current_user)
            if db.session.scalar(select(Volunteer.user_id).where(
                    Volunteer.id_card == form.id_card.data)) not in (None, current_user.id):
                form.id_card.errors.append(_(
                    "这个身份证号码已经用另一个账号登记为志愿者，一个人只有一份志愿服务记录。"
                    "请用那个账号登录；如有疑问请联系协调员。"))
        if not form.errors:
            flash(_("志愿者信息已保存。"), "success")
            return redirect(safe_next(request.args.get("next"), url_for("volunteer.mine")))
    return render("volunteer/register.html", form=form, volunteer=volunteer), form_status(form)


def _fill(form: VolunteerForm, volunteer: Volunteer | None) -> None:
    if volunteer is None:
        form.real_name.data = current_user.name
        form.id_card.data = current_user.id_card or ""
        return
    form.real_name.data, form.id_card.data = volunteer.real_name, volunteer.id_card
    form.gender.data, form.note.data = volunteer.gender, volunteer.note
    form.skills.data, form.availability.data = volunteer.skill_codes, volunteer.availability_codes
    form.teams.data = [t.id for t in volunteer.teams]


def _save(form: VolunteerForm, volunteer: Volunteer | None) -> Volunteer:
    if volunteer is None:
        volunteer = Volunteer(user_id=current_user.id)
        db.session.add(volunteer)
    volunteer.real_name, volunteer.id_card = form.real_name.data, form.id_card.data
    volunteer.gender, volunteer.note = form.gender.data, form.note.data
    volunteer.skills = ",".join(form.skills.data)
    volunteer.availability = ",".join(form.availability.data)
    chosen = set(form.teams.data or ())
    volunteer.teams = [t for t in _teams() if t.id in chosen] + [
        t for t in volunteer.teams if not t.active]  # a stopped team's members stay on it
    db.session.commit()
    return volunteer


@bp.route("/me")
@login_required
def mine():
    """My sign-ups, hours, star level, teams, wishes and orders."""
    volunteer = access.volunteer_of(current_user)
    context = {"volunteer": volunteer, "my_wishes": db.session.scalars(select(Wish).where(
        Wish.user_id == current_user.id).order_by(Wish.id.desc())).all(),
        "my_orders": db.session.scalars(select(ServiceOrder).where(
            ServiceOrder.user_id == current_user.id).order_by(ServiceOrder.id.desc())).all()}
    if volunteer is not None:
        today = local_today()
        context.update(
            upcoming=db.session.scalars(select(SignUp).join(Activity).where(
                SignUp.volunteer_id == volunteer.id, SignUp.status.in_(signups.ACTIVE),
                Activity.day >= today).order_by(Activity.day, Activity.starts)).all(),
            records=db.session.scalars(select(HourRecord).where(
                HourRecord.volunteer_id == volunteer.id).order_by(
                HourRecord.served_on.desc(), HourRecord.id.desc()).limit(50)).all(),
            approved=hours.approved_minutes(volunteer.id), thresholds=hours.thresholds())
    return render("volunteer/mine.html", **context)


def issuer() -> str:
    configured = current_app.config.get("VOLUNTEER_ISSUER")
    if configured:
        return configured
    town = db.session.scalar(select(Town).order_by(Town.id).limit(1))
    return f"{town.name if town else ''}新时代文明实践所"


@bp.route("/me/certificate")
@login_required
def certificate():
    """The printable service-record certificate (志愿服务记录证明)."""
    volunteer = access.volunteer_of(current_user)
    if volunteer is None:
        return redirect(url_for("volunteer.register"))
    return render("volunteer/certificate.html",
                  certificate=hours.certificate(volunteer, local_today()), issuer=issuer())


@bp.route("/teams/")
def teams():
    counts = dict(db.session.execute(select(TeamMember.team_id, func.count())
                                     .group_by(TeamMember.team_id)).all())
    return render("volunteer/teams.html", teams=_teams(), counts=counts,
                  volunteer=access.volunteer_of(current_user))


# -- the micro-wish wall ---------------------------------------------------------------------------

@bp.route("/wishes/")
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
    form = WishForm()
    form.station.choices = _options(_stations(), _("请选择"))
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


def _wish_action(wish_id: int, act):
    """A wish's button: `act(wish)` returns what to tell; back to the wish's page."""
    found = _wish_or_404(wish_id)
    return attempted(lambda: act(found), url_for("volunteer.wish", wish_id=found.id))


@bp.route("/wishes/<int:wish_id>/claim", methods=["POST"])
@login_required
def claim_wish(wish_id: int):
    volunteer = _volunteer_or_register()
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
    return _wish_action(wish_id, act)


@bp.route("/wishes/<int:wish_id>/fulfil", methods=["POST"])
@login_required
def fulfil_wish(wish_id: int):
    form, volunteer = NoteForm(), access.volunteer_of(current_user)

    def act(found):
        if not access.claimant(volunteer, found):
            abort(404)
        checked(form)
        wishes.fulfil(found, volunteer, form.note.data)
        return _("已标记为实现，谢谢您！")
    return _wish_action(wish_id, act)


@bp.route("/wishes/<int:wish_id>/thank", methods=["POST"])
@login_required
def thank_wish(wish_id: int):
    form = ThanksForm()

    def act(found):
        if found.user_id != current_user.id:
            abort(404)
        checked(form)
        wishes.thank(found, user_id=current_user.id, rating=form.rating.data,
                     thanks=form.note.data or "")
        return _("谢谢您的评价，已转告志愿者。")
    return _wish_action(wish_id, act)


@bp.route("/wishes/<int:wish_id>/withdraw", methods=["POST"])
@login_required
def withdraw_wish(wish_id: int):
    def act(found):
        if found.user_id != current_user.id:
            abort(404)
        wishes.withdraw_wish(found, user_id=current_user.id)
        return _("心愿已撤回。")
    return _wish_action(wish_id, act)


# -- service orders -----------------------------------------------------------------------------

def _offers() -> list[ServiceOffer]:
    return db.session.scalars(select(ServiceOffer).where(ServiceOffer.active.is_(True))
                              .order_by(ServiceOffer.position, ServiceOffer.id)).all()


@bp.route("/orders/")
def menu():
    """The service menu, and (signed in) my orders."""
    mine_ = db.session.scalars(select(ServiceOrder).where(
        ServiceOrder.user_id == current_user.id).order_by(ServiceOrder.id.desc())).all() \
        if current_user.is_authenticated else []
    return render("volunteer/menu.html", offers=_offers(), orders=mine_)


@bp.route("/orders/new", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per day", methods=["POST"], key_func=user_key)
def new_order():
    form = OrderForm()
    form.offer.choices = _options(_offers(), _("请选择"))
    form.station.choices = _options(_stations(), _("请选择"))
    if request.method == "GET":
        form.offer.data = arg_id("offer") or 0
        form.phone.data = current_user.phone
    if form.validate_on_submit():
        offer = db.session.get(ServiceOffer, form.offer.data)
        station = db.session.get(VolunteerStation, form.station.data)
        try:
            if offer is None or station is None or not station.active:
                raise VolunteerRefused("choice", _("请选择服务项目和服务站"))
            order = orders.place_order(user=current_user, offer=offer, station=station,
                                       details=form.details.data, address=form.address.data,
                                       phone=form.phone.data, wanted_on=form.wanted_on.data,
                                       today=local_today())
        except VolunteerRefused as refused:
            form.form_errors.append(str(refused.message))
        else:
            flash(_("已下单。服务站派单、志愿者接单后都会通知您。"), "success")
            return redirect(url_for("volunteer.order", order_id=order.id))
    return render("volunteer/new_order.html", form=form), form_status(form)


def _order_or_404(order_id: int) -> ServiceOrder:
    order = db.session.get(ServiceOrder, order_id)
    if order is None or not access.sees_order(current_user, order):
        abort(404)
    return order


@bp.route("/orders/<int:order_id>")
@login_required
def order(order_id: int):
    """An order's steps; the address and phone only for the resident and the dispatched team."""
    found = _order_or_404(order_id)
    volunteer = access.volunteer_of(current_user)
    return render("volunteer/order.html", order=found, steps=steps.steps("order", found.id),
                  contact=access.sees_contact(current_user, found),
                  owner=found.user_id == current_user.id,
                  can_accept=found.status == "dispatched"
                  and found.team_id in access.member_teams(volunteer),
                  mine=volunteer is not None and found.volunteer_id == volunteer.id,
                  finish=FinishForm(), rate=ThanksForm())


def _order_action(order_id: int, act):
    """An order's button: `act(order)` returns what to tell; back to the order's page."""
    found = _order_or_404(order_id)
    return attempted(lambda: act(found), url_for("volunteer.order", order_id=found.id))


@bp.route("/orders/<int:order_id>/accept", methods=["POST"])
@login_required
def accept_order(order_id: int):
    volunteer = access.volunteer_of(current_user)

    def act(found):
        if volunteer is None:
            raise VolunteerRefused("not_member", _("只有接到派单的团队成员才能接单。"))
        orders.accept(found, volunteer, member_teams=access.member_teams(volunteer))
        return _("已接单。请尽快联系居民。")
    return _order_action(order_id, act)


@bp.route("/orders/<int:order_id>/finish", methods=["POST"])
@login_required
def finish_order(order_id: int):
    form, volunteer = FinishForm(), access.volunteer_of(current_user)

    def act(found):
        if volunteer is None or found.volunteer_id != volunteer.id:
            abort(404)
        checked(form)
        orders.finish(found, volunteer, note=form.note.data, minutes=form.hours.minutes,
                      served_on=local_today())
        return _("已标记完成，服务时长提交协调员审核。")
    return _order_action(order_id, act)


@bp.route("/orders/<int:order_id>/rate", methods=["POST"])
@login_required
def rate_order(order_id: int):
    form = ThanksForm()

    def act(found):
        if found.user_id != current_user.id:
            abort(404)
        checked(form)
        orders.rate(found, user_id=current_user.id, rating=form.rating.data,
                    note=form.note.data or "")
        return _("谢谢您的评价。")
    return _order_action(order_id, act)


@bp.route("/orders/<int:order_id>/cancel", methods=["POST"])
@login_required
def cancel_order(order_id: int):
    def act(found):
        if found.user_id != current_user.id:
            abort(404)
        orders.cancel_order(found, user_id=current_user.id)
        return _("已取消点单。")
    return _order_action(order_id, act)


@bp.route("/tasks")
@login_required
def tasks():
    """A volunteer's work: orders dispatched to my teams, orders I accepted, wishes I or my
    teams claimed."""
    volunteer = access.volunteer_of(current_user)
    if volunteer is None:
        return redirect(url_for("volunteer.register", next=url_for("volunteer.tasks")))
    teams_ = access.member_teams(volunteer)
    open_orders = db.session.scalars(select(ServiceOrder).where(or_(
        (ServiceOrder.team_id.in_(teams_)) & (ServiceOrder.status == "dispatched"),
        (ServiceOrder.volunteer_id == volunteer.id) & (ServiceOrder.status == "accepted")))
        .order_by(ServiceOrder.id)).all()
    claimed = db.session.scalars(select(Wish).where(
        or_(Wish.claim_volunteer_id == volunteer.id, Wish.claim_team_id.in_(teams_)),
        Wish.status == "claimed").order_by(Wish.id)).all()
    return render("volunteer/tasks.html", orders=open_orders, wishes=claimed)
