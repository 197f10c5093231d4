"""Forms for writing notices, scheduling them, and filtering the public list."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, StringField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.params import strip
from portal.notices.models import VALIDITIES, VALIDITY_LABELS

BODY_MAX = 100_000


class NoticeForm(FlaskForm):
    title = StringField(_l("标题"), filters=[strip], validators=[
        DataRequired(_l("请输入标题")), Length(max=200, message=_l("标题不能超过200个字"))])
    doc_number = StringField(_l("发文字号（选填）"), filters=[strip], validators=[
        Length(max=60, message=_l("发文字号不能超过60个字"))],
        render_kw={"placeholder": "青政发〔2026〕3号"})
    agency = StringField(_l("发文机关"), filters=[strip], validators=[
        DataRequired(_l("请输入发文机关")), Length(max=80, message=_l("发文机关不能超过80个字"))],
        render_kw={"list": "agencies"})
    category = StringField(_l("主题分类"), filters=[strip], validators=[
        DataRequired(_l("请输入主题分类")), Length(max=60, message=_l("主题分类不能超过60个字"))],
        render_kw={"list": "categories"})
    written_on = DateField(_l("成文日期（选填）"), validators=[Optional()])
    validity = SelectField(_l("有效性"), choices=[SelectChoice(v, VALIDITY_LABELS[v])
                                                  for v in VALIDITIES])
    body_format = RadioField(_l("正文格式"), choices=[
        SelectChoice("markdown", _l("Markdown（可用 ## 小标题、- 列表、**加粗**）")),
        SelectChoice("plain", _l("纯文本（每行一段）"))], default="markdown")
    body = TextAreaField(_l("正文"), validators=[
        DataRequired(_l("请输入正文")),
        Length(max=BODY_MAX, message=_l("正文不能超过%(n)d个字", n=BODY_MAX))],
        render_kw={"rows": 16})


class PublishForm(FlaskForm):
    """Publish now, or at a set local date and time."""

    class Meta:
        csrf = False  # CSRFProtect checks every POST already; the page has several forms

    when = RadioField(_l("发布时间"), choices=[SelectChoice("now", _l("现在发布")),
                                             SelectChoice("later", _l("定时发布"))],
                      default="now")
    day = DateField(_l("日期"), validators=[Optional()])
    at = TimeField(_l("时间"), validators=[Optional()])

    def validate_day(self, field):
        if self.when.data == "later" and (not field.data or not self.at.data):
            raise ValidationError(_l("定时发布请选择日期和时间"))


class FilterForm(FlaskForm):
    """The public list's filters (GET)."""

    class Meta:
        csrf = False

    category = SelectField(_l("主题分类"), validate_choice=False)
    agency = SelectField(_l("发文机关"), validate_choice=False)
    year = SelectField(_l("年份"), validate_choice=False)
    validity = SelectField(_l("有效性"), validate_choice=False, choices=[
        SelectChoice("", _l("全部"))] + [SelectChoice(v, VALIDITY_LABELS[v]) for v in VALIDITIES])
