"""The dashboard's filters: a GET form (no CSRF), every field optional."""
from __future__ import annotations

from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from portal.dashboard.figures import PERIODS, Period, default_day, period
from portal.params import to_int

EARLIEST = date(2000, 1, 1)


class DashboardForm(FlaskForm):
    class Meta:
        csrf = False

    period = SelectField(_l("统计周期"), choices=[SelectChoice(k, v) for k, v in PERIODS.items()],
                         default="month",
                         validators=[Optional()])
    date = DateField(_l("包含这一天"), validators=[Optional()])
    town = SelectField(_l("镇"), coerce=str, validators=[Optional()])
    station = SelectField(_l("站点"), coerce=str, validators=[Optional()])

    def __init__(self, formdata, towns, stations):
        super().__init__(formdata)
        self.town.choices = [SelectChoice("", _l("全部"))] + [
            SelectChoice(str(t.id), t.name) for t in towns]
        self.station.choices = [SelectChoice("", _l("全部"))] + [
            SelectChoice(str(s.id), s.name) for s in stations]

    def validate_date(self, field):
        if field.data and not EARLIEST <= field.data <= date.today() + timedelta(days=1):
            raise ValidationError(_l("请选择2000年以后、今天以前的日期"))

    def chosen(self, today: date) -> tuple[Period, int | None, int | None]:
        """The period and the town and station ids; a field with an error counts as unset."""
        kind = self.period.data if self.period.data in PERIODS and not self.period.errors \
            else "month"
        day = self.date.data if self.date.data and not self.date.errors \
            else default_day(today, kind)
        town = None if self.town.errors else to_int(self.town.data)
        station = None if self.station.errors else to_int(self.station.data)
        return period(kind, day, today), town, station
