"""Admin pages: the town, its villages and stations, opening hours and closed days, staff
accounts and their roles.

Every change is audited. Only the `admin` role gets here (see security.staff_only).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from portal import audit
from portal.accounts.models import User, UserRole
from portal.admin.staff import Duties, StaffRefused, duties_of, set_duties
from portal.admin.forms import (WEEKDAY_NAMES, CalendarDayForm, ClosedDayForm, FindAccountForm,
                                StaffForm, StationForm, SynonymsForm, TownForm, VillageForm)
from portal.extensions import db
from portal.places.hours import weekly
from portal.places.models import (CalendarDay, ClosedDay, OpeningPeriod, Station, Town,
                                  Village)
from portal.deliveries import CHANNEL_LABELS, STATUS_LABELS
from portal.jobs import STATUS_LABELS as JOB_STATUS_LABELS
from portal.security import staff_only
from portal.templating import label_filters
from portal.timeutil import local_today, utcnow
from portal.params import page_number
from portal.web import attempted, form_status, render, safe_next

bp = Blueprint("admin", __name__, url_prefix="/admin")
staff_only(bp, "admin")
label_filters(bp, delivery_status=STATUS_LABELS, delivery_channel=CHANNEL_LABELS,
              job_status=JOB_STATUS_LABELS)


@bp.route("/")
def index():
    """Every town with its villages and stations."""
    towns = db.session.scalars(select(Town).order_by(Town.id)).all()
    return render("admin/index.html", towns=towns)


def _saved(obj, action: str, target: str, **detail):
    """Audit and commit a change, tell the admin, and go to `target` (one transaction)."""
    audit.record(action, obj, **detail)
    db.session.commit()
    flash(_("已保存。"), "success")
    return redirect(target)


@bp.route("/towns/new", methods=["GET", "POST"])
@bp.route("/towns/<int:town_id>", methods=["GET", "POST"])
def town(town_id: int | None = None):
    """Create or edit a town; a new town gets its town service centre station."""
    town = db.get_or_404(Town, town_id) if town_id else None
    form = TownForm(obj=town)
    if form.validate_on_submit():
        clash = db.session.scalar(select(Town).where(Town.code == form.code.data))
        if clash is not None and clash is not town:
            form.code.errors.append(_("这个代码已被其他镇使用"))
        else:
            if town is None:
                town = Town()
                town.stations.append(Station(kind="centre", position=0,
                                             name=_("%(t)s政务服务中心", t=form.name.data)))
                db.session.add(town)
            form.populate_obj(town)
            return _saved(town, "town.saved", url_for("admin.index"), name=town.name)
    return render("admin/town.html", form=form, town=town), form_status(form)


@bp.route("/towns/<int:town_id>/villages/new", methods=["GET", "POST"])
@bp.route("/villages/<int:village_id>", methods=["GET", "POST"])
def village(town_id: int | None = None, village_id: int | None = None):
    """Create a village (with its service station) or rename one."""
    village = db.get_or_404(Village, village_id) if village_id else None
    town = village.town if village else db.get_or_404(Town, town_id)
    form = VillageForm(obj=village)
    if form.validate_on_submit():
        clash = db.session.scalar(select(Village).where(
            Village.town_id == town.id, Village.name == form.name.data))
        if clash is not None and clash is not village:
            form.name.errors.append(_("本镇已有同名的村（社区）"))
        else:
            if village is None:
                village = Village(town=town, position=len(town.villages) + 1)
                village.station = Station(town=town, kind="village",
                                          name=_("%(v)s便民服务站", v=form.name.data),
                                          position=village.position)
                db.session.add(village)
            form.populate_obj(village)
            return _saved(village, "village.saved", url_for("admin.index"), name=village.name)
    return render("admin/village.html", form=form, town=town, village=village), form_status(form)


def _station_form(station: Station, from_request: bool = True) -> StationForm:
    """The station form, with each time field labelled by its weekday (星期一 上午开始).

    `from_request=False` shows the saved values even on a POST (of the closed-day form).
    """
    form = StationForm(obj=station) if from_request else StationForm(formdata=None, obj=station)
    for name, entry in zip(WEEKDAY_NAMES, form.hours.entries):
        for time_field in entry.form:
            time_field.label.text = f"{name} {time_field.label.text}"
    if not (from_request and form.is_submitted()):
        _fill_hours(form, station)
    return form


def _fill_hours(form: StationForm, station: Station) -> None:
    for entry, periods in zip(form.hours.entries, weekly(station)):
        slots = list(periods) + [(None, None)] * (2 - len(periods))
        (entry.form.am_opens.data, entry.form.am_closes.data), \
            (entry.form.pm_opens.data, entry.form.pm_closes.data) = slots[:2]


@bp.route("/stations/<int:station_id>", methods=["GET", "POST"])
def station(station_id: int):
    """Edit a station's details and weekly opening hours; list and add its closed days."""
    station = db.get_or_404(Station, station_id)
    form = _station_form(station)
    if form.validate_on_submit():
        before = {"hours": [[f"{a:%H:%M}-{b:%H:%M}" for a, b in d] for d in weekly(station)]}
        station.name, station.address = form.name.data, form.address.data
        station.phone, station.active = form.phone.data, form.active.data
        station.slot_minutes = form.slot_minutes.data
        station.capacity_online = form.capacity_online.data
        station.capacity_phone = form.capacity_phone.data
        station.capacity_walkin = form.capacity_walkin.data
        station.windows = form.windows.data
        station.periods = [OpeningPeriod(weekday=day, opens=a, closes=b)
                           for day, entry in enumerate(form.hours.entries)
                           for a, b in entry.form.periods()]
        return _saved(station, "station.saved", url_for("admin.station", station_id=station.id),
                      active=station.active, slot_minutes=station.slot_minutes,
                      capacity=[station.capacity_online, station.capacity_phone,
                                station.capacity_walkin], windows=station.windows, **before)
    return render("admin/station.html", form=form, station=station,
                  closed_form=ClosedDayForm(prefix="closed"), weekday_names=WEEKDAY_NAMES,
                  today=local_today()), form_status(form)


