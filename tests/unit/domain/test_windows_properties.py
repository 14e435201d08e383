"""Properties of the window rules over many instants (hypothesis): random instants, DST transition
instants of every watch zone, week boundaries, 06:00/10:00, 09:30/18:00, 12:30 on half days,
holidays and weekends."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from runofshow.adapters.memory import FixedMarketCalendar
from runofshow.domain.market import Market
from runofshow.domain.windows import (
    Activity,
    ScheduledStep,
    evaluate_at,
    in_morning_window,
    local,
    next_allowed,
    next_fitting_start,
    offset_changes,
    plan_fits,
    week_bounds,
)

IST = ZoneInfo("Europe/Istanbul")
MARKET = Market()
HOLIDAYS = {
    date(2025, 1, 1): "New Year's Day", date(2025, 4, 23): "National Sovereignty and Children's Day",
    date(2025, 3, 31): "Ramazan Bayrami (day 1)", date(2025, 10, 29): "Republic Day",
    date(2026, 1, 1): "New Year's Day", date(2026, 5, 1): "Labour Day",
    date(2026, 5, 27): "Kurban Bayrami (day 1)", date(2026, 10, 29): "Republic Day",
}
HALF_DAYS = [date(2025, 6, 5), date(2025, 10, 28), date(2026, 3, 19), date(2026, 5, 26), date(2026, 10, 28)]
CAL = FixedMarketCalendar(holidays=HOLIDAYS, early_closes={d: time(12, 30) for d in HALF_DAYS},
                          first=date(2006, 11, 30), last=date(2027, 11, 30), name="XIST")
LOOKUP = CAL.market_day

FIRST, LAST = datetime(2007, 1, 1, tzinfo=UTC), datetime(2029, 12, 31, tzinfo=UTC)
OFFSETS = [timedelta(hours=h) for h in (-7, -5, -4, 0, 1, 3, 5.5, 9)]
instants = st.builds(
    lambda s, off: datetime.fromtimestamp(s, timezone(off)),
    st.integers(int(FIRST.timestamp()), int(LAST.timestamp())), st.sampled_from(OFFSETS),
)


def _transitions() -> list[datetime]:
    out = []
    for zone in MARKET.dst_watch_zones:
        for year in range(2007, 2030):
            start = datetime(year, 1, 1, tzinfo=UTC)
            out.extend(c.at for c in offset_changes(zone, start, start.replace(year=year + 1)))
    return out


TRANSITIONS = _transitions()


def _local_edges() -> list[datetime]:
    """Named local edges on many dates: 06:00, 09:30, 10:00, 12:30, 18:00, midnight."""
    out = []
    d = date(2024, 12, 30)
    while d < date(2027, 1, 4):
        for t in (time(0), time(6), time(9, 30), time(10), time(12, 30), time(18)):
            out.append(datetime.combine(d, t, tzinfo=IST))
        d += timedelta(days=1)
    return out


EDGES = _local_edges()
near = st.tuples(st.sampled_from(EDGES), st.sampled_from([-1, 0, 1])).map(
    lambda p: p[0] + timedelta(seconds=p[1])
)
around_transitions = st.tuples(st.sampled_from(TRANSITIONS), st.integers(-3 * 86400, 3 * 86400)).map(
    lambda p: p[0] + timedelta(seconds=p[1])
)
any_instant = st.one_of(instants, near, around_transitions)


def _expected_market_open(at: datetime) -> bool:
    here = local(at, MARKET)
    day = LOOKUP(here.date())
    if day.known and not day.session:
        return False
    t = here.time()
    end = time(12, 30) if day.known and day.early_close else time(18)
    return time(9, 30) <= t < end


@settings(max_examples=400, deadline=None)
@given(any_instant)
def test_rules_hold_everywhere(at):
    v = evaluate_at(at, MARKET, LOOKUP)
    assert v.rollback and v.allows(Activity.ROLLBACK)
    assert v.market_open is _expected_market_open(at)
    assert v.schema_change is (not v.market_open)
    assert v.canary is ((not v.dst_week) or in_morning_window(at, MARKET))
    assert v.canary_preferred is (v.canary and not v.market_open)
    if v.holiday:
        assert not v.session_day and not v.market_open
    if local(at, MARKET).weekday() >= 5 and v.calendar_known:
        assert not v.market_open and not v.session_day


@settings(max_examples=300, deadline=None)
@given(any_instant)
def test_dst_week_is_a_property_of_the_whole_istanbul_week(at):
    start, end = week_bounds(at, MARKET)
    assert start <= at < end
    assert local(start, MARKET).weekday() == 0 and local(start, MARKET).time() == time(0)
    first = evaluate_at(start, MARKET, LOOKUP).dst_week
    last = evaluate_at(end - timedelta(seconds=1), MARKET, LOOKUP).dst_week
    assert evaluate_at(at, MARKET, LOOKUP).dst_week is first is last
    zones = [ZoneInfo(z) for z in MARKET.dst_watch_zones]
    changed = any(start.astimezone(z).utcoffset() != (end - timedelta(seconds=1)).astimezone(z).utcoffset()
                  for z in zones)
    assert first is changed


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(TRANSITIONS), st.sampled_from([-1, 0, 1]))
def test_every_transition_instant_makes_its_week_a_dst_week(t, nudge):
    at = t + timedelta(seconds=nudge)
    start, end = week_bounds(at, MARKET)
    v = evaluate_at(at, MARKET, LOOKUP)
    if start <= t < end:
        assert v.dst_week
        assert any(c.at == t for c in v.dst_changes)


@settings(max_examples=200, deadline=None)
@given(any_instant, st.sampled_from([Activity.CANARY, Activity.SCHEMA_CHANGE]), st.booleans())
def test_next_allowed_is_allowed_and_nothing_earlier_is(at, activity, preferred):
    preferred = preferred and activity is Activity.CANARY
    got = next_allowed(activity, at, MARKET, LOOKUP, preferred=preferred)
    assert got is not None and got >= at
    v = evaluate_at(got, MARKET, LOOKUP)
    assert v.canary_preferred if preferred else v.allows(activity)
    if got > at:
        before = evaluate_at(got - timedelta(seconds=1), MARKET, LOOKUP)
        assert not (before.canary_preferred if preferred else before.allows(activity))
        mid = at + (got - at) / 2
        mv = evaluate_at(mid, MARKET, LOOKUP)
        assert not (mv.canary_preferred if preferred else mv.allows(activity))


STEPS = [ScheduledStep("freeze", timedelta(minutes=-30))] + [
    ScheduledStep(f"stage {i}", timedelta(minutes=15 * i), Activity.CANARY) for i in range(5)
]


@settings(max_examples=100, deadline=None)
@given(st.one_of(near, around_transitions), st.booleans())
def test_next_fitting_start_fits_and_is_not_before_earliest(at, preferred):
    got = next_fitting_start(STEPS, at, MARKET, LOOKUP, require_preferred=preferred)
    assert got is not None and got >= at
    checks = plan_fits(STEPS, got, MARKET, LOOKUP)
    assert all(c.allowed and (c.preferred or not preferred) for c in checks)
    if got > at:
        earlier = plan_fits(STEPS, got - timedelta(seconds=1), MARKET, LOOKUP)
        assert not all(c.allowed and (c.preferred or not preferred) for c in earlier)
