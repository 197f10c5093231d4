"""Admin forms for towns, villages and stations."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.i18n import translations as wtf_translations
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (DataRequired, InputRequired, Length, NumberRange, Optional,
                                Regexp, ValidationError)

from portal.accounts.forms import PhoneField
from portal.params import id_or_error
from portal.accounts.models import ROLE_LABELS, ROLES
from portal.places.hours import overlapping
from portal.volunteer.forms import CheckboxesField
from portal.timeutil import local_today

WEEKDAY_NAMES = (_l("星期一"), _l("星期二"), _l("星期三"), _l("星期四"), _l("星期五"),
                 _l("星期六"), _l("星期日"))


def strip(value):
    return value.strip() if isinstance(value, str) else value


class TownForm(FlaskForm):
    name = StringField(_l("镇名称"), filters=[strip], validators=[
        DataRequired(_l("请输入镇名称")), Length(max=80)])
    code = StringField(_l("代码"), filters=[strip], validators=[
        DataRequired(_l("请输入代码")),
        Regexp(r"^[a-z0-9-]{2,32}$", message=_l("代码只能用小写字母、数字和连字符，2到32位"))])
    phone = StringField(_l("咨询电话"), filters=[strip], validators=[Length(max=40)])


class VillageForm(FlaskForm):
    name = StringField(_l("村（社区）名称"), filters=[strip], validators=[
        DataRequired(_l("请输入村（社区）名称")), Length(max=80)])


class DayHours(Form):
    """One weekday: up to two periods (morning and afternoon); both times or neither."""

    class Meta:  # a nested plain Form: use Flask-WTF's translated built-in messages too
        def get_translations(self, form):
            return wtf_translations

    am_opens = TimeField(_l("上午开始"), validators=[Optional()])
    am_closes = TimeField(_l("上午结束"), validators=[Optional()])
    pm_opens = TimeField(_l("下午开始"), validators=[Optional()])
    pm_closes = TimeField(_l("下午结束"), validators=[Optional()])

    def periods(self):
        pairs = ((self.am_opens.data, self.am_closes.data),
                 (self.pm_opens.data, self.pm_closes.data))
        return [(a, b) for a, b in pairs if a and b]

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        for opens, closes in ((self.am_opens, self.am_closes), (self.pm_opens, self.pm_closes)):
            if bool(opens.data) != bool(closes.data):
                (closes if opens.data else opens).errors.append(_l("开始和结束时间要同时填写"))
                ok = False
            elif opens.data and opens.data >= closes.data:
                closes.errors.append(_l("结束时间要晚于开始时间"))
                ok = False
        if ok and overlapping(self.periods()):
            self.pm_opens.errors.append(_l("上午和下午的时段不能重叠"))
            ok = False
        return ok


class StationForm(FlaskForm):
    name = StringField(_l("服务站名称"), filters=[strip], validators=[
        DataRequired(_l("请输入服务站名称")), Length(max=80)])
    address = StringField(_l("地址"), filters=[strip], validators=[
        DataRequired(_l("请输入地址，方便群众找到")), Length(max=200)])
    phone = StringField(_l("电话"), filters=[strip], validators=[Length(max=40)])
    active = BooleanField(_l("正在服务（取消勾选则暂停预约）"))
    slot_minutes = IntegerField(_l("每个时段的分钟数"), validators=[
        InputRequired(_l("请填写时段长度")),
        NumberRange(5, 240, message=_l("时段长度在5到240分钟之间"))])
    capacity_online = IntegerField(_l("每个时段网上和自助终端可约人数"), validators=[
        InputRequired(_l("请填写人数")), NumberRange(0, 50, message=_l("人数在0到50之间"))])
    capacity_phone = IntegerField(_l("每个时段电话预约人数"), validators=[
        InputRequired(_l("请填写人数")), NumberRange(0, 50, message=_l("人数在0到50之间"))])
    capacity_walkin = IntegerField(_l("每个时段留给现场来办的人数"), validators=[
        InputRequired(_l("请填写人数")), NumberRange(0, 50, message=_l("人数在0到50之间"))])
    windows = IntegerField(_l("办事窗口数（叫号屏上的1号、2号……窗口）"), validators=[
        InputRequired(_l("请填写窗口数")), NumberRange(1, 99, message=_l("窗口数在1到99之间"))])
    hours = FieldList(FormField(DayHours), min_entries=7, max_entries=7)


class ClosedDayForm(FlaskForm):
    day = DateField(_l("日期"), validators=[DataRequired(_l("请选择日期"))])
    reason = StringField(_l("原因"), filters=[strip], validators=[
        DataRequired(_l("请填写原因，例如：国庆节")), Length(max=100)])
    whole_town = BooleanField(_l("全镇所有服务站都休息"))

    def validate_day(self, field):
        if field.data and field.data < local_today():
            raise ValidationError(_l("不能选择已经过去的日期"))


class CalendarDayForm(FlaskForm):
    """An exception to the Monday–Friday working week: a holiday or a make-up working day."""

    day = DateField(_l("日期"), validators=[InputRequired(_l("请选择日期"))])
    kind = SelectField(_l("类型"), choices=[SelectChoice("holiday", _l("放假（工作日休息）")),
                                          SelectChoice("workday", _l("调休上班（周末上班）"))],
                       validators=[DataRequired()])
    name = StringField(_l("名称"), filters=[strip], validators=[
        DataRequired(_l("请输入名称，例如“国庆节”")), Length(max=40)])


class SynonymsForm(FlaskForm):
    """Synonym groups for search, one group per line, words separated by spaces."""

    groups = TextAreaField(_l("同义词"), render_kw={"rows": 16, "spellcheck": "false"})

    def validate_groups(self, field):
        lines = [line.split() for line in (field.data or "").splitlines() if line.strip()]
        if len(lines) > 500:
            raise ValidationError(_l("最多500组"))
        for words in lines:
            for word in words:
                if len(word) > 20 or not re.fullmatch(r"[0-9A-Za-z\u3400-\u9fff]+", word):
                    raise ValidationError(_l("“%(w)s”不行：每个词只能用汉字、字母或数字，最多20个字",
                                             w=word[:30]))
        field.parsed = [" ".join(dict.fromkeys(words)) for words in lines]


class FindAccountForm(FlaskForm):
    """Find a registered account by its phone number (GET: nothing changes)."""

    class Meta:
        csrf = False

    phone = PhoneField(_l("手机号码"))


class StaffForm(FlaskForm):
    roles = CheckboxesField(_l("角色"), choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES])
    station = SelectField(_l("服务站（窗口人员）"), coerce=id_or_error, validate_choice=False)
    department = SelectField(_l("部门（责任部门账号）"), coerce=id_or_error, validate_choice=False)
    partner = SelectField(_l("商家（合作商家账号）"), coerce=id_or_error, validate_choice=False)
    teams = CheckboxesField(_l("协调的志愿服务团队（志愿服务协调员）"), coerce=id_or_error,
                            validate_choice=False)
    volunteer_stations = CheckboxesField(_l("协调的志愿服务站（志愿服务协调员）"), coerce=id_or_error,
                                         validate_choice=False)
