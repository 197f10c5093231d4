"""Forms of volunteer service: registration, the activity list's filters, the coordinator's
activity, attendance and hours forms, wishes and orders."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, DecimalField, IntegerField, RadioField, SelectField,
                     SelectMultipleField, StringField, TextAreaField, TimeField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (DataRequired, InputRequired, Length, NumberRange, Optional,
                                ValidationError)
from wtforms.widgets import CheckboxInput, ListWidget

from portal.accounts import validation as v
from portal.accounts.forms import PhoneField
from portal.params import id_or_error, id_or_zero, strip
from portal.volunteer.models import (ACTIVITY_KIND_LABELS, ACTIVITY_KINDS, AVAILABILITY,
                                     AVAILABILITY_LABELS, GENDER_LABELS, GENDERS, SKILL_LABELS,
                                     SKILLS)
from portal.volunteer.signups import MAX_CAPACITY, MAX_WEEKS
from portal.volunteer.wishes import STORY_MAX


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes (a fieldset in the template)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _choices(codes, labels) -> list[SelectChoice]:
    return [SelectChoice(code, labels[code]) for code in codes]


class Hours(DecimalField):
    """Hours as people write them (2, 2.5, 1.25), kept as minutes by the caller."""

    def __init__(self, label, **kwargs):
        kwargs.setdefault("places", 2)
        kwargs.setdefault("render_kw", {"inputmode": "decimal"})
        super().__init__(label, **kwargs)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and not (self.data.is_finite() and abs(self.data) < 10**6):
            self.data = None  # "NaN", "Infinity", "1e309" parse as decimals; no hours are that
            raise ValueError(_l("请填写小时数，例如 2 或 1.5"))

    @property
    def minutes(self) -> int | None:
        return None if self.data is None else round(self.data * 60)


class VolunteerForm(FlaskForm):
    real_name = StringField(_l("真实姓名"), filters=[strip], validators=[
        DataRequired(_l("请输入真实姓名")), Length(max=40, message=_l("姓名不能超过40个字"))],
        render_kw={"autocomplete": "name"})
    id_card = StringField(_l("身份证号码"), filters=[v.normalise_id_card], validators=[
        DataRequired(_l("请输入身份证号码（志愿服务记录需要）"))], render_kw={"autocomplete": "off"})
    gender = RadioField(_l("性别"), choices=_choices(GENDERS, GENDER_LABELS),
                        validators=[DataRequired(_l("请选择性别"))])
    skills = CheckboxesField(_l("服务技能（可多选）"), choices=_choices(SKILLS, SKILL_LABELS),
                             validators=[DataRequired(_l("请至少选择一项服务技能"))])
    availability = CheckboxesField(_l("可服务时间（可多选）"),
                                   choices=_choices(AVAILABILITY, AVAILABILITY_LABELS),
                                   validators=[DataRequired(_l("请至少选择一个可服务时间"))])
    teams = CheckboxesField(_l("加入团队（选填）"), coerce=id_or_error, validate_choice=False)
    note = TextAreaField(_l("特长或经历（选填）"), filters=[strip], validators=[
        Length(max=200, message=_l("不能超过200个字"))], render_kw={"rows": 2})
    consent = BooleanField(_l("我自愿参加志愿服务，同意服务组织为出具志愿服务记录使用以上信息"),
                           validators=[DataRequired(_l("请阅读并勾选同意"))])

    def validate_id_card(self, field):
        if field.data and (problem := v.id_card_problem(field.data)):
            raise ValidationError(problem)

    def validate_teams(self, field):
        allowed = {choice.value for choice in field.choices}
        if any(team not in allowed for team in field.data or ()):
            raise ValidationError(_l("请从列表中选择团队"))


class FilterForm(FlaskForm):
    """The activity list's filters (GET)."""

    class Meta:
        csrf = False

    kind = SelectField(_l("活动类型"), validate_choice=False, choices=[
        SelectChoice("", _l("全部"))] + _choices(ACTIVITY_KINDS, ACTIVITY_KIND_LABELS))
    team = SelectField(_l("团队"), coerce=id_or_zero, validate_choice=False)
    station = SelectField(_l("服务站"), coerce=id_or_zero, validate_choice=False)
    skill = SelectField(_l("服务类别"), validate_choice=False,
                        choices=[SelectChoice("", _l("全部"))] + _choices(SKILLS, SKILL_LABELS))
    day = DateField(_l("从哪天起"), validators=[Optional()])


