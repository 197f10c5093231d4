"""Desk forms: check-in by code, walk-ins and phone callers, proxy handling, notes, periods.

The materials checklist has one radio group per material of the item (a list that differs by
item), read by the view from the request; CSRFProtect checks its token like every POST.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (BooleanField, DateField, HiddenField, SelectField, StringField,
                     TextAreaField, TimeField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from portal.accounts import validation as v
from portal.accounts.forms import PhoneField
from portal.booking.models import ServiceCategory, ServiceItem
from portal.extensions import db
from portal.params import id_or_zero, strip, to_int
from portal.desk.workflow import RELATION_LABELS, RELATIONS


class ActionForm(FlaskForm):
    """A step's button, with an optional note. Several share the case page, so each is
    prefixed by its action; CSRFProtect checks the page's token on every POST already."""

    class Meta:
        csrf = False

    note = TextAreaField(_l("说明（选填）"), filters=[strip], validators=[
        Length(max=1000, message=_l("说明不能超过1000个字"))])


class ReasonForm(FlaskForm):
    class Meta:
        csrf = False

    note = TextAreaField(_l("不予办理的理由（居民会看到）"), filters=[strip], validators=[
        DataRequired(_l("请写明不予办理的理由")), Length(max=1000, message=_l("理由不能超过1000个字"))])


class CancelForm(FlaskForm):
    class Meta:
        csrf = False

    note = StringField(_l("谁要求取消、为什么"), filters=[strip], validators=[
        DataRequired(_l("请写明谁要求取消（例如：本人来电）")),
        Length(max=200, message=_l("不能超过200个字"))])


PRIORITY_LABEL = _l("绿色通道（老年人、残疾人、孕妇优先叫号）")


class CheckInForm(FlaskForm):
    """Typed, or scanned: a USB scanner types the code (or the status URL) and Enter."""

    code = StringField(_l("预约编号"), filters=[strip], validators=[
        DataRequired(_l("请输入或扫描预约编号")), Length(max=200)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "autofocus": True,
                   "spellcheck": "false"})
    priority = BooleanField(PRIORITY_LABEL)


def window_choices(station) -> list[SelectChoice]:
    return [SelectChoice(n, _l("%(n)d号窗口", n=n)) for n in range(1, station.windows + 1)]


class WindowForm(FlaskForm):
    """Which window this clerk sits at (kept in the session); a forged number fails."""

    window = SelectField(_l("我的窗口"), coerce=lambda v: to_int(v, 1, 99) or 0,
                         validate_choice=True)


class TicketForm(FlaskForm):
    """A call's buttons (重呼, 过号, 转窗, 重新排队): the window acting, and where to hand
    the person over to. Several on one page: CSRFProtect checks the page's token."""

    class Meta:
        csrf = False

    window = HiddenField()
    to_window = SelectField(_l("转到"), coerce=lambda v: to_int(v, 1, 99) or 0,
                            validate_choice=False)


class IdCardField(StringField):
    """An optional resident ID number, checked (GB 11643) when given."""

    def __init__(self, label=None, **kwargs):
        kwargs.setdefault("filters", [v.normalise_id_card])
        kwargs.setdefault("render_kw", {"autocomplete": "off"})
        super().__init__(label, **kwargs)

    def pre_validate(self, form):
        if self.data and (problem := v.id_card_problem(self.data)):
            raise ValidationError(problem)


def item_choices() -> list[SelectChoice]:
    """Every active item of the catalogue, by category, after 请选择 (0)."""
    categories = db.session.scalars(select(ServiceCategory).order_by(ServiceCategory.position))
    return [SelectChoice(0, _("请选择"))] + [
        SelectChoice(i.id, f"{i.name}", optgroup=c.name)
        for c in categories for i in c.items if i.active]


def chosen_item(form) -> ServiceItem | None:
    """The active item a person form chose, or None with the field's error said."""
    item = db.session.get(ServiceItem, form.item.data) if form.item.data else None
    if item is None or not item.active:
        form.item.errors.append(_("请选择事项"))
        return None
    return item


class PersonFields(FlaskForm):
    key = HiddenField()  # idempotency key: a double submit registers once
    item = SelectField(_l("事项"), coerce=id_or_zero, validate_choice=False,
                       validators=[DataRequired(_l("请选择事项"))])
    name = StringField(_l("姓名"), filters=[strip], validators=[
        DataRequired(_l("请输入姓名")), Length(max=40, message=_l("姓名不能超过40个字"))])
    phone = PhoneField(_l("手机号码"))
    id_card = IdCardField(_l("身份证号码（选填）"))


class WalkInForm(PersonFields):
    priority = BooleanField(PRIORITY_LABEL)


class PhoneBookingForm(PersonFields):
    day = SelectField(_l("日期"), validate_choice=False)
    slot = SelectField(_l("时段"), validate_choice=False)


class ProxyForm(FlaskForm):
    proxy_name = StringField(_l("代办人姓名"), filters=[strip], validators=[
        DataRequired(_l("请输入代办人姓名")), Length(max=40, message=_l("姓名不能超过40个字"))])
    proxy_phone = PhoneField(_l("代办人手机号码"))
    relation = SelectField(_l("与申请人的关系"), choices=[SelectChoice("", _l("请选择"))] + [
        SelectChoice(r, RELATION_LABELS[r]) for r in RELATIONS],
        validators=[DataRequired(_l("请选择与申请人的关系"))])
    proxy_id_card = IdCardField(_l("代办人身份证号码（选填）"))


class VisitScheduleForm(FlaskForm):
    day = DateField(_l("上门日期"), validators=[InputRequired(_l("请选择上门日期"))])
    at = TimeField(_l("时间"), validators=[InputRequired(_l("请选择时间"))])


class VisitDoneForm(FlaskForm):
    outcome = TextAreaField(_l("上门办理结果"), filters=[strip], validators=[
        DataRequired(_l("请写下上门办理的结果")), Length(max=1000, message=_l("不能超过1000个字"))])


class PeriodForm(FlaskForm):
    """A period of days for the figures (GET, so no CSRF)."""

    class Meta:
        csrf = False

    start = DateField(_l("从"), validators=[Optional()])
    end = DateField(_l("到"), validators=[Optional()])

    def validate_end(self, field):
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError(_l("结束日期不能早于开始日期"))
        if self.start.data and field.data and field.data - self.start.data > timedelta(days=366):
            raise ValidationError(_l("一次最多统计一年"))

    def period(self, today: date) -> tuple[date, date]:
        end = self.end.data or today
        return (self.start.data or end - timedelta(days=29)), end
