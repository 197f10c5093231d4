"""Service orders (点单): the menu, ordering, and the volunteer's accept, finish; the
resident's rating and cancelling."""
from __future__ import annotations


from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from portal.extensions import db, limiter
from portal.timeutil import local_today
from portal.volunteer import access, orders, steps
from portal.volunteer.forms import (FinishForm, OrderForm,
                                    ThanksForm)
from portal.volunteer.models import (ServiceOffer, ServiceOrder, VolunteerStation)
from portal.volunteer.signups import VolunteerRefused
from portal.web import attempted, form_status, render, user_key
from portal.params import arg_id
from portal.volunteer.views import active_stations, bp, checked, options


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
    """Order a service from the menu; a coordinator dispatches it to a team."""
    form = OrderForm()
    form.offer.choices = options(_offers(), _("请选择"))
    form.station.choices = options(active_stations(), _("请选择"))
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


@bp.route("/orders/<int:order_id>/accept", methods=["POST"])
@login_required
def accept_order(order_id: int):
    """A volunteer of the dispatched team takes the order."""
    volunteer = access.volunteer_of(current_user)

    def act(found):
        if volunteer is None:
            raise VolunteerRefused("not_member", _("只有接到派单的团队成员才能接单。"))
        orders.accept(found, volunteer, member_teams=access.member_teams(volunteer))
        return _("已接单。请尽快联系居民。")
    found = _order_or_404(order_id)
    return attempted(lambda: act(found), url_for("volunteer.order", order_id=found.id))


@bp.route("/orders/<int:order_id>/finish", methods=["POST"])
@login_required
def finish_order(order_id: int):
    """The volunteer marks the order done; the time goes to the coordinator as hours."""
    form, volunteer = FinishForm(), access.volunteer_of(current_user)

    def act(found):
        if volunteer is None or found.volunteer_id != volunteer.id:
            abort(404)
        checked(form)
        orders.finish(found, volunteer, note=form.note.data, minutes=form.hours.minutes,
                      served_on=local_today())
        return _("已标记完成，服务时长提交协调员审核。")
    found = _order_or_404(order_id)
    return attempted(lambda: act(found), url_for("volunteer.order", order_id=found.id))


@bp.route("/orders/<int:order_id>/rate", methods=["POST"])
@login_required
def rate_order(order_id: int):
    """The resident rates the finished service, once."""
    form = ThanksForm()

    def act(found):
        if found.user_id != current_user.id:
            abort(404)
        checked(form)
        orders.rate(found, user_id=current_user.id, rating=form.rating.data,
                    note=form.note.data or "")
        return _("谢谢您的评价。")
    found = _order_or_404(order_id)
    return attempted(lambda: act(found), url_for("volunteer.order", order_id=found.id))


@bp.route("/orders/<int:order_id>/cancel", methods=["POST"])
@login_required
def cancel_order(order_id: int):
    """The resident cancels, while no volunteer has accepted."""
    def act(found):
        if found.user_id != current_user.id:
            abort(404)
        orders.cancel_order(found, user_id=current_user.id)
        return _("已取消点单。")
    found = _order_or_404(order_id)
    return attempted(lambda: act(found), url_for("volunteer.order", order_id=found.id))