class ActivityForm(FlaskForm):
    kind = RadioField(_l("活动类型"), default="service", choices=[
        SelectChoice(k, ACTIVITY_KIND_LABELS[k]) for k in ACTIVITY_KINDS])  # unsent: a service
    team = SelectField(_l("组织团队"), coerce=id_or_zero, validate_choice=False,
                       validators=[DataRequired(_l("请选择团队"))])
    station = SelectField(_l("服务站"), coerce=id_or_zero, validate_choice=False,
                          validators=[DataRequired(_l("请选择服务站"))])
    title = StringField(_l("活动名称"), filters=[strip], validators=[
        DataRequired(_l("请输入活动名称")), Length(max=60, message=_l("活动名称不能超过60个字"))])
    place = StringField(_l("集合地点"), filters=[strip], validators=[
        DataRequired(_l("请输入集合地点")), Length(max=120, message=_l("地点不能超过120个字"))])
    day = DateField(_l("日期"), validators=[InputRequired(_l("请选择日期"))])
    starts = TimeField(_l("开始时间"), validators=[InputRequired(_l("请选择开始时间"))])
    ends = TimeField(_l("结束时间"), validators=[InputRequired(_l("请选择结束时间"))])
    capacity = IntegerField(_l("名额"), validators=[
        InputRequired(_l("请填写名额")),
        NumberRange(1, MAX_CAPACITY, _l("名额要在1到%(n)d之间", n=MAX_CAPACITY))])
    weeks = IntegerField(_l("每周重复几次（1 = 只办一次）"), default=1, validators=[
        InputRequired(_l("请填写重复次数")),
        NumberRange(1, MAX_WEEKS, _l("每周重复最多%(n)d周", n=MAX_WEEKS))])
    skill = SelectField(_l("服务类别"), validate_choice=False,
                        choices=[SelectChoice("", _l("不限"))] + _choices(SKILLS, SKILL_LABELS))
    bring = StringField(_l("需要带什么（选填）"), filters=[strip], validators=[
        Length(max=200, message=_l("不能超过200个字"))])
    description = TextAreaField(_l("活动内容（选填）"), filters=[strip], validators=[
        Length(max=2000, message=_l("不能超过2000个字"))], render_kw={"rows": 4})

    def validate_ends(self, field):
        if field.data and self.starts.data and field.data <= self.starts.data:
            raise ValidationError(_l("结束时间要晚于开始时间"))

    def validate_skill(self, field):
        if field.data and field.data not in SKILLS:
            raise ValidationError(_l("请从列表中选择"))


class CapacityForm(FlaskForm):
    capacity = IntegerField(_l("名额"), validators=[
        InputRequired(_l("请填写名额")),
        NumberRange(1, MAX_CAPACITY, _l("名额要在1到%(n)d之间", n=MAX_CAPACITY))])


class CancelActivityForm(FlaskForm):
    reason = StringField(_l("取消原因（会通知已报名的志愿者）"), filters=[strip], validators=[
        DataRequired(_l("请写明取消原因")), Length(max=200, message=_l("不能超过200个字"))])


class ReleaseForm(FlaskForm):
    reason = StringField(_l("原因（会通知这位志愿者）"), filters=[strip], validators=[
        DataRequired(_l("请写明原因")), Length(max=200, message=_l("不能超过200个字"))])


