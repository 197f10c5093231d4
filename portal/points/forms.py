"""Points forms: a redemption's code (the partner), rules, partners and rewards (the admin and
the partner), the settlement period, and the opt-in to the public board."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.params import strip
from portal.points.models import PARTNER_KIND_LABELS, PARTNER_KINDS, SOURCE_LABELS, SOURCES


class CodeForm(FlaskForm):
    code = StringField(_l("兑换码（输入，或扫描居民手机上的二维码）"), filters=[strip], validators=[
        DataRequired(_l("请输入或扫描兑换码")), Length(max=200)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "autofocus": True,
                   "spellcheck": "false"})


class RuleForm(FlaskForm):
    source = SelectField(_l("哪种好事"), choices=[SelectChoice(s, SOURCE_LABELS[s]) for s in SOURCES],
                         validators=[DataRequired(_l("请选择"))])
    points = IntegerField(_l("积分"), validators=[
        InputRequired(_l("请填写积分")), NumberRange(0, 1000, message=_l("积分在0到1000之间"))])
    monthly_cap = IntegerField(_l("每人每月最多（留空：不设上限）"), validators=[
        Optional(), NumberRange(0, 100_000, message=_l("上限在0到100000之间"))])
    note = StringField(_l("说明（选填）"), filters=[strip], validators=[Length(max=200)])


class PartnerForm(FlaskForm):
    name = StringField(_l("名称"), filters=[strip], validators=[
        DataRequired(_l("请填写名称")), Length(max=60, message=_l("名称不能超过60个字"))])
    kind = SelectField(_l("类别"), choices=[SelectChoice(k, PARTNER_KIND_LABELS[k])
                                            for k in PARTNER_KINDS])
    address = StringField(_l("地址"), filters=[strip], validators=[Length(max=120)])
    phone = StringField(_l("电话"), filters=[strip], validators=[Length(max=40)])
    active = BooleanField(_l("正在合作（取消勾选则暂停兑换）"), default=True)


class RewardForm(FlaskForm):
    name = StringField(_l("兑换项目"), filters=[strip], validators=[
        DataRequired(_l("请填写兑换项目")), Length(max=60, message=_l("不能超过60个字"))])
    description = TextAreaField(_l("说明（选填）"), filters=[strip], validators=[Length(max=500)])
    points = IntegerField(_l("所需积分"), validators=[
        InputRequired(_l("请填写所需积分")), NumberRange(1, 100_000, message=_l("积分在1到100000之间"))])
    stock = IntegerField(_l("库存"), validators=[
        InputRequired(_l("请填写库存")), NumberRange(0, 100_000, message=_l("库存在0到100000之间"))])
    valid_until = DateField(_l("有效期至"), validators=[InputRequired(_l("请选择有效期"))])
    active = BooleanField(_l("上架"), default=True)


class MonthForm(FlaskForm):
    """A month for the settlement file (GET: no CSRF)."""

    class Meta:
        csrf = False

    month = StringField(_l("月份"), filters=[strip], validators=[Optional(), Length(max=7)])


class NamedForm(FlaskForm):
    named = BooleanField(_l("同意在积分榜上显示我的姓名"))
