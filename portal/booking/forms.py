"""Booking forms: who is booking, the confirm step, looking a booking up, home visits."""
from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp

from portal.accounts.forms import PhoneField
from portal.params import id_or_zero, strip
from portal.booking.models import HOME_VISIT_REASONS

REASON_LABELS = {"elderly": _l("年老体弱"), "disabled": _l("残疾"), "ill": _l("患病"),
                 "other": _l("其他原因")}


class ConfirmForm(FlaskForm):
    """The check-answers page. Signed-in residents book under their account and see no
    name/phone fields (the view removes them); everyone else gives a name and a mobile."""

    key = HiddenField()  # idempotency key: a double submit makes one booking
    name = StringField(_l("姓名"), filters=[strip], validators=[
        DataRequired(_l("请输入姓名")), Length(max=40, message=_l("姓名不能超过40个字"))],
        render_kw={"autocomplete": "name"})
    phone = PhoneField(_l("手机号码"))


def _digits(value):
    """Full-width digits (１２３４) to ASCII, spaces out."""
    return "".join(unicodedata.normalize("NFKC", value).split()) if isinstance(value, str) else value


class LookupForm(FlaskForm):
    ref = StringField(_l("预约编号"), filters=[strip], validators=[
        DataRequired(_l("请输入预约编号")), Length(max=20)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters"})
    phone4 = StringField(_l("预约手机号码的后四位"), filters=[_digits], validators=[
        Regexp(r"^[0-9]{4}$", message=_l("请输入4位数字"))],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": "4"})


class HomeVisitForm(FlaskForm):
    name = StringField(_l("姓名"), filters=[strip], validators=[
        DataRequired(_l("请输入姓名")), Length(max=40, message=_l("姓名不能超过40个字"))])
    phone = PhoneField(_l("手机号码"))
    address = StringField(_l("上门地址"), filters=[strip], validators=[
        DataRequired(_l("请填写上门服务的地址")), Length(max=200, message=_l("地址不能超过200个字"))])
    reason = SelectField(_l("需要上门的原因"), choices=[SelectChoice("", _l("请选择"))] + [
        SelectChoice(r, REASON_LABELS[r]) for r in HOME_VISIT_REASONS], validators=[
        DataRequired(_l("请选择需要上门的原因"))], validate_choice=True)
    station = SelectField(_l("由哪个服务站上门"), coerce=id_or_zero, validate_choice=False)
    preferred_days = StringField(_l("方便的日期和时间（选填）"), filters=[strip], validators=[
        Length(max=200, message=_l("不能超过200个字"))])
    note = TextAreaField(_l("补充说明（选填）"), filters=[strip], validators=[
        Length(max=1000, message=_l("补充说明不能超过1000个字"))])
