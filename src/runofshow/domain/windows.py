"""Market-aware windows: may a canary stage start, a schema change run, a rollback go, at `at`?

Pure: every function takes the instant and the calendar facts it needs (`MarketDay`, or a
`DayLookup` that returns one per Istanbul-local date); nothing here reads a clock or a calendar
library. Local times use `zoneinfo`. The rules, from the run-of-show:

- market hours are the plan's hours (default 09:30-18:00 Europe/Istanbul) on the calendar's session
  days, ending at the calendar's close on early-close days (12:30 on XIST half days). A day beyond
  the calendar's range counts as possibly trading (fail closed);
- a DST week is the Istanbul-local Monday 00:00 to next Monday 00:00 in which any watch zone changes
  its UTC offset; in it canary stages may start only inside the morning window (06:00-10:00);
- schema changes only outside market hours; canary stages preferred outside market hours (a
  warning, not a block); rollback always.

Intervals are half-open: market hours [09:30, 18:00), the morning window [06:00, 10:00).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from runofshow.domain.market import Market


class Activity(StrEnum):
    CANARY = "canary"
    SCHEMA_CHANGE = "schema_change"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class MarketDay:
    """What the market calendar says about one local date.

    known=False: the date is outside the calendar's range; the day is treated as possibly
    trading the plan's hours. `note` says why (e.g. which calendar, where it ends).
    """

    day: date
    session: bool = False
    holiday: str | None = None
    open_at: datetime | None = None
    close_at: datetime | None = None
    early_close: bool = False
    known: bool = True
    note: str = ""


DayLookup = Callable[[date], MarketDay]


@dataclass(frozen=True)
class DstChange:
    zone: str
    at: datetime  # the first instant (UTC) with the new offset
    before: timedelta
    after: timedelta


@dataclass(frozen=True)
class WindowVerdict:
    at: datetime
    market_open: bool
    session_day: bool
    holiday: str | None
    early_close: bool
    dst_week: bool
    canary: bool
    schema_change: bool
    canary_preferred: bool
    reasons: tuple[str, ...]
    calendar_known: bool = True
    dst_changes: tuple[DstChange, ...] = ()
    rollback: bool = True

    def allows(self, activity: Activity) -> bool:
        if activity is Activity.CANARY:
            return self.canary
        if activity is Activity.SCHEMA_CHANGE:
            return self.schema_change
        return True


# --------------------------------------------------------------------------- local time


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} has no UTC offset")


def local(at: datetime, market: Market) -> datetime:
    _require_aware(at)
    return at.astimezone(ZoneInfo(market.timezone))


def local_date(at: datetime, market: Market) -> date:
    return local(at, market).date()


def at_local(day: date, hhmm: time, market: Market) -> datetime:
    """The instant of `hhmm` on local `day` (the earlier one if the clock repeats)."""
    return datetime.combine(day, hhmm, tzinfo=ZoneInfo(market.timezone))


def _fmt(t: time) -> str:
    return t.strftime("%H:%M")


# --------------------------------------------------------------------------- DST weeks


def week_bounds(at: datetime, market: Market) -> tuple[datetime, datetime]:
    """Local Monday 00:00 and the next Monday 00:00 around `at` (as instants)."""
    d = local_date(at, market)
    monday = d - timedelta(days=d.weekday())
    return at_local(monday, time(0), market), at_local(monday + timedelta(days=7), time(0), market)


def _offset(zone: ZoneInfo, ts: int) -> timedelta:
    off = datetime.fromtimestamp(ts, UTC).astimezone(zone).utcoffset()
    assert off is not None
    return off


def offset_changes(zone_name: str, start: datetime, end: datetime) -> tuple[DstChange, ...]:
    """Every UTC-offset change of `zone_name` at an instant in [start, end), to the second.

    Samples every 6 hours and bisects where the offset differs, so two changes less than six
    hours apart (which no real zone has) would be seen as one or none.
    """
    zone = ZoneInfo(zone_name)
    lo_end, hi_end = int(start.timestamp()) - 1, int(end.timestamp()) - 1
    samples = list(range(lo_end, hi_end, 6 * 3600)) + [hi_end]
    found: list[DstChange] = []
    for a, b in zip(samples, samples[1:], strict=False):
        off_a, off_b = _offset(zone, a), _offset(zone, b)
        if off_a == off_b:
            continue
        lo, hi = a, b  # offset(lo) == off_a, offset(hi) != off_a
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset(zone, mid) == off_a:
                lo = mid
            else:
                hi = mid
        found.append(DstChange(zone_name, datetime.fromtimestamp(hi, UTC), off_a, _offset(zone, hi)))
    return tuple(found)


@lru_cache(maxsize=512)
def _week_changes(start: datetime, end: datetime, zones: tuple[str, ...]) -> tuple[DstChange, ...]:
    return tuple(c for z in zones for c in offset_changes(z, start, end))


def dst_changes(at: datetime, market: Market) -> tuple[DstChange, ...]:
    """The watch zones' UTC-offset changes in the local week around `at` (empty: not a DST week)."""
    start, end = week_bounds(at, market)
    return _week_changes(start.astimezone(UTC), end.astimezone(UTC), tuple(market.dst_watch_zones))