@bp.route("/stations/<int:station_id>/closed-days", methods=["POST"])
def add_closed_day(station_id: int):
    """Close a station (or every station of its town) on a day, e.g. a public holiday."""
    station = db.get_or_404(Station, station_id)
    form = ClosedDayForm(prefix="closed")
    if not form.validate_on_submit():
        return render("admin/station.html", form=_station_form(station, from_request=False),
                      station=station, closed_form=form,
                      weekday_names=WEEKDAY_NAMES, today=local_today()), 422
    targets = station.town.stations if form.whole_town.data else [station]
    added = 0
    for target in targets:
        if not any(c.day == form.day.data for c in target.closed_days):
            target.closed_days.append(ClosedDay(day=form.day.data, reason=form.reason.data))
            added += 1
    audit.record("station.closed_day_added", station, day=form.day.data,
                 reason=form.reason.data, whole_town=form.whole_town.data)
    db.session.commit()
    flash(_("已为 %(n)d 个服务站添加休息日。", n=added), "success")
    return redirect(url_for("admin.station", station_id=station.id))


@bp.route("/stations/<int:station_id>/closed-days/<int:closed_id>/delete", methods=["POST"])
def delete_closed_day(station_id: int, closed_id: int):
    """Open a station again on a day that had been closed."""
    closed = db.get_or_404(ClosedDay, closed_id)
    if closed.station_id != station_id:
        abort(404)
    audit.record("station.closed_day_removed", closed.station, day=closed.day,
                 reason=closed.reason)
    db.session.delete(closed)
    db.session.commit()
    flash(_("已取消该休息日。"), "success")
    return redirect(url_for("admin.station", station_id=station_id))


@bp.route("/calendar", methods=["GET", "POST"])
def calendar():
    """Public holidays and make-up working days (调休): deadlines in working days use them."""
    form = CalendarDayForm()
    if form.validate_on_submit():
        row = db.session.get(CalendarDay, form.day.data) or CalendarDay(day=form.day.data)
        row.workday, row.name = form.kind.data == "workday", form.name.data
        db.session.add(row)
        audit.record("calendar.saved", row, workday=row.workday, name=row.name)
        db.session.commit()
        flash(_("已保存。"), "success")
        return redirect(url_for("admin.calendar"))
    days = db.session.scalars(select(CalendarDay).where(
        CalendarDay.day >= local_today().replace(month=1, day=1)).order_by(CalendarDay.day)).all()
    return render("admin/calendar.html", form=form, days=days), form_status(form)


