"""The coordinator's pages (志愿服务协调员): teams and stations, activities (one-off or weekly),
attendance by code or tick list, hours to approve, star levels to review, wishes to screen
and orders to dispatch. Every page shows only the coordinator's own teams and stations
(access.scope); anything else is a 404.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from portal import audit, exports
from portal.extensions import db
from portal.places.models import Village
from portal.security import staff_only
from portal.timeutil import local_now, local_today
from portal.volunteer import access, hours, orders, signups, wishes
from portal.volunteer.forms import (ActivityForm, CancelActivityForm, CapacityForm, DecideForm,
                                    DispatchForm, OfferForm, ReleaseForm, ScanForm, ScreenForm,
                                    StationForm, TeamForm)
from portal.volunteer.models import (Activity, Coordination, HourRecord, ServiceOffer, ServiceOrder,
                                     SignUp, Team, TeamMember, Volunteer, VolunteerStation, Wish)
from portal.volunteer.signups import VolunteerRefused
from portal.web import attempted, form_status, render
from portal.params import arg_ids

bp = Blueprint("coordinate", __name__, url_prefix="/volunteer/manage")
staff_only(bp, "coordinator")


def _scope() -> access.Scope:
    return access.scope(current_user)


def _mine(model, ids) -> list:
    return db.session.scalars(select(model).where(model.id.in_(ids)).order_by(model.name)).all()


@bp.route("/")
def index():
    """What needs doing in my teams and stations."""
    mine = _scope()
    today = local_today()
    upcoming = db.session.scalars(select(Activity).where(
        or_(Activity.team_id.in_(mine.teams), Activity.station_id.in_(mine.stations)),
        Activity.status == "open", Activity.day >= today - timedelta(days=1))
        .options(joinedload(Activity.team), joinedload(Activity.station))
        .order_by(Activity.day, Activity.starts).limit(50)).all()
    counts = {
        "hours": db.session.scalar(select(func.count()).select_from(HourRecord).where(
            HourRecord.team_id.in_(mine.teams), HourRecord.status == "pending")),
        "wishes": db.session.scalar(select(func.count()).select_from(Wish).where(
            Wish.station_id.in_(mine.stations), Wish.status == "posted")),
        "orders": db.session.scalar(select(func.count()).select_from(ServiceOrder).where(
            ServiceOrder.station_id.in_(mine.stations), ServiceOrder.status == "ordered")),
        "stars": len(_star_candidates(mine)),
    }
    return render("coordinate/index.html", teams=_mine(Team, mine.teams),
                  stations=_mine(VolunteerStation, mine.stations), activities=upcoming,
                  counts=counts, today=today)


# -- teams and stations --------------------------------------------------------------------------

def _coordinate(**target) -> None:
    db.session.add(Coordination(user_id=current_user.id, **target))
    access.forget_scope(current_user)


def _added(obj, field, taken: str) -> bool:
    """Add `obj`, whose name is unique: a name in use (also by a twin made at the same
    moment) becomes a message on `field` instead."""
    model = type(obj)
    if db.session.scalar(select(model.id).where(model.name == obj.name)) is None:
        try:
            db.session.add(obj)
            db.session.flush()
            return True
        except IntegrityError:
            db.session.rollback()
    field.errors.append(taken)
    return False


@bp.route("/teams/new", methods=["GET", "POST"])
def new_team():
    """A new team; its creator coordinates it."""
    form = TeamForm()
    if form.validate_on_submit():
        team = Team(name=form.name.data, skill=form.skill.data, description=form.description.data)
        if _added(team, form.name, _("已有同名的团队")):
            _coordinate(team_id=team.id)
            audit.record("volunteer.team_create", team)
            db.session.commit()
            flash(_("团队已建立，您是它的协调员。"), "success")
            return redirect(url_for("coordinate.index"))
    return render("coordinate/team.html", form=form), form_status(form)


@bp.route("/stations/new", methods=["GET", "POST"])
def new_station():
    """A new volunteer station (志愿服务驿站); its creator coordinates it."""
    form = StationForm()
    form.village.choices = [SelectChoice(0, _("（不属于某个村）"))] + [
        SelectChoice(v.id, v.name) for v in db.session.scalars(
            select(Village).order_by(Village.position, Village.id))]
    if form.validate_on_submit():
        station = VolunteerStation(name=form.name.data, address=form.address.data,
                                   village_id=form.village.data or None)
        if _added(station, form.name, _("已有同名的服务站")):
            _coordinate(station_id=station.id)
            audit.record("volunteer.station_create", station)
            db.session.commit()
            flash(_("服务站已建立，您是它的协调员。"), "success")
            return redirect(url_for("coordinate.index"))
    return render("coordinate/station.html", form=form), form_status(form)


# -- the service menu (点单) --------------------------------------------------------------------

def _offer_form() -> OfferForm:
    form = OfferForm()
    form.team.choices = [SelectChoice(0, _("（不指定，派单时再选）"))] + [
        SelectChoice(t.id, t.name) for t in _mine(Team, _scope().teams)]
    return form


@bp.route("/offers", methods=["GET", "POST"])
def offers():
    """The menu residents order from: add an entry; stop or resume the ones I keep."""
    form = _offer_form()
    if form.validate_on_submit():
        last = db.session.scalar(select(func.max(ServiceOffer.position))) or 0
        offer = ServiceOffer(name=form.name.data, description=form.description.data,
                             team_id=form.team.data or None, position=last + 1)
        if _added(offer, form.name, _("菜单上已有同名的服务")):
            audit.record("volunteer.offer_create", offer, name=offer.name)
            db.session.commit()
            flash(_("“%(name)s”已加入服务菜单，居民现在可以点单。", name=offer.name), "success")
            return redirect(url_for("coordinate.offers"))
    menu = db.session.scalars(select(ServiceOffer).options(joinedload(ServiceOffer.team))
                              .order_by(ServiceOffer.active.desc(), ServiceOffer.position,
                                        ServiceOffer.id)).all()
    return render("coordinate/offers.html", form=form, menu=menu,
                  keeps={o.id for o in menu if access.keeps_offer(current_user, o)}), form_status(form)


@bp.route("/offers/<int:offer_id>/<any(stop, resume):change>", methods=["POST"])
def offer_change(offer_id: int, change: str):
    """Take an entry off the menu (orders already placed go on) or put it back."""
    offer = db.session.get(ServiceOffer, offer_id)
    if offer is None or not access.keeps_offer(current_user, offer):
        abort(404)
    offer.active = change == "resume"
    audit.record(f"volunteer.offer_{change}", offer, name=offer.name)
    db.session.commit()
    flash(_("“%(name)s”已重新上架。", name=offer.name) if offer.active else
          _("“%(name)s”已从菜单下架，已有的点单照常办理。", name=offer.name), "success")
    return redirect(url_for("coordinate.offers"))


# -- activities ------------------------------------------------------------------------------

@bp.route("/activities/new", methods=["GET", "POST"])
def new_activity():
    """An activity of one of my teams, or at one of my stations; weekly repeats optional."""
    mine = _scope()
    form = ActivityForm()
    teams = db.session.scalars(select(Team).where(Team.active.is_(True)).order_by(Team.name)).all()
    stations = db.session.scalars(select(VolunteerStation).where(
        VolunteerStation.active.is_(True)).order_by(VolunteerStation.name)).all()
    form.team.choices = [SelectChoice(0, _("请选择"))] + [SelectChoice(t.id, t.name) for t in teams]
    form.station.choices = [SelectChoice(0, _("请选择"))] + [
        SelectChoice(s.id, s.name) for s in stations]
    status = 200
    if form.validate_on_submit():
        team = next((t for t in teams if t.id == form.team.data), None)
        station = next((s for s in stations if s.id == form.station.data), None)
        if team is None or station is None or (team.id not in mine.teams
                                                and station.id not in mine.stations):
            form.team.errors.append(_("只能为自己协调的团队或服务站发布活动"))
        else:
            try:
                made = signups.create(
                    team=team, station=station, title=form.title.data, place=form.place.data,
                    day=form.day.data, starts=form.starts.data, ends=form.ends.data,
                    capacity=form.capacity.data, weeks=form.weeks.data, now=local_now(),
                    actor_id=current_user.id, description=form.description.data,
                    bring=form.bring.data, skill=form.skill.data, kind=form.kind.data)
            except VolunteerRefused as refused:
                form.form_errors.append(str(refused.message))
            else:
                flash(_("已发布%(n)d场活动。", n=len(made)), "success")
                return redirect(url_for("coordinate.activity", activity_id=made[0].id))
    if form.errors or form.form_errors:
        status = 422
    return render("coordinate/new_activity.html", form=form), status


def _roster(activity: Activity) -> tuple[list[SignUp], dict[int, HourRecord]]:
    rows = db.session.scalars(select(SignUp).where(SignUp.activity_id == activity.id)
                              .options(joinedload(SignUp.volunteer).joinedload(Volunteer.user))
                              .order_by(SignUp.status, SignUp.queued_at, SignUp.id)).all()
    records = {r.signup_id: r for r in db.session.scalars(select(HourRecord).where(
        HourRecord.signup_id.in_([s.id for s in rows])))}
    return rows, records


@bp.route("/activities/<int:activity_id>")
def activity(activity_id: int):
    """One activity: places, the roster with check-in/out, the tick list, hours."""
    found = access.activity_or_404(current_user, activity_id)
    roster, records = _roster(found)
    capacity = CapacityForm(capacity=found.capacity)
    now = local_now()
    return render("coordinate/activity.html", activity=found, roster=roster,
                  records=records, scan=ScanForm(), capacity=capacity,
                  cancel=CancelActivityForm(), release=ReleaseForm(),
                  before_start=signups.starts_at(found) > now,
                  scan_open=hours.scan_window(found, now))


def _acted(found: Activity, act):
    """Run `act` (it returns what to tell the coordinator); back to the activity's page."""
    return attempted(act, url_for("coordinate.activity", activity_id=found.id))