def in_morning_window(at: datetime, market: Market) -> bool:
    t = local(at, market).time()
    w = market.dst_morning_window
    return w.start_time <= t < w.end_time


# --------------------------------------------------------------------------- market hours


def market_hours(day: MarketDay, market: Market) -> tuple[datetime, datetime] | None:
    """The plan's market hours on `day` as [start, end) instants, or None when nothing trades.

    Session days: the plan's hours, ending at the calendar's close on early-close days. Days the
    calendar does not know: the plan's hours (possibly trading).
    """
    if day.known and not day.session:
        return None
    start = at_local(day.day, market.hours.start_time, market)
    end = at_local(day.day, market.hours.end_time, market)
    if day.known and day.early_close and day.close_at is not None:
        end = min(end, day.close_at)
    return (start, end) if start < end else None


def evaluate(at: datetime, market: Market, day: MarketDay) -> WindowVerdict:
    """The window verdict at `at`. `day` must be the calendar's facts for `at`'s local date."""
    here = local(at, market)
    if day.day != here.date():
        raise ValueError(f"calendar facts are for {day.day}, but {at.isoformat()} is {here.date()} locally")
    zone = market.timezone
    reasons: list[str] = []
    if not day.known:
        note = day.note or "is beyond the market calendar"
        reasons.append(f"{day.day} {note}: treated as possibly trading")
    elif day.holiday:
        reasons.append(f"{day.day} is a market holiday ({day.holiday})")
    elif not day.session:
        what = "a weekend" if day.day.weekday() >= 5 else "not a session day"
        reasons.append(f"{day.day} is {what}: the market does not trade")
    elif day.early_close and day.close_at is not None:
        close = day.close_at.astimezone(ZoneInfo(zone)).time()
        what = f"a half day ({day.note})" if day.note else "a half day"
        reasons.append(f"{day.day} is {what}: the market closes at {_fmt(close)}")

    hours = market_hours(day, market)
    market_open = hours is not None and hours[0] <= at < hours[1]
    if hours is not None:
        span = f"{_fmt(hours[0].astimezone(ZoneInfo(zone)).time())}-" \
               f"{_fmt(hours[1].astimezone(ZoneInfo(zone)).time())} {zone}"
        reasons.append(f"{'inside' if market_open else 'outside'} market hours {span}")

    changes = dst_changes(at, market)
    dst_week = bool(changes)
    morning = in_morning_window(at, market)
    w = market.dst_morning_window
    if dst_week:
        zones = ", ".join(sorted({f"{c.zone} ({c.at.astimezone(ZoneInfo(c.zone)):%a %d %b})"
                                  for c in changes}))
        verb = "changes its UTC offset" if len({c.zone for c in changes}) == 1 else "change UTC offset"
        reasons.append(f"DST week: {zones} {verb}")
    canary = not dst_week or morning
    if not canary:
        reasons.append(
            f"canary blocked: DST week, outside the morning window {w.start}-{w.end} {zone}"
        )
    elif market_open:
        reasons.append("canary allowed, but preferred outside market hours")
    schema_change = not market_open
    if not schema_change:
        reasons.append("schema change blocked: market hours")
    return WindowVerdict(
        at=at, market_open=market_open, session_day=day.session or not day.known,
        holiday=day.holiday, early_close=day.early_close, dst_week=dst_week, canary=canary,
        schema_change=schema_change, canary_preferred=canary and not market_open,
        reasons=tuple(reasons), calendar_known=day.known, dst_changes=changes,
    )


def evaluate_at(at: datetime, market: Market, lookup: DayLookup) -> WindowVerdict:
    return evaluate(at, market, lookup(local_date(at, market)))


# --------------------------------------------------------------------------- next allowed moment


