"""Clocks: the one place the runner reads the wall clock or waits.

Two times matter to a run. *Plan time* is the time the plan speaks in (holds of 15 min, ticks
every 60 s, T-30 .. T+24h); *wall time* is what a wristwatch shows. They are the same for a real
run. `--speed N` runs compress plan time: N plan seconds pass for every wall second, so every
duration of the plan (holds, ticks, T-minus offsets, the first night) shrinks by N.

    SystemClock          plan time == wall time
    CompressedClock(N)   plan time = anchor + (wall - anchor) * N; `sleep(s)` waits s / N wall seconds

Beyond the `Clock` port (`now`, `sleep`) the runner uses `speed`, `to_wall(at)` (a plan-time
instant as wall time, for the ledger's `at` and for adapters that query real systems) and
`wait(event, seconds)` (sleep that an alert or a Ctrl-C can cut short). `FakeClock` in
`runofshow.adapters.memory` has the same shape and moves only when told.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class RunClock(Protocol):
    """The `Clock` port plus what a run needs to map plan time to wall time."""

    speed: float

    def now(self) -> datetime:
        """Plan time, timezone-aware."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` of plan time."""
        ...

    def to_wall(self, at: datetime) -> datetime:
        """The wall-clock instant of the plan-time instant `at`."""
        ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait up to `seconds` of plan time or until `event` is set; True when it was set."""
        ...


class SystemClock:
    """The real clock: plan time is wall time (UTC)."""

    speed: float = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def to_wall(self, at: datetime) -> datetime:
        return at

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds))


class CompressedClock:
    """Plan time running `speed` times faster than the wall clock.

    `anchor_at` is the wall instant where plan time and wall time agree; a resumed run passes the
    anchor it recorded when it started, so plan time carries on where it was (the time the
    process was down counts, compressed like the rest).
    """

    def __init__(self, speed: float, anchor_at: datetime | None = None, *,
                 wall: SystemClock | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be more than 0, not {speed!r}")
        self.speed = float(speed)
        self._wall = wall or SystemClock()
        self.anchor_at = anchor_at or self._wall.now()
        if self.anchor_at.tzinfo is None:
            raise ValueError("anchor_at must be timezone-aware")

    def now(self) -> datetime:
        return self.anchor_at + (self._wall.now() - self.anchor_at) * self.speed

    def sleep(self, seconds: float) -> None:
        self._wall.sleep(seconds / self.speed)

    def to_wall(self, at: datetime) -> datetime:
        return self.anchor_at + (at - self.anchor_at) / self.speed

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return self._wall.wait(event, seconds / self.speed)

    def wall_seconds(self, plan_seconds: float) -> float:
        return plan_seconds / self.speed


def clock_for(speed: float | None, anchor_at: datetime | None = None) -> RunClock:
    """The clock for `--speed N`: the system clock at 1 (or None), a compressed one otherwise."""
    if speed is None or speed == 1:
        return SystemClock()
    return CompressedClock(speed, anchor_at)


def wall_seconds(clock: RunClock, plan_seconds: float) -> float:
    """How long `plan_seconds` of plan time last on the wall clock."""
    return plan_seconds / clock.speed


def seconds(delta: timedelta) -> float:
    return delta.total_seconds()


__all__ = ["CompressedClock", "RunClock", "SystemClock", "clock_for", "seconds", "wall_seconds"]
