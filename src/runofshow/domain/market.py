"""Market rules in the plan: the exchange calendar, trading hours and the daylight-saving watch
(the plan's `market`). Pure data; `runofshow.domain.windows` evaluates them."""

from __future__ import annotations

from datetime import time
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from runofshow.domain.model import FrozenModel


def _hhmm(v: str) -> str:
    try:
        time.fromisoformat(v)
    except ValueError:
        raise ValueError(f"'{v}' is not a time like 09:30") from None
    return v


HHMM = Annotated[str, Field(pattern=r"^\d{2}:\d{2}$")]


class DailyWindow(FrozenModel):
    start: HHMM
    end: HHMM

    @field_validator("start", "end")
    @classmethod
    def _t(cls, v: str) -> str:
        return _hhmm(v)

    @model_validator(mode="after")
    def _order(self) -> DailyWindow:
        if time.fromisoformat(self.start) >= time.fromisoformat(self.end):
            raise ValueError("start must be before end")
        return self

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)


def _zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{v}'") from None
    return v


class Market(FrozenModel):
    calendar: str = Field(default="XIST", min_length=1)
    timezone: str = "Europe/Istanbul"
    hours: DailyWindow = DailyWindow(start="09:30", end="18:00")
    dst_watch_zones: tuple[str, ...] = ("Europe/Istanbul", "Europe/London", "America/New_York")
    dst_morning_window: DailyWindow = DailyWindow(start="06:00", end="10:00")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _zone(v)

    @field_validator("dst_watch_zones")
    @classmethod
    def _zones(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_zone(z) for z in v)