@bp.route("/calendar/<day>/delete", methods=["POST"])
def delete_calendar_day(day: str):
    """Remove a holiday or make-up day from the working-day calendar."""
    from datetime import date
    try:
        row = db.session.get(CalendarDay, date.fromisoformat(day))
    except ValueError:
        row = None
    if row is None:
        abort(404)
    audit.record("calendar.removed", row, workday=row.workday, name=row.name)
    db.session.delete(row)
    db.session.commit()
    flash(_("已删除。"), "success")
    return redirect(url_for("admin.calendar"))



@bp.route("/synonyms", methods=["GET", "POST"])
def synonyms():
    """Search synonyms (社保卡 社会保障卡): one group per line. Their words join the
    segmenter's dictionary, so saving rebuilds the search index in the background."""
    from flask import current_app

    from portal.search import service
    from portal.search.models import SynonymGroup
    groups = db.session.scalars(select(SynonymGroup).order_by(SynonymGroup.id)).all()
    form = SynonymsForm(data={"groups": "\n".join(g.terms for g in groups)})
    if form.validate_on_submit():
        before = [g.terms for g in groups]
        for group in groups:
            db.session.delete(group)
        db.session.add_all(SynonymGroup(terms=terms) for terms in form.groups.parsed)
        db.session.flush()
        audit.record("search.synonyms", _SynonymsRef(), before=before, after=form.groups.parsed)
        db.session.commit()
        service.rebuild_in_background(current_app._get_current_object())
        flash(_("已保存%(n)d组同义词，搜索索引正在后台重建。", n=len(form.groups.parsed)), "success")
        return redirect(url_for("admin.synonyms"))
    return render("admin/synonyms.html", form=form), form_status(form)


class _SynonymsRef:
    """The audit log's name for the whole synonym list."""

    id = "all"


@bp.route("/civility", methods=["GET", "POST"])
def civility():
    """Report categories (and the department each goes to by default) and departments."""
    from portal.civility.forms import CategoryForm
    from portal.civility.models import Department, ReportCategory
    departments = db.session.scalars(select(Department).order_by(Department.name)).all()
    form = CategoryForm()
    form.department.choices = [SelectChoice(0, _("不指定"))] + [
        SelectChoice(d.id, d.name) for d in departments]
    if form.validate_on_submit():
        if request.form.get("what") == "department":
            if not db.session.scalar(select(Department).where(Department.name == form.name.data)):
                db.session.add(Department(name=form.name.data))
        else:
            category = db.session.scalar(select(ReportCategory).where(
                ReportCategory.name == form.name.data)) or ReportCategory(name=form.name.data)
            category.department_id = form.department.data or None
            category.active = True
            db.session.add(category)
        db.session.flush()
        audit.record("civility.categories", _CivilityRef(), name=form.name.data)
        db.session.commit()
        flash(_("已保存。"), "success")
        return redirect(url_for("admin.civility"))
    categories = db.session.scalars(select(ReportCategory).order_by(ReportCategory.position,
                                                                    ReportCategory.id)).all()
    return render("admin/civility.html", form=form, categories=categories,
                  departments=departments), form_status(form)


@bp.route("/civility/categories/<int:category_id>/toggle", methods=["POST"])
def toggle_category(category_id: int):
    """Switch a civility report category on or off (residents see only the active ones)."""
    from portal.civility.models import ReportCategory
    category = db.get_or_404(ReportCategory, category_id)
    category.active = not category.active
    audit.record("civility.category_toggle", category, active=category.active)
    db.session.commit()
    return redirect(url_for("admin.civility"))


class _CivilityRef:
    """The audit log's name for the civility lists."""

    id = "lists"


# -- staff accounts ------------------------------------------------------------------------------

@bp.route("/staff")
def staff():
    """Everyone with a staff role; find a registered account by phone to give it roles."""
    find = FindAccountForm(request.args)
    if "phone" in request.args and find.validate():
        found = db.session.scalar(select(User).where(User.phone == find.phone.data))
        if found is not None:
            return redirect(url_for("admin.staff_member", user_id=found.id))
        find.phone.errors.append(_("没有用这个手机号注册的账号。请本人先在“注册”页注册，再来这里给角色。"))
    people = db.session.scalars(
        select(User).where(User.id.in_(select(UserRole.user_id)))
        .options(selectinload(User.role_rows), selectinload(User.station))
        .order_by(User.name, User.id)).all()
    return render("admin/staff.html", people=people, find=find), 422 if find.errors else 200