def _valid(form, message) -> None:
    if not form.validate():
        raise VolunteerRefused("form", message)


@bp.route("/activities/<int:activity_id>/scan", methods=["POST"])
def scan(activity_id: int):
    """Check in (first scan) or out (second) by the code on the volunteer's phone."""
    found = access.activity_or_404(current_user, activity_id)
    form = ScanForm()

    def act():
        _valid(form, _("请输入或扫描签到码。"))
        signup, step = hours.scan(found, form.code.data, now=local_now(), actor_id=current_user.id)
        name = signup.who
        return (_("%(name)s 已签到。", name=name) if step == "in" else
                _("%(name)s 已签退，时长待审核。", name=name) if signup.volunteer_id else
                _("%(name)s 已签退。", name=name))
    return _acted(found, act)


@bp.route("/activities/<int:activity_id>/tick", methods=["POST"])
def tick(activity_id: int):
    """The tick list: the ticked volunteers attended the whole activity."""
    found = access.activity_or_404(current_user, activity_id)
    ids = arg_ids("signup")
    return _acted(found, lambda: _("已登记%(n)d人出勤，时长待审核。", n=hours.tick(
        found, ids, now=local_now(), actor_id=current_user.id)))


@bp.route("/activities/<int:activity_id>/capacity", methods=["POST"])
def capacity(activity_id: int):
    """Change how many places an activity has; a larger number promotes from the waitlist."""
    found = access.activity_or_404(current_user, activity_id)
    form = CapacityForm()

    def act():
        if not form.validate():  # the message is the field's own
            raise VolunteerRefused("capacity", "；".join(str(m) for m in form.capacity.errors))
        promoted = signups.change_capacity(found, form.capacity.data, now=local_now(),
                                           actor_id=current_user.id)
        return _("名额已改为%(n)d，候补递补%(p)d人。", n=form.capacity.data, p=len(promoted))
    return _acted(found, act)


