"""Forms of the civility board: a report from a phone, moderation, rectification, appeals."""
from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, RadioField, SelectField, StringField,
                     TextAreaField, TimeField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from portal.accounts.forms import PhoneField
from portal.params import id_or_zero, strip
from portal.civility.models import KIND_LABELS, KINDS
from portal.timeutil import local_today


class Honeypot(StringField):
    """A field people never see (hidden by CSS, skipped by keyboard and screen readers);
    bots that fill every field give themselves away."""

    def __init__(self, **kwargs):
        super().__init__(_l("网站（请留空）"), render_kw={"autocomplete": "off", "tabindex": "-1"},
                         **kwargs)


class ReportForm(FlaskForm):
    kind = RadioField(_l("类型"), choices=[SelectChoice(k, KIND_LABELS[k]) for k in KINDS],
                      default="uncivil", validators=[DataRequired(_l("请选择类型"))])
    category = SelectField(_l("类别"), coerce=id_or_zero, validate_choice=False,
                           validators=[DataRequired(_l("请选择类别"))])
    description = TextAreaField(_l("发生了什么"), filters=[strip], validators=[
        DataRequired(_l("请写下发生了什么")),
        Length(min=5, max=1000, message=_l("请用5到1000个字说明"))], render_kw={"rows": 4})
    place = StringField(_l("地点"), filters=[strip], validators=[
        Length(max=120, message=_l("地点不能超过120个字"))],
        render_kw={"placeholder": "例如：东岭村文化广场东侧"})
    day = DateField(_l("日期"), validators=[InputRequired(_l("请选择日期"))])
    at = TimeField(_l("大约时间"), validators=[InputRequired(_l("请选择时间"))])
    website = Honeypot()

    def validate_day(self, field):
        if field.data and field.data > local_today():
            raise ValidationError(_l("日期不能晚于今天"))
        if field.data and field.data < local_today() - timedelta(days=30):
            raise ValidationError(_l("只受理30天内发生的事"))


class ReasonForm(FlaskForm):
    class Meta:
        csrf = False  # several forms on the moderation page; CSRFProtect checks every POST

    reason = TextAreaField(_l("不采用的理由（报告人会看到）"), filters=[strip], validators=[
        DataRequired(_l("请写明不采用的理由")), Length(max=500)])


class RectifyForm(FlaskForm):
    note = TextAreaField(_l("整改情况"), filters=[strip], validators=[
        Length(max=1000, message=_l("不能超过1000个字"))], render_kw={"rows": 3})


class AppealForm(FlaskForm):
    name = StringField(_l("您的姓名"), filters=[strip], validators=[
        DataRequired(_l("请输入姓名")), Length(max=40, message=_l("姓名不能超过40个字"))])
    phone = PhoneField(_l("手机号码（只用于告诉您处理结果，不会公开）"))
    text = TextAreaField(_l("申诉或更正的内容"), filters=[strip], validators=[
        DataRequired(_l("请写明哪里不对、应当怎样更正")),
        Length(max=1000, message=_l("不能超过1000个字"))], render_kw={"rows": 4})
    website = Honeypot()


class DecideForm(FlaskForm):
    outcome = RadioField(_l("处理结果"), choices=[
        SelectChoice("upheld", _l("维持")), SelectChoice("corrected", _l("更正内容")),
        SelectChoice("withdrawn", _l("撤下"))], validators=[DataRequired(_l("请选择处理结果"))])
    note = TextAreaField(_l("理由（会告知申诉人）"), filters=[strip], validators=[
        DataRequired(_l("请写明理由")), Length(max=1000)])
    description = TextAreaField(_l("更正后的说明"), filters=[strip],
                                validators=[Optional(), Length(max=1000)])
    place = StringField(_l("更正后的地点"), filters=[strip],
                        validators=[Optional(), Length(max=120)])


class RedactForm(FlaskForm):
    class Meta:
        csrf = False

    boxes = TextAreaField(_l("打码区域（每行 x,y,宽,高，单位像素）"), filters=[strip],
                          render_kw={"rows": 3, "spellcheck": "false"})
    hide = BooleanField(_l("这张照片不公开"))


class CategoryForm(FlaskForm):
    name = StringField(_l("类别名称"), filters=[strip], validators=[
        DataRequired(_l("请输入类别名称")), Length(max=30)])
    department = SelectField(_l("默认责任部门"), coerce=id_or_zero, validate_choice=False)


class CheckForm(FlaskForm):
    """The moderator's 验收 of a rectified item."""
    outcome = RadioField(_l("验收结果"), choices=[SelectChoice("pass", _l("通过")),
                                                 SelectChoice("fail", _l("不通过，退回整改"))],
                         validators=[InputRequired(_l("请选择验收结果"))])
    note = TextAreaField(_l("验收意见（不通过时必填：还有什么没整改好）"), filters=[strip],
                         validators=[Length(max=1000)])
    due = DateField(_l("新的整改期限（不通过时）"), validators=[Optional()])
