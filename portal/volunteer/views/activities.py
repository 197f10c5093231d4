"""Activities and the volunteer's own pages: the list, one activity with sign-up and the
waitlist, registration, my volunteering, the certificate, teams and my tasks."""
from __future__ import annotations

from datetime import datetime

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from portal import calendars
from portal.page_cache import cached_page
from portal.extensions import db, limiter
from portal.places.models import Town
from portal.sealing import lookup_hash
from portal.timeutil import local_now, local_today
from portal.volunteer import access, hours, signups
from portal.volunteer.forms import (FilterForm, JoinForm, VolunteerForm)
from portal.volunteer.models import (ACTIVITY_KINDS, Activity, HourRecord, ServiceOrder, SignUp,
                                     TeamMember, Volunteer, Wish)
from portal.volunteer.signups import VolunteerRefused
from portal.web import (attempted, form_status, is_kiosk, public_url, refusal, render,
                        safe_next, user_key)
from portal.params import page_number
from portal.volunteer.views import (PER_PAGE, active_stations, active_teams, bp, options,
                                    volunteer_or_register)


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
    if form.kind.data in ACTIVITY_KINDS:
        query = query.where(Activity.kind == form.kind.data)
    return query.options(joinedload(Activity.team), joinedload(Activity.station)).order_by(
        Activity.day, Activity.starts, Activity.id)


@bp.route("/")
@cached_page("volunteer", "places", "people", signed_in=True)
def activities():
    """Upcoming activities with places left, filterable by team, station, date and skill."""
    form = FilterForm(request.args)
    form.team.choices = options(active_teams(), _("全部团队"))
    form.station.choices = options(active_stations(), _("全部服务站"))
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


def _my_signup(activity: Activity, volunteer: Volunteer | None) -> SignUp | None:
    """The signed-in person's place: as a volunteer, or (a resident activity) as a resident."""
    if activity.kind == "resident":
        return current_user.is_authenticated and db.session.scalar(select(SignUp).where(
            SignUp.activity_id == activity.id, SignUp.user_id == current_user.id)
            .order_by(SignUp.id.desc()).limit(1)) or None
    return volunteer and db.session.scalar(select(SignUp).where(
        SignUp.activity_id == activity.id, SignUp.volunteer_id == volunteer.id))


@bp.route("/activities/<int:activity_id>")
@cached_page("volunteer", "places", "people")
def activity(activity_id: int):
    """One activity: what, where, when, places left — and my place or waitlist position."""
    found = db.session.get(Activity, activity_id) or abort(404)
    volunteer = access.volunteer_of(current_user)
    mine = _my_signup(found, volunteer)
    position = _waiting_before(mine) + 1 if mine and mine.status == "waitlisted" else None
    now = local_now()
    return render("volunteer/activity.html", activity=found, volunteer=volunteer, mine=mine,
                  position=position, started=signups.starts_at(found) <= now,
                  can_cancel=signups.cutoff(found) > now,
                  join=JoinForm() if found.kind == "resident" and is_kiosk() else None)


@bp.route("/activities/<int:activity_id>/calendar.ics")
def calendar_file(activity_id: int):
    """The activity as a calendar event; for a volunteer signed up, with the check-in code."""
    found = db.session.get(Activity, activity_id) or abort(404)
    mine = _my_signup(found, access.volunteer_of(current_user))
    if mine and mine.status not in ("confirmed", "waitlisted"):
        mine = None  # cancelled: the file says nothing about it
    station = found.station
    lines = [_("组织团队：%(team)s", team=found.team.name)]
    if found.bring:
        lines.append(_("需要带：%(what)s", what=found.bring))
    if mine:
        lines.append(_("签到码：%(code)s", code=mine.code) if mine.status == "confirmed"
                     else _("您在候补名单上，递补成功会发消息通知您。"))
    lines.append(public_url("volunteer.activity", activity_id=found.id))
    where = f"{found.place}（{station.name}{'，' + station.address if station.address else ''}）"
    body = calendars.event_file(
        uid=f"activity-{found.id}@tongban", summary=_("志愿服务：%(title)s", title=found.title),
        starts=datetime.combine(found.day, found.starts), ends=datetime.combine(found.day, found.ends),
        location=where, description="\n".join(lines),
        url=public_url("volunteer.activity", activity_id=found.id))
    return calendars.download(body, f"tongban-activity-{found.id}")


@bp.route("/activities/<int:activity_id>/signup", methods=["POST"])
@login_required
@limiter.limit("30 per hour", methods=["POST"], key_func=user_key)
def sign_up(activity_id: int):
    """Take a place, or join the waitlist when the activity is full."""
    found = db.session.get(Activity, activity_id) or abort(404)
    back = url_for("volunteer.activity", activity_id=found.id)
    if found.kind == "resident":  # as a resident: no volunteer record needed
        return _joined(found, lambda: signups.join(
            found, name=current_user.name, phone=current_user.phone, user_id=current_user.id,
            now=local_now()))
    if (volunteer := volunteer_or_register()) is None:
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


