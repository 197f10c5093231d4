"""Slot rules, checked over many generated stations (hypothesis), plus the booking counters."""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.refs import ALPHABET as REF_ALPHABET, new_code as new_ref, normalise as normalise_ref
from portal.booking.slots import day_slots, slot_times


@dataclass
class Period:
    weekday: int
    opens: time
    closes: time


@dataclass
class Closed:
    day: date


@dataclass
class FakeStation:
    periods: list
    closed_days: list = field(default_factory=list)
    slot_minutes: int = 30
    capacity_online: int = 2
    capacity_phone: int = 1
    capacity_walkin: int = 1
    active: bool = True

    def capacity(self, pool):
        return {"online": self.capacity_online, "phone": self.capacity_phone,
                "walkin": self.capacity_walkin}[pool]


minutes = st.integers(min_value=6 * 60, max_value=20 * 60)


@st.composite
def stations(draw):
    periods = []
    for weekday in range(7):
        a, b = sorted(draw(st.lists(minutes, min_size=2, max_size=2, unique=True)))
        if draw(st.booleans()):
            periods.append(Period(weekday, time(a // 60, a % 60), time(b // 60, b % 60)))
    return FakeStation(periods=periods, slot_minutes=draw(st.sampled_from([10, 15, 20, 30, 60])),
                       capacity_online=draw(st.integers(0, 5)),
                       capacity_phone=draw(st.integers(0, 3)),
                       capacity_walkin=draw(st.integers(0, 3)))


days = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))
pools = st.sampled_from(["online", "phone", "walkin"])


@given(stations(), days, pools, st.dictionaries(st.times(), st.integers(0, 10)))
def test_slots_lie_inside_opening_hours_and_never_show_more_than_capacity(station, day, pool,
                                                                         taken):
    slots = day_slots(station, day, pool, taken)
    periods = [(p.opens, p.closes) for p in station.periods if p.weekday == day.weekday()]
    for slot in slots:
        assert any(a <= slot.starts and slot.ends <= b for a, b in periods)
        assert slot.capacity == station.capacity(pool)  # each channel has its own places
        assert 0 <= slot.left <= slot.capacity
        assert slot.left == max(0, slot.capacity - taken.get(slot.starts, 0))
    starts = [s.starts for s in slots]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


@given(stations(), days, pools)
def test_closed_days_and_inactive_stations_have_no_slots(station, day, pool):
    station.closed_days = [Closed(day)]
    assert day_slots(station, day, pool, {}) == []
    station.closed_days, station.active = [], False
    assert day_slots(station, day, pool, {}) == []


@given(stations(), days, pools, st.integers(0, 23), st.integers(0, 59))
def test_no_slot_starts_before_now_plus_lead_time(station, day, pool, hour, minute):
    now = datetime.combine(day, time(hour, minute))
    for slot in day_slots(station, day, pool, {}, now):
        assert datetime.combine(day, slot.starts) >= now + timedelta(minutes=30)


def test_slot_times_fit_whole_slots_only():
    assert slot_times([(time(8, 30), time(10, 0))], 30) == [
        (time(8, 30), time(9, 0)), (time(9, 0), time(9, 30)), (time(9, 30), time(10, 0))]
    assert slot_times([(time(8, 30), time(9, 10))], 30) == [(time(8, 30), time(9, 0))]


@settings(max_examples=200)
@given(st.integers())
def test_reference_codes_avoid_ambiguous_characters(_):
    ref = new_ref()
    assert len(ref) == 8 and set(ref) <= set(REF_ALPHABET)
    assert not set(ref) & set("0O1I")


def test_typed_codes_are_normalised():
    assert normalise_ref(" abcd-ef23 ") == "ABCDEF23"
    assert normalise_ref("ＡＢＣＤ２３４５") == "ABCD2345"