class ScanForm(FlaskForm):
    code = StringField(_l("签到码"), filters=[strip], validators=[
        DataRequired(_l("请输入或扫描签到码")), Length(max=40, message=_l("签到码不正确"))],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"})


class DecideForm(FlaskForm):
    class Meta:
        csrf = False  # several on one page; CSRFProtect checks every POST

    decision = RadioField(_l("审核结果"), choices=[
        SelectChoice("approve", _l("认定")), SelectChoice("adjust", _l("调整时长后认定")),
        SelectChoice("reject", _l("不认定"))], validators=[DataRequired(_l("请选择审核结果"))])
    hours = Hours(_l("调整后的时长（小时）"), validators=[
        Optional(), NumberRange(Decimal(0), Decimal(24), _l("时长要在0到24小时之间"))])
    reason = StringField(_l("理由（调整或不认定时必填）"), filters=[strip], validators=[
        Length(max=200, message=_l("不能超过200个字"))])

    def validate_hours(self, field):
        if self.decision.data == "adjust" and field.data is None:
            raise ValidationError(_l("请填写调整后的时长"))

    def validate_reason(self, field):
        if self.decision.data in ("adjust", "reject") and not field.data:
            raise ValidationError(_l("调整或不认定时长，请写明理由"))


class TeamForm(FlaskForm):
    name = StringField(_l("团队名称"), filters=[strip], validators=[
        DataRequired(_l("请输入团队名称")), Length(max=40, message=_l("不能超过40个字"))])
    skill = SelectField(_l("主要服务类别"), choices=_choices(SKILLS, SKILL_LABELS))
    description = TextAreaField(_l("简介（选填）"), filters=[strip], validators=[
        Length(max=500, message=_l("不能超过500个字"))], render_kw={"rows": 3})


class OfferForm(FlaskForm):
    name = StringField(_l("服务名称"), filters=[strip], validators=[
        DataRequired(_l("请输入服务名称")), Length(max=40, message=_l("不能超过40个字"))])
    description = StringField(_l("说明（居民点单时看到）"), filters=[strip], validators=[
        Length(max=200, message=_l("不能超过200个字"))])
    team = SelectField(_l("通常派给"), coerce=id_or_error, validate_choice=False)

    def validate_team(self, field):
        if field.data not in {choice.value for choice in field.choices}:
            raise ValidationError(_l("只能选择自己协调的团队"))


class StationForm(FlaskForm):
    name = StringField(_l("服务站名称"), filters=[strip], validators=[
        DataRequired(_l("请输入服务站名称")), Length(max=40, message=_l("不能超过40个字"))])
    address = StringField(_l("地址"), filters=[strip], validators=[
        DataRequired(_l("请输入地址")), Length(max=120, message=_l("不能超过120个字"))])
    village = SelectField(_l("所在村（社区）"), coerce=id_or_zero, validate_choice=False)


class WishForm(FlaskForm):
    station = SelectField(_l("就近的志愿服务站"), coerce=id_or_zero, validate_choice=False,
                          validators=[DataRequired(_l("请选择服务站"))])
    title = StringField(_l("心愿"), filters=[strip], validators=[
        DataRequired(_l("请写下您的心愿")), Length(max=40, message=_l("心愿请在40个字以内"))],
        render_kw={"placeholder": "例如：一副老花镜"})
    story = TextAreaField(_l("说一说（不要写电话和住址，审核后公开）"), filters=[strip], validators=[
        DataRequired(_l("请简单说一说")),
        Length(max=STORY_MAX, message=_l("请在%(n)d个字以内", n=STORY_MAX))],
        render_kw={"rows": 3})
    value_yuan = IntegerField(_l("大约价值（元）"), default=0, validators=[
        InputRequired(_l("请填写大约价值，没有花费填0")),
        NumberRange(min=0, message=_l("价值不能是负数"))])
    address = StringField(_l("送到哪里（只给认领的志愿者看）"), filters=[strip], validators=[
        DataRequired(_l("请填写地址")), Length(max=120, message=_l("地址不能超过120个字"))])


class ScreenForm(FlaskForm):
    class Meta:
        csrf = False

    public_name = StringField(_l("公开称呼（不写全名）"), filters=[strip], validators=[
        Length(max=20, message=_l("不能超过20个字"))], render_kw={"placeholder": "东岭村王奶奶"})
    title = StringField(_l("心愿（可修改）"), filters=[strip], validators=[
        DataRequired(_l("请填写心愿")), Length(max=40, message=_l("不能超过40个字"))])
    story = TextAreaField(_l("说明（去掉个人信息后公开）"), filters=[strip], validators=[
        DataRequired(_l("请填写说明")), Length(max=STORY_MAX)], render_kw={"rows": 3})
    reason = StringField(_l("不通过的理由"), filters=[strip], validators=[Length(max=200)])


class ClaimForm(FlaskForm):
    team = SelectField(_l("认领方"), coerce=id_or_zero, validate_choice=False)


class NoteForm(FlaskForm):
    note = TextAreaField(_l("说明"), filters=[strip], validators=[
        DataRequired(_l("请写一下情况")), Length(max=500, message=_l("不能超过500个字"))],
        render_kw={"rows": 3})


class FinishForm(NoteForm):
    hours = Hours(_l("服务用了多长时间（小时）"), validators=[
        InputRequired(_l("请填写服务时长")),
        NumberRange(Decimal("0.25"), Decimal(24), _l("时长要在0.25到24小时之间"))])


class ThanksForm(FlaskForm):
    rating = RadioField(_l("评分"), coerce=int, choices=[
        SelectChoice(5, _l("5分 非常满意")), SelectChoice(4, _l("4分 满意")),
        SelectChoice(3, _l("3分 一般")), SelectChoice(2, _l("2分 不满意")),
        SelectChoice(1, _l("1分 非常不满意"))], validators=[InputRequired(_l("请选择评分"))])
    note = StringField(_l("想说的话（选填）"), filters=[strip], validators=[
        Length(max=200, message=_l("不能超过200个字"))])


class OrderForm(FlaskForm):
    offer = SelectField(_l("服务项目"), coerce=id_or_zero, validate_choice=False,
                        validators=[DataRequired(_l("请选择服务项目"))])
    station = SelectField(_l("就近的志愿服务站"), coerce=id_or_zero, validate_choice=False,
                          validators=[DataRequired(_l("请选择服务站"))])
    details = TextAreaField(_l("需要什么帮助"), filters=[strip], validators=[
        DataRequired(_l("请说明需要什么帮助")), Length(max=500, message=_l("请在500个字以内"))],
        render_kw={"rows": 3})
    wanted_on = DateField(_l("希望哪天（选填）"), validators=[Optional()])
    address = StringField(_l("服务地址（只给派单的团队看）"), filters=[strip], validators=[
        DataRequired(_l("请填写服务地址")), Length(max=120, message=_l("地址不能超过120个字"))])
    phone = PhoneField(_l("联系电话（只给派单的团队看）"))


class DispatchForm(FlaskForm):
    class Meta:
        csrf = False

    team = SelectField(_l("派给哪个团队"), coerce=id_or_zero, validate_choice=False,
                       validators=[DataRequired(_l("请选择团队"))])


class JoinForm(FlaskForm):
    """A resident activity's place: the name and phone it is held by (a signed-in resident's
    are filled in; a kiosk guest types them)."""
    name = StringField(_l("姓名"), filters=[strip], validators=[
        DataRequired(_l("请填写姓名")), Length(max=40, message=_l("姓名不能超过40个字"))])
    phone = PhoneField(_l("手机号码（报名结果和入场码发到这里）"))
