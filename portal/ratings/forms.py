"""The rating form (one tap per level: each level is its own submit button) and the form for
a follow-up step."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from portal.params import strip
from portal.ratings.rules import COMMENT_MAX


class RatingForm(FlaskForm):
    comment = TextAreaField(_l("意见和建议（选填）"), filters=[strip], validators=[
        Length(max=COMMENT_MAX, message=_l("意见不能超过%(n)d个字", n=COMMENT_MAX))])


class StepForm(FlaskForm):
    text = TextAreaField(_l("情况"), filters=[strip], validators=[
        DataRequired(_l("请写下这一步的情况")), Length(max=2000, message=_l("不能超过2000个字"))])