@bp.route("/activities/<int:activity_id>/cancel", methods=["POST"])
def cancel(activity_id: int):
    """Cancel an activity; everyone signed up or waiting is told."""
    found = access.activity_or_404(current_user, activity_id)
    form = CancelActivityForm()

    def act():
        _valid(form, _("请写明取消原因。"))
        told = signups.cancel_activity(found, form.reason.data, now=local_now(),
                                       actor_id=current_user.id)
        return _("活动已取消，已通知%(n)d人。", n=told)
    return _acted(found, act)


@bp.route("/activities/<int:activity_id>/signups/<int:signup_id>/release", methods=["POST"])
def release(activity_id: int, signup_id: int):
    """A volunteer called to say they cannot come: free the place (the next in line moves up)."""
    found = access.activity_or_404(current_user, activity_id)
    signup = db.session.get(SignUp, signup_id)
    if signup is None or signup.activity_id != found.id:
        abort(404)
    form, name = ReleaseForm(), signup.who

    def act():
        _valid(form, _("请写明取消%(name)s报名的原因。", name=name))
        promoted = signups.cancel(signup, now=local_now(), reason=form.reason.data,
                                  by=current_user.id)
        return _("已取消%(name)s的报名并通知本人。", name=name) + (
            _("候补的%(name)s已递补。", name=promoted.who) if promoted else "")
    return _acted(found, act)


