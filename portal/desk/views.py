"""The clerk's desk (/desk/): queue, check-in, a case's page and its steps, walk-ins and
phone callers, home visits and the station's figures.

Clerks act for their own station only; town-centre staff watch every station and finish
what was forwarded to the centre (desk.access). Every step is audited (desk.workflow).
"""
from __future__ import annotations

import secrets
from datetime import date, datetime

from flask import (Blueprint, Response, abort, current_app, flash, redirect, request, session,
                   url_for)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from portal import audit, exports, refs
from portal.booking import service
from portal.booking.models import MATERIAL_STATE_LABELS, Booking, HomeVisitRequest
from portal.desk import access, queue, stats, tickets, workflow
from portal.desk.forms import (ActionForm, CancelForm, CheckInForm, PeriodForm, PhoneBookingForm,
                               ProxyForm, ReasonForm, TicketForm, VisitDoneForm,
                               VisitScheduleForm, WalkInForm, WindowForm, chosen_item,
                               item_choices, window_choices)
from portal.desk.models import TICKET_STATUS_LABELS, Ticket
from portal.desk.workflow import DeskRefused
from portal.extensions import db
from portal.notifications import When, notify
from portal.page_cache import kept_part
from portal.places.models import Station
from portal.places.workdays import calendar
from portal.ratings.models import Rating
from portal.security import staff_only
from portal.timeutil import local_now, local_today, utcnow
from portal.web import attempt, form_status, render
from portal.params import arg_id
from portal.desk.workflow import ACTION_LABELS, RELATION_LABELS
from portal.templating import label_filters

bp = Blueprint("desk", __name__, url_prefix="/desk")
label_filters(bp, action_label=ACTION_LABELS, relation_label=RELATION_LABELS,
              ticket_status=TICKET_STATUS_LABELS)
staff_only(bp, "clerk", "town_staff")


def _me():
    return current_user._get_current_object()


# -- the queue -------------------------------------------------------------------------------

@bp.route("/")
def index():
    """Today's queue at the own station (town staff: the centre's forwarded cases and the
    load at every station, or one station's queue with `?station=`), and the calling panel
    of the clerk's window. Refreshes itself."""
    me = _me()
    station = access.station_or_404(me, arg_id("station"))
    today, now = local_today(), utcnow()
    context = {"station": station, "today": today, "now": now, "form": CheckInForm()}
    if station is not None:
        context["queue_rows"] = _queue_rows(station, today, now)
        if _works_at(station):
            context["hall"] = _hall(station, today)
    if access.is_town_staff(me):
        context["current_user_stations"] = access.stations_for(me)
        context["centre"] = queue.centre_queue(today, calendar())
        context["load"] = queue.town_load(context["current_user_stations"], today) \
            if station is None else None
    return render("desk/index.html", "desk/_queue.html", **context)


def _queue_rows(station: Station, today: date, now: datetime) -> Markup:
    """The station's queue as rows, rendered once per worker for every desk of the station
    until a booking or a step there moves its versions (desk.queue.version), or the minute
    (the waiting times) or the language changes. The queue page is polled by every desk:
    measured with bench/desk.py, rendering 200 cases costs ~15 ms, a kept one nothing.
    Rendered without context processors, so nothing of the clerk can enter what is shared."""
    return kept_part(
        ("desk", station.id, *queue.version(station), today,
         now.replace(second=0, microsecond=0), str(get_locale())),
        lambda: current_app.jinja_env.get_template("desk/_queue_rows.html").render(
            queue=queue.station_queue(station, today, now), today=today, now=now))


def _works_at(station: Station) -> bool:
    """Whether the signed-in clerk registers walk-ins and callers and calls the line at this
    station: the own one; town staff a centre."""
    me = _me()
    return station.id == me.station_id or (access.is_town_staff(me) and station.is_centre)


def _own_station() -> Station:
    """The station (`?station=`) where the clerk does that work, else 404."""
    station = access.station_or_404(_me(), arg_id("station"))
    if station is None or not _works_at(station):
        abort(404)
    return station


def _hall(station: Station, today: date) -> dict:
    """The calling panel: my window, who is called to each window, the skipped tickets."""
    window = session.get("desk_window")
    if window not in range(1, station.windows + 1):
        window = 1 if station.windows == 1 else None
    shown = db.session.scalars(select(Ticket).options(joinedload(Ticket.booking)).where(
        Ticket.station_id == station.id, Ticket.day == today,
        Ticket.status.in_(("called", "skipped"))).order_by(Ticket.called_at.desc())).all()
    called = {}
    for t in shown:
        if t.status == "called":
            called.setdefault(t.window, t)
    window_form = WindowForm(data={"window": window})
    window_form.window.choices = window_choices(station)
    return {"window": window, "mine": called.get(window), "called": called,
            "skipped": [t for t in shown if t.status == "skipped"],
            "waiting": tickets.waiting_count(station.id, today),
            "window_form": window_form, "choices": window_choices(station)}