def day_edges(day: MarketDay, market: Market) -> tuple[datetime, ...]:
    """Instants on `day` where a verdict may change: midnight, the morning window, market hours."""
    w = market.dst_morning_window
    edges = [at_local(day.day, t, market) for t in (time(0), w.start_time, w.end_time)]
    hours = market_hours(day, market)
    if hours is not None:
        edges.extend(hours)
    return tuple(sorted(edges))


def _cached(lookup: DayLookup) -> DayLookup:
    memo: dict[date, MarketDay] = {}

    def get(d: date) -> MarketDay:
        if d not in memo:
            memo[d] = lookup(d)
        return memo[d]

    return get


def _edges_between(
    start: datetime, end: datetime, market: Market, lookup: DayLookup
) -> Iterable[datetime]:
    d, last = local_date(start, market), local_date(end, market)
    while d <= last:
        for e in day_edges(lookup(d), market):
            if start < e <= end:
                yield e
        d += timedelta(days=1)


def _ok(v: WindowVerdict, activity: Activity, preferred: bool) -> bool:
    if activity is Activity.CANARY and preferred:
        return v.canary_preferred
    return v.allows(activity)


def next_allowed(
    activity: Activity, at: datetime, market: Market, lookup: DayLookup, *,
    preferred: bool = False, horizon: timedelta = timedelta(days=14),
) -> datetime | None:
    """The first instant >= `at` at which `activity` may start (`at` itself when it may now).

    preferred=True asks for a canary moment outside market hours. None: nothing within `horizon`.
    """
    lookup = _cached(lookup)
    if _ok(evaluate_at(at, market, lookup), activity, preferred):
        return at
    for e in _edges_between(at, at + horizon, market, lookup):
        if _ok(evaluate_at(e, market, lookup), activity, preferred):
            return e
    return None


# --------------------------------------------------------------------------- whole-plan fit


@dataclass(frozen=True)
class ScheduledStep:
    """A timeline step: starts `offset` after T0; `activity` None means no market restriction."""

    name: str
    offset: timedelta
    activity: Activity | None = None


@dataclass(frozen=True)
class StepCheck:
    step: ScheduledStep
    at: datetime
    allowed: bool
    preferred: bool
    verdict: WindowVerdict

    @property
    def reason(self) -> str:
        if self.step.activity is None:
            return "no market restriction"
        blocked = [r for r in self.verdict.reasons if "blocked" in r or "preferred" in r]
        return "; ".join(blocked) or "allowed"


def plan_fits(
    steps: Sequence[ScheduledStep], t0: datetime, market: Market, lookup: DayLookup
) -> tuple[StepCheck, ...]:
    """Each step placed at `t0 + offset`, with whether its activity may start then.

    A step with no activity is always allowed; `preferred` is False only for a canary stage
    inside market hours.
    """
    lookup = _cached(lookup)
    checks = []
    for s in steps:
        at = t0 + s.offset
        v = evaluate_at(at, market, lookup)
        if s.activity is None:
            checks.append(StepCheck(s, at, True, True, v))
        else:
            preferred = v.canary_preferred if s.activity is Activity.CANARY else v.allows(s.activity)
            checks.append(StepCheck(s, at, v.allows(s.activity), preferred, v))
    return tuple(checks)


def _fits(
    steps: Sequence[ScheduledStep], t0: datetime, market: Market, lookup: DayLookup, preferred: bool
) -> bool:
    return all(
        s.activity is None or _ok(evaluate_at(t0 + s.offset, market, lookup), s.activity, preferred)
        for s in steps
    )


def next_fitting_start(
    steps: Sequence[ScheduledStep], earliest: datetime, market: Market, lookup: DayLookup, *,
    require_preferred: bool = False, horizon: timedelta = timedelta(days=14),
) -> datetime | None:
    """The earliest T0 >= `earliest` at which every step may start (None within `horizon`).

    Allowed periods start at a day edge (half-open intervals), so the earliest fitting T0 is either
    `earliest` or some edge minus some step's offset; those are the only candidates tried.
    """
    lookup = _cached(lookup)
    restricted = [s for s in steps if s.activity is not None]
    candidates = {earliest}
    for s in restricted:
        for e in _edges_between(earliest + s.offset, earliest + s.offset + horizon, market, lookup):
            candidates.add(e - s.offset)
    for t0 in sorted(candidates, key=lambda c: c.timestamp()):
        if _fits(restricted, t0, market, lookup, require_preferred):
            return t0 if t0 == earliest else t0.astimezone(ZoneInfo(market.timezone))
    return None
