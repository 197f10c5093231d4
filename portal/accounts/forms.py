"""Account forms. Field rules live in validation.py; these only wire them to WTForms."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from portal.accounts import validation as v
from portal.extensions import db
from portal.params import id_or_zero, strip
from portal.places.models import Town


def village_choices() -> list[SelectChoice]:
    """Every village of every town, labelled with the town when there is more than one."""
    towns = db.session.scalars(select(Town).order_by(Town.id)).all()
    several = len(towns) > 1
    return [SelectChoice(0, _l("请选择"))] + [
        SelectChoice(village.id, f"{t.name} {village.name}" if several else village.name)
        for t in towns for village in t.villages
    ]


class PhoneField(StringField):
    """A mainland mobile number, normalised (full-width digits, spaces, +86) before validation."""

    def __init__(self, label=None, **kwargs):
        kwargs.setdefault("filters", [v.normalise_phone])
        kwargs.setdefault("render_kw", {"autocomplete": "tel", "inputmode": "tel"})
        super().__init__(label, **kwargs)

    def pre_validate(self, form):
        problem = v.phone_problem(self.data)
        if problem:
            raise ValidationError(problem)


class ProfileForm(FlaskForm):
    """What a resident may correct about themselves (/me/profile), and registering's part."""
    name = StringField(_l("姓名"), filters=[strip], validators=[
        DataRequired(_l("请输入姓名")), Length(max=40, message=_l("姓名不能超过40个字"))],
        render_kw={"autocomplete": "name"})
    village = SelectField(_l("户籍或居住的村（社区）"), coerce=id_or_zero,
                          validate_choice=False)
    id_card = StringField(_l("身份证号码（选填）"), filters=[v.normalise_id_card],
                          render_kw={"autocomplete": "off", "inputmode": "text"})

    def validate_village(self, field):
        if not field.data or field.data not in {choice.value for choice in field.choices}:
            raise ValidationError(_l("请选择所在的村（社区）"))

    def validate_id_card(self, field):
        if field.data:
            problem = v.id_card_problem(field.data)
            if problem:
                raise ValidationError(problem)


class RegisterForm(ProfileForm):
    phone = PhoneField(_l("手机号码"))
    password = PasswordField(_l("设置密码"), validators=[InputRequired(_l("请设置密码"))],
                             render_kw={"autocomplete": "new-password"})
    password_again = PasswordField(_l("再次输入密码"), validators=[
        InputRequired(_l("请再次输入密码")), EqualTo("password", _l("两次输入的密码不一致"))],
        render_kw={"autocomplete": "new-password"})
    consent = BooleanField(_l("我已阅读并同意《个人信息保护说明》"),
                           validators=[DataRequired(_l("请阅读并同意个人信息保护说明"))])

    def validate_password(self, field):
        problem = v.password_problem(field.data or "", phone=self.phone.data or "",
                                     name=self.name.data or "")
        if problem:
            raise ValidationError(problem)


class LoginForm(FlaskForm):
    phone = PhoneField(_l("手机号码"))
    password = PasswordField(_l("密码"), validators=[InputRequired(_l("请输入密码"))],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("在这台设备上保持登录30天（公共电脑请勿勾选）"))


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("当前密码"), validators=[InputRequired(_l("请输入当前密码"))],
                            render_kw={"autocomplete": "current-password"})
    password = PasswordField(_l("新密码"), validators=[InputRequired(_l("请设置新密码"))],
                             render_kw={"autocomplete": "new-password"})
    password_again = PasswordField(_l("再次输入新密码"), validators=[
        InputRequired(_l("请再次输入新密码")), EqualTo("password", _l("两次输入的密码不一致"))],
        render_kw={"autocomplete": "new-password"})


class MessageSettingsForm(FlaskForm):
    """Where and how messages reach the resident besides the portal."""
    email = StringField(_l("电子邮箱（选填）"), filters=[strip], validators=[
        Optional(), Length(max=254, message=_l("不能超过254个字符")),
        Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("请输入正确的电子邮箱，例如 name@example.com"))],
        render_kw={"autocomplete": "email", "inputmode": "email"})
    locale = SelectField(_l("消息使用的语言"),
                         choices=[SelectChoice("zh", "简体中文"), SelectChoice("en", "English")])
    optional_messages = BooleanField(_l("接收办事提醒和志愿服务消息（预约成功、改期、取消和办理进展总会发送）"))


class PhoneCodeForm(FlaskForm):
    code = StringField(_l("短信验证码"), filters=[strip], validators=[
        DataRequired(_l("请输入短信验证码")),
        Regexp(r"^[0-9]{6}$", message=_l("验证码是6位数字"))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class DeleteAccountForm(FlaskForm):
    """The password again (a shared kiosk, a borrowed phone) and an explicit tick."""
    password = PasswordField(_l("请输入密码，确认是您本人"), validators=[
        InputRequired(_l("请输入密码"))], render_kw={"autocomplete": "current-password"})
    understood = BooleanField(_l("我已了解：注销后不能恢复，未办理的预约会取消"),
                              validators=[DataRequired(_l("请勾选，确认您已了解注销的后果"))])


class WithdrawForm(FlaskForm):
    understood = BooleanField(_l("我撤回同意：删除我的志愿者登记信息，取消还没开始的活动报名"),
                              validators=[DataRequired(_l("请勾选，确认撤回"))])


class CorrectionForm(ProfileForm):
    """/me/profile: the ID number field starts empty (the whole number is never put back on a
    page, which may be a shared kiosk): empty keeps the saved one, a number replaces it."""
    remove_id_card = BooleanField(_l("删除保存的身份证号码"))