@bp.route("/activities/<int:activity_id>/attendance.<any(csv, xlsx):kind>")
def attendance_export(activity_id: int, kind: str):
    """The activity's attendance (sign-ups, check-in and check-out, hours) as a spreadsheet."""
    found = access.activity_or_404(current_user, activity_id)
    audit.record("volunteer.attendance_export", found, kind=kind)
    db.session.commit()
    return exports.download(hours.attendance_rows(found), kind,
                            f"attendance-{found.id}-{found.day:%Y%m%d}", title=found.title)


# -- hours and star levels ----------------------------------------------------------------------

@bp.route("/hours")
def hours_list():
    """Hours recorded in my teams: pending first; any decision can be changed later."""
    mine = _scope()
    status = request.args.get("status", "pending")
    status = status if status in ("pending", "approved", "rejected") else "pending"
    records = db.session.scalars(select(HourRecord).where(
        HourRecord.team_id.in_(mine.teams), HourRecord.status == status)
        .options(joinedload(HourRecord.volunteer), joinedload(HourRecord.team))
        .order_by(HourRecord.served_on.desc(), HourRecord.id.desc()).limit(200)).all()
    today = local_today()
    return render("coordinate/hours.html", records=records, status=status,
                  first=today.replace(day=1), last=today)


@bp.route("/hours/<int:record_id>", methods=["POST"])
def decide(record_id: int):
    """Approve, adjust or reject recorded hours, with a reason for any change."""
    record = db.session.get(HourRecord, record_id)
    if record is None or record.team_id not in _scope().teams:
        abort(404)
    form = DecideForm()
    back = request.form.get("back") == "activity" and record.signup_id
    target = (url_for("coordinate.activity", activity_id=db.session.get(
        SignUp, record.signup_id).activity_id) if back else url_for("coordinate.hours_list"))
    try:
        if not form.validate():
            raise VolunteerRefused("form", "；".join(
                str(m) for field in form for m in field.errors))
        hours.decide(record, form.decision.data, actor_id=current_user.id,
                     reason=form.reason.data or "", minutes=form.hours.minutes)
    except VolunteerRefused as refused:
        flash(str(refused.message), "error")
        return redirect(target)
    flash(_("已审核：%(name)s %(what)s。", name=record.volunteer.real_name, what=record.what),
          "success")
    return redirect(target)


@bp.route("/hours.<any(csv, xlsx):kind>")
def hours_export(kind: str):
    """Hours of my teams in a period (default: this month) as a file."""
    today = local_today()
    try:
        first = date.fromisoformat(request.args.get("start", ""))
        last = date.fromisoformat(request.args.get("end", ""))
    except ValueError:
        first, last = today.replace(day=1), today
    if last < first or (last - first).days > 366:
        first, last = today.replace(day=1), today
    mine = _scope()
    audit.record("volunteer.hours_export", current_user._get_current_object(), kind=kind, first=first, last=last)
    db.session.commit()
    return exports.download(hours.hours_rows(set(mine.teams), first, last), kind,
                            f"volunteer-hours-{first:%Y%m%d}-{last:%Y%m%d}",
                            title=f"{first:%Y%m%d}-{last:%Y%m%d}")


def _star_candidates(mine: access.Scope) -> list[tuple[Volunteer, int, int]]:
    """(volunteer, approved minutes, level due) where the level due differs from the
    confirmed one: volunteers of my teams, or with hours recorded in them."""
    if not mine.teams:
        return []
    linked = select(TeamMember.volunteer_id).where(TeamMember.team_id.in_(mine.teams)).union(
        select(HourRecord.volunteer_id).where(HourRecord.team_id.in_(mine.teams)))
    totals = dict(db.session.execute(select(HourRecord.volunteer_id, func.sum(HourRecord.minutes))
                                     .where(HourRecord.status == "approved",
                                            HourRecord.volunteer_id.in_(linked))
                                     .group_by(HourRecord.volunteer_id)).all())
    needed = hours.thresholds()
    due = {vid: hours.star_due(minutes, needed) for vid, minutes in totals.items()}
    volunteers = db.session.scalars(select(Volunteer).where(Volunteer.id.in_(linked))).all()
    return [(v, totals.get(v.id, 0), due.get(v.id, 0)) for v in volunteers
            if due.get(v.id, 0) != v.star_level]


