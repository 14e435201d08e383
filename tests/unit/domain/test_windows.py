"""Market windows: table tests at the edges (09:30/18:00, 12:30 half days, 06:00/10:00, week
boundaries, holidays, weekends, beyond the calendar) and the plan-fit search."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from runofshow.adapters.memory import FixedMarketCalendar
from runofshow.domain.market import DailyWindow, Market
from runofshow.domain.windows import (
    Activity,
    MarketDay,
    ScheduledStep,
    dst_changes,
    evaluate,
    evaluate_at,
    market_hours,
    next_allowed,
    next_fitting_start,
    offset_changes,
    plan_fits,
    week_bounds,
)

IST = ZoneInfo("Europe/Istanbul")
MARKET = Market()
# XIST facts for 2026 (checked against exchange_calendars in tests/unit/app/test_window_cli.py)
CAL = FixedMarketCalendar(
    holidays={date(2026, 10, 29): "Republic Day", date(2026, 3, 20): "Ramazan Bayrami (day 1)"},
    early_closes={date(2026, 10, 28): time(12, 30), date(2026, 3, 19): time(12, 30)},
    first=date(2006, 11, 30), last=date(2027, 11, 30), name="XIST",
)
LOOKUP = CAL.market_day


def ist(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=IST)


def check(at: datetime):
    return evaluate_at(at, MARKET, LOOKUP)


# --------------------------------------------------------------------------- market hours


@pytest.mark.parametrize(
    ("at", "market_open"),
    [
        (ist(2026, 3, 10, 9, 29, 59), False),
        (ist(2026, 3, 10, 9, 30), True),
        (ist(2026, 3, 10, 17, 59, 59), True),
        (ist(2026, 3, 10, 18, 0), False),
        (ist(2026, 3, 10, 6, 30).astimezone(UTC), False),  # 06:30 Istanbul, given in UTC
        (datetime(2026, 3, 10, 6, 30, tzinfo=UTC), True),  # 09:30 Istanbul
        (ist(2026, 10, 28, 12, 29, 59), True),  # half day
        (ist(2026, 10, 28, 12, 30), False),
        (ist(2026, 10, 29, 12, 0), False),  # Republic Day
        (ist(2026, 3, 14, 12, 0), False),  # Saturday
        (ist(2026, 3, 15, 12, 0), False),  # Sunday
    ],
)
def test_market_hours_edges(at, market_open):
    v = check(at)
    assert v.market_open is market_open
    assert v.schema_change is (not market_open)
    assert v.rollback is True and v.allows(Activity.ROLLBACK)


def test_holiday_and_weekend_facts():
    v = check(ist(2026, 10, 29, 12))
    assert v.holiday == "Republic Day" and not v.session_day and not v.market_open
    assert any("Republic Day" in r for r in v.reasons)
    w = check(ist(2026, 3, 14, 12))
    assert w.holiday is None and not w.session_day and any("weekend" in r for r in w.reasons)


def test_half_day_says_when_it_closes():
    v = check(ist(2026, 10, 28, 11))
    assert v.early_close and v.market_open and v.session_day
    assert any("12:30" in r for r in v.reasons)


def test_plan_hours_end_at_calendar_close_only_on_early_close_days():
    day = LOOKUP(date(2026, 3, 10))
    start, end = market_hours(day, MARKET)
    assert (start, end) == (ist(2026, 3, 10, 9, 30), ist(2026, 3, 10, 18))
    # a plan with longer hours than the session still uses its own hours on a full day
    wide = Market(hours=DailyWindow(start="08:00", end="19:00"))
    assert market_hours(day, wide) == (ist(2026, 3, 10, 8), ist(2026, 3, 10, 19))
    half = LOOKUP(date(2026, 10, 28))
    assert market_hours(half, wide) == (ist(2026, 10, 28, 8), ist(2026, 10, 28, 12, 30))


def test_beyond_the_calendar_is_possibly_trading_and_says_so():
    v = check(ist(2028, 2, 1, 12))
    assert not v.calendar_known and v.market_open and v.session_day
    assert not v.schema_change and v.canary  # fail closed for schema changes only
    assert any("treated as possibly trading" in r for r in v.reasons)
    assert check(ist(2028, 2, 1, 19)).schema_change


def test_evaluate_refuses_facts_for_another_day():
    with pytest.raises(ValueError, match="calendar facts"):
        evaluate(ist(2026, 3, 10, 12), MARKET, MarketDay(day=date(2026, 3, 11)))


def test_naive_instant_is_refused():
    with pytest.raises(ValueError, match="no UTC offset"):
        check(datetime(2026, 3, 10, 12))


# --------------------------------------------------------------------------- DST weeks


def test_offset_changes_finds_the_instant_to_the_second():
    (ch,) = offset_changes("Europe/London", datetime(2026, 3, 23, tzinfo=UTC),
                           datetime(2026, 3, 30, tzinfo=UTC))
    assert ch.at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert (ch.before, ch.after) == (timedelta(0), timedelta(hours=1))
    (ny,) = offset_changes("America/New_York", datetime(2026, 10, 26, tzinfo=UTC),
                           datetime(2026, 11, 2, tzinfo=UTC))
    assert ny.at == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "dst_week"),
    [
        (ist(2026, 3, 23, 0, 0), True),  # Monday of London's spring week (change Sun 29 Mar)
        (ist(2026, 3, 29, 23, 59, 59), True),
        (ist(2026, 3, 30, 0, 0), False),  # next Monday
        (ist(2026, 3, 22, 23, 59, 59), False),
        (ist(2026, 3, 8, 23, 59, 59), True),  # New York changes Sun 8 Mar 10:00 Istanbul
        (ist(2026, 3, 9, 0, 0), False),
        (ist(2026, 10, 19, 0, 0), True),  # London autumn (Sun 25 Oct)
        (ist(2026, 10, 26, 0, 0), True),  # New York autumn (Sun 1 Nov): two DST weeks in a row
        (ist(2026, 11, 2, 0, 0), False),
        (ist(2026, 6, 15, 12, 0), False),
    ],
)
def test_dst_week_boundaries(at, dst_week):
    assert check(at).dst_week is dst_week


def test_istanbul_itself_counts_when_it_changed_clocks():
    m = Market(dst_watch_zones=("Europe/Istanbul",))
    # Turkey's last change: 2016-09-07 became permanent +03; before that, e.g. 2015-11-08 04:00 local
    changes = dst_changes(ist(2015, 11, 4, 12), m)
    assert [c.zone for c in changes] == ["Europe/Istanbul"]
    assert not dst_changes(ist(2026, 3, 25, 12), m)


def test_week_bounds_are_istanbul_mondays():
    start, end = week_bounds(datetime(2026, 3, 22, 21, 30, tzinfo=UTC), MARKET)  # Mon 00:30 Istanbul
    assert start == ist(2026, 3, 23) and end == ist(2026, 3, 30)


@pytest.mark.parametrize(
    ("at", "canary"),
    [
        (ist(2026, 3, 24, 5, 59, 59), False),
        (ist(2026, 3, 24, 6, 0), True),
        (ist(2026, 3, 24, 9, 59, 59), True),
        (ist(2026, 3, 24, 10, 0), False),
        (ist(2026, 3, 28, 7, 0), True),  # Saturday morning of a DST week
        (ist(2026, 3, 31, 20, 0), True),  # not a DST week: any time
    ],
)
def test_dst_week_morning_window(at, canary):
    v = check(at)
    assert v.canary is canary
    if not canary:
        assert any("morning window" in r for r in v.reasons)


def test_canary_is_preferred_outside_market_hours_only():
    assert not check(ist(2026, 3, 10, 12)).canary_preferred  # allowed, but a warning
    assert check(ist(2026, 3, 10, 12)).canary
    assert check(ist(2026, 3, 10, 19)).canary_preferred
    morning = check(ist(2026, 3, 24, 9, 45))  # DST week, morning window overlaps market hours
    assert morning.canary and not morning.canary_preferred


# --------------------------------------------------------------------------- next allowed moment


def test_next_canary_window_in_a_dst_week():
    assert next_allowed(Activity.CANARY, ist(2026, 3, 24, 10), MARKET, LOOKUP) == ist(2026, 3, 25, 6)
    assert next_allowed(Activity.CANARY, ist(2026, 3, 24, 3), MARKET, LOOKUP) == ist(2026, 3, 24, 6)
    at = ist(2026, 3, 24, 7)
    assert next_allowed(Activity.CANARY, at, MARKET, LOOKUP) == at


def test_next_canary_window_after_the_last_dst_morning_is_the_next_monday():
    # Sunday 29 Mar 2026 after 10:00: the next week is not a DST week, so Monday 00:00
    assert next_allowed(Activity.CANARY, ist(2026, 3, 29, 11), MARKET, LOOKUP) == ist(2026, 3, 30)
    # Sunday 25 Oct: the next week is New York's DST week, so Monday 06:00
    assert next_allowed(Activity.CANARY, ist(2026, 10, 25, 11), MARKET, LOOKUP) == ist(2026, 10, 26, 6)


def test_next_schema_change_window():
    assert next_allowed(Activity.SCHEMA_CHANGE, ist(2026, 3, 10, 12), MARKET, LOOKUP) == ist(2026, 3, 10, 18)
    half_day = next_allowed(Activity.SCHEMA_CHANGE, ist(2026, 10, 28, 11), MARKET, LOOKUP)
    assert half_day == ist(2026, 10, 28, 12, 30)
    assert next_allowed(Activity.ROLLBACK, ist(2026, 3, 10, 12), MARKET, LOOKUP) == ist(2026, 3, 10, 12)


def test_preferred_canary_window():
    got = next_allowed(Activity.CANARY, ist(2026, 3, 10, 12), MARKET, LOOKUP, preferred=True)
    assert got == ist(2026, 3, 10, 18)


# --------------------------------------------------------------------------- whole-plan fit


STAGES = [ScheduledStep(f"stage {i + 1}", timedelta(minutes=15 * i), Activity.CANARY) for i in range(5)]
STEPS = [
    ScheduledStep("freeze", timedelta(minutes=-30)),
    ScheduledStep("preflight", timedelta(minutes=-10)),
    *STAGES,
    ScheduledStep("promoted", timedelta(minutes=90)),
]


def test_plan_fits_marks_each_step():
    checks = plan_fits(STEPS, ist(2026, 3, 24, 9), MARKET, LOOKUP)  # DST week: stages 09:00..10:00
    marks = {c.step.name: c.allowed for c in checks}
    assert marks["freeze"] and marks["promoted"]
    assert [marks[f"stage {i}"] for i in range(1, 6)] == [True, True, True, True, False]
    last = checks[-2]
    assert "morning window" in last.reason
    assert checks[0].reason == "no market restriction"


def test_next_fitting_start_in_a_dst_week():
    # T0 + 60 min must start before 10:00: the latest T0 is 09:00, so from 09:01 it is tomorrow 06:00
    assert next_fitting_start(STEPS, ist(2026, 3, 24, 9, 1), MARKET, LOOKUP) == ist(2026, 3, 25, 6)
    at = ist(2026, 3, 24, 8)
    assert next_fitting_start(STEPS, at, MARKET, LOOKUP) == at


def test_next_fitting_start_preferring_off_market_hours():
    got = next_fitting_start(STEPS, ist(2026, 3, 10, 10), MARKET, LOOKUP, require_preferred=True)
    assert got == ist(2026, 3, 10, 18)
    # in a DST week the preferred start must end its stages before 09:30 and start after 06:00
    got = next_fitting_start(STEPS, ist(2026, 3, 24, 8, 31), MARKET, LOOKUP, require_preferred=True)
    assert got == ist(2026, 3, 25, 6)


def test_schema_step_fits_after_the_close():
    steps = [ScheduledStep("migrate", timedelta(minutes=45), Activity.SCHEMA_CHANGE)]
    assert next_fitting_start(steps, ist(2026, 3, 10, 12), MARKET, LOOKUP) == ist(2026, 3, 10, 17, 15)