@bp.route("/activities/<int:activity_id>/join", methods=["POST"])
@limiter.limit("10 per hour", methods=["POST"])
def join(activity_id: int):
    """A kiosk guest takes a place on a resident activity by name and phone."""
    found = db.session.get(Activity, activity_id) or abort(404)
    back = url_for("volunteer.activity", activity_id=found.id)
    if not is_kiosk():  # on one's own phone: sign in (the place is then in "我的")
        return redirect(url_for("accounts.login", next=back))
    form = JoinForm()
    if not form.validate_on_submit():
        now = local_now()
        return render("volunteer/activity.html", activity=found, volunteer=None, mine=None,
                      position=None, started=signups.starts_at(found) <= now,
                      can_cancel=False, join=form), 422
    return _joined(found, lambda: signups.join(found, name=form.name.data,
                                                phone=form.phone.data, user_id=None,
                                                now=local_now()))


def _joined(found: Activity, step):
    """Run a resident activity's join and say how it went."""
    back = url_for("volunteer.activity", activity_id=found.id)
    try:
        signup = step()
    except VolunteerRefused as refused:
        return refusal(refused, back)
    if signup.status == "confirmed":
        flash(_("报名成功：%(name)s，入场码 %(code)s（已发短信），活动当天出示即可。",
                name=signup.name, code=signup.code), "success")
    else:
        flash(_("名额已满，%(name)s已进入候补名单（第%(n)d位）。有人取消时按顺序递补，递补成功会通知您。",
                name=signup.name, n=_waiting_before(signup) + 1), "info")
    return redirect(back)


@bp.route("/activities/<int:activity_id>/cancel", methods=["POST"])
@login_required
def cancel(activity_id: int):
    """Give the place back (until the cut-off); the first on the waitlist moves up."""
    found = db.session.get(Activity, activity_id) or abort(404)
    back = url_for("volunteer.activity", activity_id=found.id)
    mine = _my_signup(found, access.volunteer_of(current_user))
    if not mine:
        abort(404)
    return attempted(lambda: signups.cancel(mine, now=local_now()), back, _("已取消报名。"))


# -- registration, my volunteering, the certificate ------------------------------------------------

@bp.route("/register", methods=["GET", "POST"])
@login_required
def register():
    """Register as a volunteer once (and change the details later, or again after having
    withdrawn the consent)."""
    volunteer = access.record_of(current_user)
    form = VolunteerForm(obj=None)
    form.teams.choices = [SelectChoice(t.id, t.name) for t in active_teams()]
    if request.method == "GET":
        _fill(form, volunteer)
    if form.validate_on_submit():
        try:
            volunteer = _save(form, volunteer)
        except IntegrityError:  # another account's record has this ID number, or a twin
            db.session.rollback()  # of a double-clicked form registered first
            volunteer = access.record_of(current_user)
            holder = db.session.scalar(select(Volunteer.user_id).where(
                Volunteer.id_card_hash == lookup_hash(form.id_card.data)))
            if holder not in (None, current_user.id):
                form.id_card.errors.append(_(
                    "这个身份证号码已经用另一个账号登记为志愿者，一个人只有一份志愿服务记录。"
                    "请用那个账号登录；如有疑问请联系协调员。"))
            elif holder is None:
                raise  # not a twin, nor another's number: a defect, never "saved"
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
    volunteer.gender, volunteer.note = form.gender.data, form.note.data or ""
    volunteer.withdrawn_at = None  # the form's consent, given (again)
    volunteer.skills = ",".join(form.skills.data)
    volunteer.availability = ",".join(form.availability.data)
    chosen = set(form.teams.data or ())
    volunteer.teams = [t for t in active_teams() if t.id in chosen] + [
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
            ServiceOrder.user_id == current_user.id).order_by(ServiceOrder.id.desc())).all(),
        "joined": db.session.scalars(select(SignUp).join(Activity).where(  # resident activities
            SignUp.user_id == current_user.id, SignUp.volunteer_id.is_(None),
            SignUp.status.in_(signups.ACTIVE), Activity.day >= local_today())
            .order_by(Activity.day, Activity.starts)).all()}
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
    """The volunteer teams and what they do."""
    counts = dict(db.session.execute(select(TeamMember.team_id, func.count())
                                     .group_by(TeamMember.team_id)).all())
    return render("volunteer/teams.html", teams=active_teams(), counts=counts,
                  volunteer=access.volunteer_of(current_user))




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