@bp.route("/stars")
def stars():
    """Volunteers whose approved hours reach a higher star level, waiting for review."""
    return render("coordinate/stars.html", rows=_star_candidates(_scope()),
                  thresholds=hours.thresholds())


@bp.route("/stars/<int:volunteer_id>", methods=["POST"])
def review_star(volunteer_id: int):
    """Confirm a volunteer's new star level."""
    row = next((r for r in _star_candidates(_scope()) if r[0].id == volunteer_id), None)
    if row is None:
        abort(404)
    level = hours.review_star(row[0], actor_id=current_user.id, now=local_now())
    flash(_("%(name)s 的星级已评定为%(n)d星。", name=row[0].real_name, n=level), "success")
    return redirect(url_for("coordinate.stars"))


# -- wishes and orders ------------------------------------------------------------------------

@bp.route("/wishes")
def wish_queue():
    """Micro-wishes waiting for screening, and those on the wall."""
    wishes_ = db.session.scalars(select(Wish).where(
        Wish.station_id.in_(_scope().stations), Wish.status == "posted").order_by(Wish.id)).all()
    forms = {w.id: ScreenForm(prefix=f"w{w.id}", title=w.title, story=w.story) for w in wishes_}
    return render("coordinate/wishes.html", wishes=wishes_, forms=forms)


@bp.route("/wishes/<int:wish_id>/screen", methods=["POST"])
def screen(wish_id: int):
    """Put a wish on the wall as edited, or turn it down with a reason."""
    wish = db.session.get(Wish, wish_id)
    if wish is None or not access.screens(current_user, wish):
        abort(404)
    form = ScreenForm(prefix=f"w{wish.id}")
    approve = request.form.get("decision") == "approve"
    try:
        if not form.validate():
            raise VolunteerRefused("form", "；".join(
                str(m) for field in form for m in field.errors))
        wishes.screen(wish, actor_id=current_user.id, approve=approve,
                      public_name=form.public_name.data or "", title=form.title.data,
                      story=form.story.data, reason=form.reason.data or "")
    except VolunteerRefused as refused:
        flash(f"{wish.title}：{refused.message}", "error")
        return redirect(url_for("coordinate.wish_queue"))
    flash(_("已审核：%(t)s。", t=wish.title), "success")
    return redirect(url_for("coordinate.wish_queue"))


@bp.route("/orders")
def order_queue():
    """Service orders to dispatch, and where each one stands."""
    orders_ = db.session.scalars(select(ServiceOrder).where(
        ServiceOrder.station_id.in_(_scope().stations),
        ServiceOrder.status.in_(("ordered", "dispatched"))).order_by(ServiceOrder.id)).all()
    teams = db.session.scalars(select(Team).where(Team.active.is_(True)).order_by(Team.name)).all()
    forms = {}
    for o in orders_:
        form = forms[o.id] = DispatchForm(prefix=f"o{o.id}")
        form.team.choices = [SelectChoice(0, _("请选择"))] + [SelectChoice(t.id, t.name) for t in teams]
        form.team.data = o.team_id or (o.offer.team_id or 0)
    return render("coordinate/orders.html", orders=orders_, forms=forms)


@bp.route("/orders/<int:order_id>/dispatch", methods=["POST"])
def dispatch(order_id: int):
    """Send an order to a team (again, while nobody has accepted it)."""
    order = db.session.get(ServiceOrder, order_id)
    if order is None or not access.dispatches(current_user, order):
        abort(404)
    form = DispatchForm(prefix=f"o{order.id}")
    team = db.session.get(Team, form.team.data) if form.team.data else None
    try:
        if team is None:
            raise VolunteerRefused("team", _("请选择团队。"))
        orders.dispatch(order, team, actor_id=current_user.id)
    except VolunteerRefused as refused:
        flash(str(refused.message), "error")
        return redirect(url_for("coordinate.order_queue"))
    flash(_("已派给%(team)s。", team=team.name), "success")
    return redirect(url_for("coordinate.order_queue"))