def _back(station: Station):
    return redirect(url_for("desk.index", station=station.id
                            if access.is_town_staff(_me()) else None))


@bp.route("/window", methods=["POST"])
def window():
    """Say which window I sit at today (kept in my session)."""
    station = _own_station()
    form = WindowForm()
    form.window.choices = window_choices(station)
    if form.validate_on_submit():
        session["desk_window"] = form.window.data
        flash(_("您在%(n)d号窗口。", n=form.window.data), "success")
    else:
        flash(_("请选择本站的窗口号（1–%(n)d）。", n=station.windows), "error")
    return _back(station)


@bp.route("/call", methods=["POST"])
def call():
    """叫号: call the next person in line to my window."""
    station = _own_station()
    form = TicketForm()
    window = _window_of(form)
    attempt(lambda: _say_called(tickets.call_next(station, window, _me(), local_today())))
    return _back(station)


def _window_of(form: TicketForm):
    return int(form.window.data) if (form.window.data or "").isdigit() \
        and len(form.window.data) < 3 else None


def _say_called(ticket: Ticket) -> str:
    booking = ticket.booking
    return _("已呼叫 %(ticket)s 到%(window)d号窗口：%(item)s，%(name)s。", ticket=ticket.label,
             window=ticket.window, item=booking.item.name, name=booking.name)


_TICKET_STEPS = {  # what a button does to the ticket called at my window, and what I am told
    "recall": (lambda t, s, w, f: tickets.recall(t, s, w, _me()), _l("已重呼。")),
    "skip": (lambda t, s, w, f: tickets.skip(t, s, w, _me()), _l("已过号。居民回来后可以重新排队。")),
    "transfer": (lambda t, s, w, f: tickets.transfer(t, s, w, f.to_window.data, _me()),
                 _l("已转窗，屏幕上正在呼叫。")),
    "requeue": (lambda t, s, w, f: tickets.requeue(t, _me(), local_today()),
                _l("已重新排队。")),
}


@bp.route("/tickets/<int:ticket_id>/<any(recall, skip, transfer, requeue):action>",
          methods=["POST"])
def ticket_step(ticket_id: int, action: str):
    """重呼, 过号, 转窗 for the number called at my window; 重新排队 for a skipped one."""
    station = _own_station()
    ticket = db.session.get(Ticket, ticket_id)
    form = TicketForm()
    if ticket is None or ticket.station_id != station.id:
        flash(_("这张号不是本站的。"), "error")
        return _back(station)
    step, message = _TICKET_STEPS[action]
    attempt(lambda: step(ticket, station, _window_of(form), form), str(message))
    return _back(station)


@bp.route("/check-in", methods=["POST"])
def check_in():
    """Check a resident in by the code typed or scanned (with a ticket for the line), then
    open the case."""
    station = access.station_or_404(_me(), arg_id("station"))
    form = CheckInForm()
    if not form.validate_on_submit() or station is None:
        flash(_("请输入或扫描预约编号。"), "error")
        return redirect(url_for("desk.index", station=station.id if station else None))
    ref = refs.from_scan(form.code.data)
    booking = db.session.scalar(select(Booking).where(Booking.ref == ref,
                                                      Booking.station_id == station.id))
    if booking is None or not access.sees(_me(), booking):
        flash(_("本站没有编号为 %(ref)s 的预约。请核对编号，或为居民登记现场办理。", ref=ref), "error")
        return redirect(url_for("desk.index", station=station.id))
    if booking.status == "booked":
        attempt(lambda: workflow.check_in(booking, _me(), priority=form.priority.data),
                _("已签到并取号。"))
    return redirect(url_for("desk.case", ref=booking.ref))


# -- one case ----------------------------------------------------------------------------------

