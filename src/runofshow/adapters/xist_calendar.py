"""The market calendar from `exchange_calendars` (Borsa Istanbul: "XIST") behind `MarketCalendar`.

XIST models the 10:00-18:00 continuous session in Europe/Istanbul, closes at 12:30 on half days
(the eves of Ramazan and Kurban Bayrami and of Republic Day) and covers about twenty years back and
one year ahead. Past its last session a day is `known=False`: the core treats it as possibly
trading. `exchange_calendars` (and pandas) load lazily, once per calendar name.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from runofshow.domain.windows import MarketDay
from runofshow.errors import InputError

_LOCK = threading.RLock()


@contextmanager
def _quiet() -> Iterator[None]:
    """pandas deprecation warnings raised inside exchange_calendars are not ours to act on."""
    with _LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            from pandas.errors import Pandas4Warning

            warnings.simplefilter("ignore", Pandas4Warning)
        except ImportError:  # older pandas
            pass
        yield

# Names for XIST's unnamed ad-hoc holidays (the Bayram days come from lunar tables).
_BAYRAM_NAMES = (
    ("eid_al_fitr_first_day", "Ramazan Bayrami", 3),
    ("eid_al_adha_first_day", "Kurban Bayrami", 4),
)


@lru_cache(maxsize=8)
def _calendar(name: str) -> Any:
    with _quiet():
        import exchange_calendars as xcals

        try:
            return xcals.get_calendar(name)
        except xcals.errors.InvalidCalendarName:
            raise InputError(f"market.calendar: unknown exchange calendar '{name}'") from None


@lru_cache(maxsize=8)
def _adhoc_names(name: str) -> dict[date, str]:
    """Bayram day -> name, for the calendar's ad-hoc holidays (XIST's Bayram holidays carry none)."""
    if name != "XIST":
        return {}
    with _quiet():
        from exchange_calendars import common_holidays

    names: dict[date, str] = {}
    for attr, label, days in _BAYRAM_NAMES:
        for first in getattr(common_holidays, attr, []):
            for i in range(days):
                names[(first + timedelta(days=i)).date()] = f"{label} (day {i + 1})"
            eve = (first - timedelta(days=1)).date()
            names.setdefault(eve, f"{label} eve")
    return names


class XistMarketCalendar:
    """`MarketCalendar` over an `exchange_calendars` calendar (XIST by default)."""

    def __init__(self, name: str = "XIST") -> None:
        self._name = name
        self._days: dict[date, MarketDay] = {}
        self._holiday_years: dict[int, dict[date, str]] = {}

    @property
    def name(self) -> str:
        return self._name

    @property
    def _cal(self) -> Any:
        return _calendar(self._name)

    def bounds(self) -> tuple[date, date]:
        with _quiet():
            cal = self._cal
            return cal.first_session.date(), cal.last_session.date()

    def _named_holidays(self, year: int) -> dict[date, str]:
        if year not in self._holiday_years:
            with _quiet():
                regular = self._cal.regular_holidays.holidays(
                    f"{year}-01-01", f"{year}-12-31", return_name=True
                )
            self._holiday_years[year] = {ts.date(): str(n) for ts, n in regular.items()}
        return self._holiday_years[year]

    def _holiday_name(self, day: date) -> str:
        named = self._named_holidays(day.year).get(day)
        if named:
            return named
        return _adhoc_names(self._name).get(day, "market holiday")

    def market_day(self, day: date) -> MarketDay:
        if day not in self._days:
            with _quiet():
                self._days[day] = self._market_day(day)
        return self._days[day]

    def _market_day(self, day: date) -> MarketDay:
        first, last = self.bounds()
        if not first <= day <= last:
            side = f"after the {self._name} calendar's last session ({last})" if day > last else \
                f"before the {self._name} calendar's first session ({first})"
            return MarketDay(day=day, known=False, note=f"is {side}")
        cal = self._cal
        label = day.isoformat()
        if not cal.is_session(label):
            holiday = None if day.weekday() >= 5 else self._holiday_name(day)
            return MarketDay(day=day, session=False, holiday=holiday)
        open_at: datetime = cal.session_open(label).to_pydatetime()
        close_at: datetime = cal.session_close(label).to_pydatetime()
        regular_close = datetime.combine(day, cal.close_times[-1][1], tzinfo=cal.tz)
        early = close_at < regular_close
        note = ""
        if early:
            republic_eve = self._name == "XIST" and (day.month, day.day) == (10, 28)
            note = "Republic Day eve" if republic_eve else _adhoc_names(self._name).get(day, "half day")
        return MarketDay(
            day=day, session=True, open_at=open_at, close_at=close_at, early_close=early, note=note,
        )