def _staff_form(user: User) -> StaffForm:
    from portal.civility.models import Department
    from portal.places.models import Station
    from portal.points.models import Partner
    from portal.volunteer.models import Team, VolunteerStation
    duties = duties_of(user)
    form = StaffForm(data=None if request.method == "POST" else {
        "roles": sorted(duties.roles), "station": duties.station_id or 0,
        "department": duties.department_id or 0, "partner": duties.partner_id or 0,
        "teams": sorted(duties.teams),
        "volunteer_stations": sorted(duties.volunteer_stations)})
    none = SelectChoice(0, _("（不适用）"))
    form.station.choices = [none] + [SelectChoice(s.id, s.name) for s in db.session.scalars(
        select(Station).order_by(Station.town_id, Station.position, Station.id))]
    form.department.choices = [none] + [SelectChoice(d.id, d.name) for d in db.session.scalars(
        select(Department).order_by(Department.name))]
    form.partner.choices = [none] + [SelectChoice(p.id, p.name) for p in db.session.scalars(
        select(Partner).order_by(Partner.name))]
    form.teams.choices = [SelectChoice(t.id, t.name) for t in db.session.scalars(
        select(Team).order_by(Team.name))]
    form.volunteer_stations.choices = [SelectChoice(s.id, s.name) for s in db.session.scalars(
        select(VolunteerStation).order_by(VolunteerStation.name))]
    return form


def _picked(field) -> int | None:
    """A select's id, if it is one of its choices (0 is "not applicable")."""
    return field.data if field.data and field.data in {c.value for c in field.choices} else None


def _ticked(field) -> set[int]:
    return set(field.data or ()) & {c.value for c in field.choices}


@bp.route("/staff/<int:user_id>", methods=["GET", "POST"])
def staff_member(user_id: int):
    """One account's roles, and where each applies."""
    user = db.get_or_404(User, user_id)
    form = _staff_form(user)
    if form.validate_on_submit():
        wanted = Duties(roles=set(form.roles.data or ()), station_id=_picked(form.station),
                        department_id=_picked(form.department),
                        partner_id=_picked(form.partner), teams=_ticked(form.teams),
                        volunteer_stations=_ticked(form.volunteer_stations))
        try:
            set_duties(user, wanted, actor=current_user)
        except StaffRefused as refused:
            db.session.rollback()
            getattr(form, refused.field).errors.append(str(refused.message))
        else:
            flash(_("%(name)s的角色已保存，下次操作时生效。", name=user.name), "success")
            return redirect(url_for("admin.staff"))
    return render("admin/staff_member.html", form=form, person=user), form_status(form)


# -- operations: the messages sent and the worker's tasks -------------------------------------

@bp.route("/deliveries")
def deliveries():
    """SMS and e-mails: queued, sent (with the provider's id) and failed (with its answer)."""
    from portal import deliveries as sent
    wanted = request.args.get("status")
    query = select(sent.Delivery).options(selectinload(sent.Delivery.message))
    if wanted in sent.STATUSES:
        query = query.where(sent.Delivery.status == wanted)
    page = db.paginate(query.order_by(sent.Delivery.id.desc()), page=page_number(),
                       per_page=50, error_out=False)
    counts = dict(db.session.execute(select(sent.Delivery.status, db.func.count())
                                     .group_by(sent.Delivery.status)).all())
    return render("admin/deliveries.html", page=page, counts=counts, wanted=wanted,
                  statuses=sent.STATUSES, now=utcnow())


@bp.route("/deliveries/<int:delivery_id>/resend", methods=["POST"])
def resend(delivery_id: int):
    """Send again a message that failed or was held back by a cap."""
    from portal import deliveries as sent
    delivery = db.get_or_404(sent.Delivery, delivery_id)

    def step():
        sent.resend(delivery)
        audit.record("delivery.resend", delivery, channel=delivery.channel)
        db.session.commit()
        return _("已重新排队发送。")
    return attempted(step, safe_next(request.form.get("next"), url_for("admin.deliveries")))


@bp.route("/jobs")
def jobs():
    """Each periodic task of the worker: last run, its result, next run, last error."""
    from portal import jobs as worker
    return render("admin/jobs.html", rows=worker.overview())