def _case_page(booking: Booking, status: int = 200, **forms):
    me = _me()
    checks = service.material_checks(booking)
    context = {
        "booking": booking, "acts": access.acts(me, booking),
        "actions": workflow.available_actions(booking, local_now()),
        "checks": checks, "missing": service.missing_materials(booking),
        "rating": db.session.scalar(select(Rating).where(Rating.booking_id == booking.id)),
        "notes": {a: forms.get(f"{a}_form") or ActionForm(prefix=a)
                  for a in ("complete", "forward", "return")},
        "reason_form": forms.get("reason_form") or ReasonForm(prefix="reject"),
        "cancel_form": forms.get("cancel_form") or CancelForm(prefix="cancel"),
        "can_cancel": booking.status == "booked" and not service.slot_begun(booking, local_now()),
        "proxy_form": forms.get("proxy_form") or ProxyForm(),
        "states": MATERIAL_STATE_LABELS,
        "revealed": forms.get("revealed", False), "staff_view": True,
        "ticket": tickets.of_booking(booking.id),
    }
    return render("desk/case.html", **context), status


@bp.route("/bookings/<ref>")
def case(ref: str):
    """One case: who, what, the timeline, the materials, and the next steps."""
    return _case_page(access.case_or_404(_me(), ref))


def _acting_on(ref: str) -> Booking:
    booking = access.case_or_404(_me(), ref)
    if not access.acts(_me(), booking):
        flash(_("这个事项不由您办理（已转镇中心或不属于本站）。"), "error")
        abort(redirect(url_for("desk.case", ref=booking.ref)))
    return booking


_STEPS = {  # action → (what it calls, what the clerk is told)
    "check_in": (lambda b, me, note: workflow.check_in(b, me), _l("已签到。")),
    "accept": (lambda b, me, note: workflow.accept(b, me), _l("已受理，您是这个事项的首问负责人。")),
    "start": (lambda b, me, note: workflow.start(b, me), _l("开始办理。")),
    "complete": (lambda b, me, note: workflow.complete(b, me, note), _l("已办结。请邀请居民评价。")),
    "forward": (lambda b, me, note: workflow.forward(b, me, note), _l("已转镇政务服务中心。")),
    "resume": (lambda b, me, note: workflow.resume(b, me), _l("材料已补齐，继续办理。")),
    "no_show": (lambda b, me, note: workflow.mark_no_show(b, me), _l("已标记未到场。")),
}


@bp.route("/bookings/<ref>/<any(check_in, accept, start, complete, forward, resume, no_show):action>",
          methods=["POST"])
def step(ref: str, action: str):
    """Move a case on by one step (the buttons on the case page)."""
    booking = _acting_on(ref)
    form = ActionForm(prefix=action)
    if not form.validate_on_submit():
        return _case_page(booking, 422, **{f"{action}_form": form})
    call, message = _STEPS[action]
    attempt(lambda: call(booking, _me(), form.note.data or ""), str(message))
    return redirect(url_for("desk.case", ref=booking.ref))


@bp.route("/bookings/<ref>/reject", methods=["POST"])
def reject(ref: str):
    """Reject the case with a reason the resident is told."""
    booking = _acting_on(ref)
    form = ReasonForm(prefix="reject")
    if not form.validate_on_submit():
        return _case_page(booking, 422, reason_form=form)
    attempt(lambda: workflow.reject(booking, _me(), form.note.data), _("已作不予办理，理由已告知居民。"))
    return redirect(url_for("desk.case", ref=booking.ref))


@bp.route("/bookings/<ref>/cancel", methods=["POST"])
def cancel(ref: str):
    """The resident called the station to cancel: the place is free again at once."""
    booking = _acting_on(ref)
    form = CancelForm(prefix="cancel")
    if not form.validate_on_submit():
        return _case_page(booking, 422, cancel_form=form)
    attempt(lambda: workflow.cancel_for_caller(booking, _me(), form.note.data),
        _("预约已取消，居民会收到通知。"))
    return redirect(url_for("desk.case", ref=booking.ref))


@bp.route("/bookings/<ref>/return", methods=["POST"])
def return_(ref: str):
    """Return for supplement (补正): then print the one-time notice."""
    booking = _acting_on(ref)
    form = ActionForm(prefix="return")
    if not form.validate_on_submit():
        return _case_page(booking, 422, return_form=form)
    if attempt(lambda: workflow.return_for_supplement(booking, _me(), form.note.data or ""),
           _("已退回补正。请打印一次性告知书交给居民。")):
        return redirect(url_for("desk.notice", ref=booking.ref))
    return redirect(url_for("desk.case", ref=booking.ref))


@bp.route("/bookings/<ref>/materials", methods=["POST"])
def materials(ref: str):
    """Record, for each material of the item, whether it was brought, is missing or is not
    needed (radio groups named m-<material id>)."""
    booking = _acting_on(ref)
    states = {m.id: request.form.get(f"m-{m.id}") for m in booking.item.materials}
    attempt(lambda: workflow.record_materials(booking, _me(), states), _("材料核对已保存。"))
    return redirect(url_for("desk.case", ref=booking.ref) + "#materials")


