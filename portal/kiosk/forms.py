"""Kiosk forms: taking a ticket for the hall's line, and setting up which station a kiosk
stands in."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from portal.desk.forms import PRIORITY_LABEL, PersonFields
from portal.params import id_or_zero, strip


class TicketForm(FlaskForm):
    """A booked resident checks in: the code typed, or the QR on the slip or the phone
    scanned (the scanner types the URL). A skipped person scans the ticket to line up again."""

    code = StringField(_l("预约编号，或扫描预约单、排队号上的二维码"), filters=[strip], validators=[
        DataRequired(_l("请输入预约编号，或扫描二维码")), Length(max=200)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "autofocus": True,
                   "spellcheck": "false"})
    priority = BooleanField(PRIORITY_LABEL)


class WalkInForm(PersonFields):
    """A resident without a booking: the item, a name and a mobile number (whom the clerk
    calls, and the one-open-booking-per-item rule), no ID number at a shared screen."""

    id_card = None
    priority = BooleanField(PRIORITY_LABEL)


class SetupForm(FlaskForm):
    station = SelectField(_l("这台自助终端所在的服务站"), coerce=id_or_zero, validate_choice=True)