@bp.route("/bookings/<ref>/proxy", methods=["POST"])
def proxy(ref: str):
    """Record proxy handling (帮办代办)."""
    booking = _acting_on(ref)
    form = ProxyForm()
    if not form.validate_on_submit():
        return _case_page(booking, 422, proxy_form=form)
    attempt(lambda: workflow.record_proxy(booking, _me(), name=form.proxy_name.data,
                                      phone=form.proxy_phone.data, relation=form.relation.data,
                                      id_card=form.proxy_id_card.data or None),
        _("代办信息已登记。"))
    return redirect(url_for("desk.case", ref=booking.ref))


@bp.route("/bookings/<ref>/reveal", methods=["POST"])
def reveal(ref: str):
    """Show the full phone and ID numbers on purpose, once; the reveal is audited."""
    booking = access.case_or_404(_me(), ref)  # CSRFProtect has checked the token already
    audit.record("booking.reveal", booking, ref=booking.ref,
                 fields=[f for f in ("phone", "id_card", "proxy_phone", "proxy_id_card")
                         if getattr(booking, f)])
    db.session.commit()
    return _case_page(booking, revealed=True)


@bp.route("/bookings/<ref>/notice")
def notice(ref: str):
    """The one-time notice (一次性告知书): everything still missing, to print and hand over."""
    booking = access.case_or_404(_me(), ref)
    return render("desk/notice.html", booking=booking,
                  missing=service.missing_materials(booking), today=local_today())


# -- walk-ins and phone callers ----------------------------------------------------------------

@bp.route("/walk-in", methods=["GET", "POST"])
def walk_in():
    """Register a resident who came without a booking (the walk-in reserve), checked in."""
    station = _own_station()
    form = WalkInForm()
    form.item.choices = item_choices()
    if not form.key.data:
        form.key.data = secrets.token_urlsafe(24)
    status = form_status(form)
    if form.validate_on_submit() and (item := chosen_item(form)) is not None:
        try:
            booking = workflow.register_walk_in(
                station=station, item=item, name=form.name.data, phone=form.phone.data,
                id_card=form.id_card.data or None, actor=_me(), key=form.key.data,
                priority=form.priority.data)
        except DeskRefused as refused:
            form.form_errors.append(refused.message)
            status = 409
        else:
            flash(_("已登记现场办理并签到取号，编号 %(ref)s。", ref=booking.ref), "success")
            return redirect(url_for("desk.case", ref=booking.ref))
    elif request.method == "POST":
        status = 422
    return render("desk/walk_in.html", form=form, station=station,
                  slot=workflow.walk_in_slot(station, local_now())), status


def _phone_days(station: Station) -> list[tuple[date, list]]:
    return [(d, [s for s in slots if s.left])
            for d, slots in service.availability(station, "phone", local_now())]


@bp.route("/phone-booking", methods=["GET", "POST"])
def phone_booking():
    """Book on a phone caller's behalf, from the phone capacity; same rules as online."""
    station = _own_station()
    form = PhoneBookingForm()
    form.item.choices = item_choices()
    days = [(d, slots) for d, slots in _phone_days(station) if slots]
    form.day.choices = [SelectChoice("", _("请选择"))] + [
        SelectChoice(d.isoformat(), f"{d:%m-%d} ({len(s)})") for d, s in days]
    chosen = next((slots for d, slots in days if d.isoformat() == form.day.data), [])
    form.slot.choices = [SelectChoice("", _("请选择"))] + [
        SelectChoice(s.starts.strftime("%H%M"), f"{s.starts:%H:%M}–{s.ends:%H:%M}（{s.left}）")
        for s in chosen]
    if not form.key.data:
        form.key.data = secrets.token_urlsafe(24)
    status = 200
    if request.method == "POST" and request.form.get("pick") is None:
        status = _book_for_caller(form, station, chosen)
        if isinstance(status, Response):
            return status
    return render("desk/phone_booking.html", form=form, station=station, days=days), status


def _book_for_caller(form, station, chosen):
    if not form.validate_on_submit():
        return 422
    item = chosen_item(form)
    slot = next((s for s in chosen if s.starts.strftime("%H%M") == form.slot.data), None)
    if slot is None:
        form.slot.errors.append(_("请选择日期和时段"))
    if item is None or slot is None:
        return 422
    try:
        booking = workflow.book_for_caller(
            station=station, item=item, day=date.fromisoformat(form.day.data), starts=slot.starts,
            name=form.name.data, phone=form.phone.data, id_card=form.id_card.data or None,
            actor=_me(), key=form.key.data)
    except DeskRefused as refused:
        form.form_errors.append(refused.message)
        return 409
    flash(_("已为来电居民预约，编号 %(ref)s，请告诉对方。", ref=booking.ref), "success")
    return redirect(url_for("desk.case", ref=booking.ref))


# -- home visits ---------------------------------------------------------------------------------

def _visits_query():
    query = select(HomeVisitRequest).options(joinedload(HomeVisitRequest.item),
                                             joinedload(HomeVisitRequest.station))
    if not access.is_town_staff(_me()):
        query = query.where(HomeVisitRequest.station_id == _me().station_id)
    return query


@bp.route("/home-visits")
def home_visits():
    """Home-visit requests: a clerk sees the own station's only; schedule and record them."""
    visits = db.session.scalars(_visits_query().order_by(
        HomeVisitRequest.status != "requested", HomeVisitRequest.visit_at,
        HomeVisitRequest.created_at)).all()
    return render("desk/home_visits.html", visits=visits, schedule_form=VisitScheduleForm(),
                  done_form=VisitDoneForm(), today=local_today())


def _visit_or_404(visit_id: int) -> HomeVisitRequest:
    visit = db.session.scalar(_visits_query().where(HomeVisitRequest.id == visit_id))
    return visit or abort(404)


@bp.route("/home-visits/<int:visit_id>/schedule", methods=["POST"])
def schedule_visit(visit_id: int):
    """Agree a time with the resident; they get a message with it."""
    visit = _visit_or_404(visit_id)
    form = VisitScheduleForm()
    if visit.status not in ("requested", "scheduled"):
        flash(_("这个申请已经办完或取消。"), "error")
    elif not form.validate_on_submit():
        flash(" ".join(str(e) for errors in form.errors.values() for e in errors), "error")
    elif form.day.data < local_today():
        flash(_("上门日期不能早于今天。"), "error")
    else:
        visit.visit_at = datetime.combine(form.day.data, form.at.data)
        visit.status, visit.clerk_id = "scheduled", _me().id
        audit.record("home_visit.schedule", visit, at=visit.visit_at.isoformat())
        notify(phone=visit.phone, user_id=visit.user_id, kind="home_visit",
               body=_l("%(station)s将于%(when)s上门为您办理“%(item)s”，工作人员：%(clerk)s。",
                       station=visit.station.name, item=visit.item.name, clerk=_me().name,
                       when=When(visit.visit_at.date(), visit.visit_at.time())),
               day=visit.visit_at.date())
        db.session.commit()
        flash(_("已约定上门时间，并通知了居民。"), "success")
    return redirect(url_for("desk.home_visits"))


@bp.route("/home-visits/<int:visit_id>/done", methods=["POST"])
def visit_done(visit_id: int):
    """Record what was done at the resident's home."""
    visit = _visit_or_404(visit_id)
    form = VisitDoneForm()
    if visit.status != "scheduled":
        flash(_("请先约定上门时间。"), "error")
    elif not form.validate_on_submit():
        flash(_("请写下上门办理的结果"), "error")
    else:
        visit.status, visit.outcome, visit.done_at = "done", form.outcome.data, utcnow()
        audit.record("home_visit.done", visit)
        db.session.commit()
        flash(_("已记录上门办理结果。"), "success")
    return redirect(url_for("desk.home_visits"))


# -- figures -----------------------------------------------------------------------------------

def _figures():
    me = _me()
    form = PeriodForm(request.args)
    station = access.station_or_404(me, arg_id("station"))
    if not form.validate():
        form.start.data = form.end.data = None
    first, last = form.period(local_today())
    rows, total = stats.figures([station.id] if station else None, first, last)
    return form, station, first, last, rows, total


@bp.route("/stats")
def figures():
    """The station's figures by day for a period (default: the last 30 days)."""
    form, station, first, last, rows, total = _figures()
    return render("desk/stats.html", form=form, station=station, first=first, last=last,
                  rows=rows, total=total, stations=access.stations_for(_me())), form_status(form)


@bp.route("/stats.<any(csv, xlsx):kind>")
def export(kind: str):
    """The same figures as a CSV or Excel file."""
    _form, station, first, last, rows, total = _figures()
    name = f"tongban-{station.id if station else 'town'}-{first:%Y%m%d}-{last:%Y%m%d}"
    audit.record("stats.export", station or _me(), kind=kind, first=first, last=last)
    db.session.commit()
    return exports.download(stats.table(rows, total), kind, name,
                            title=f"{first:%Y%m%d}-{last:%Y%m%d}")
