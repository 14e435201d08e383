"""Clocks: the one place the runner reads the wall clock or waits.

Two times matter to a run. *Plan time* is the time the plan speaks in (holds of 15 min, ticks
every 60 s, T-30 .. T+24h); *wall time* is what a wristwatch shows. They are the same for a real
run. `--speed N` runs compress plan time: N plan seconds pass for every wall second, so every
duration of the plan (holds, ticks, T-minus offsets, the first night) shrinks by N.

    SystemClock          plan time == wall time
    CompressedClock(N)   plan time = anchor + (wall - anchor) * N; `sleep(s)` waits s / N wall seconds

Beyond the `Clock` port (`now`, `sleep`) the runner uses `speed`, `to_wall(at)` (a plan-time
instant as wall time, for the ledger's `at` and for adapters that query real systems), its inverse
`to_plan(wall)` (a wall instant the world reported, such as an alert's start, as plan time), and
`wait(event, seconds)` (sleep that an alert or a Ctrl-C can cut short). The ledger keeps each
run's clock (`clock_params`) so that `resume` can carry plan time on (`resumed_clock`). `FakeClock` in
`runofshow.adapters.memory` has the same shape and moves only when told.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable


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

    def to_plan(self, wall: datetime) -> datetime:
        """The plan-time instant of the wall-clock instant `wall` (the inverse of `to_wall`)."""
        ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait up to `seconds` of plan time or until `event` is set; True when it was set."""
        ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SystemClock:
    """The real clock: plan time is wall time (UTC). A test may hand in its own `now` and `sleep`
    (a process that decides at a given instant)."""

    speed: float = 1.0
    realtime = True  # waits take wall time (a fake clock's do not)

    def __init__(self, now: Callable[[], datetime] | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self._now = now or _utc_now
        self._sleep = sleep or time.sleep

    def now(self) -> datetime:
        return self._now()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)

    def to_wall(self, at: datetime) -> datetime:
        return at

    def to_plan(self, wall: datetime) -> datetime:
        return wall

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds))


class CompressedClock:
    """Plan time running `speed` times faster than the wall clock.

    At the wall instant `anchor_at` plan time is `plan_at` (by default the same instant); from
    there plan time runs `speed` times faster. A resumed run re-anchors where the previous clock
    had got to (`resumed_clock`), so plan time never goes back and the time the process was down
    counts, compressed like the rest.
    """

    def __init__(self, speed: float, anchor_at: datetime | None = None, *,
                 plan_at: datetime | None = None, wall: RunClock | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be more than 0, not {speed!r}")
        self.speed = float(speed)
        self._wall: RunClock = wall or SystemClock()
        self.anchor_at = anchor_at or self._wall.now()
        self.plan_at = plan_at or self.anchor_at
        if self.anchor_at.tzinfo is None or self.plan_at.tzinfo is None:
            raise ValueError("anchor_at and plan_at must be timezone-aware")

    @property
    def realtime(self) -> bool:
        """Its waits take wall time when its wall clock's do."""
        return bool(getattr(self._wall, "realtime", False))

    def now(self) -> datetime:
        return self.to_plan(self._wall.now())

    def sleep(self, seconds: float) -> None:
        self._wall.sleep(seconds / self.speed)

    def to_wall(self, at: datetime) -> datetime:
        return self.anchor_at + (at - self.plan_at) / self.speed

    def to_plan(self, wall: datetime) -> datetime:
        return self.plan_at + (wall - self.anchor_at) * self.speed

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return self._wall.wait(event, seconds / self.speed)

    def set_speed(self, speed: float) -> None:
        """Run at `speed` from now on; plan time carries on from where it is."""
        if not speed > 0:
            raise ValueError(f"speed must be more than 0, not {speed!r}")
        wall = self._wall.now()
        self.plan_at = self.plan_at + (wall - self.anchor_at) * self.speed
        self.anchor_at, self.speed = wall, float(speed)


def clock_for(speed: float | None) -> RunClock:
    """The clock for a new run with `--speed N`: the system clock at 1 (or None), else compressed."""
    if speed is None or speed == 1:
        return SystemClock()
    return CompressedClock(speed)


def clock_params(clock: RunClock) -> dict[str, Any]:
    """What the ledger keeps of a clock so that a resumed run's plan time carries on."""
    wall_now = clock.to_wall(clock.now())
    anchor = getattr(clock, "anchor_at", wall_now)
    plan_at = getattr(clock, "plan_at", anchor)
    return {"speed": clock.speed, "anchor_at": anchor.isoformat(), "plan_anchor_at": plan_at.isoformat()}


def resumed_clock(recorded: Mapping[str, Any], speed: float | None = None,
                  wall: RunClock | None = None) -> RunClock:
    """The clock for a resumed run: plan time goes on from where the recorded clock has got to by
    now (the time the process was down counts); `speed` (default: the recorded one) applies from
    now on. `wall` is the wall clock (the system's unless a test gives one)."""
    old_speed = float(recorded.get("speed", 1.0))
    anchor = datetime.fromisoformat(recorded["anchor_at"])
    plan_anchor = datetime.fromisoformat(recorded.get("plan_anchor_at") or recorded["anchor_at"])
    wall_now = wall.now() if wall is not None else datetime.now(UTC)
    plan_now = plan_anchor + (wall_now - anchor) * old_speed
    new_speed = speed or old_speed
    if wall is None and new_speed == 1 and abs((plan_now - wall_now).total_seconds()) < 1e-3:
        return SystemClock()
    return CompressedClock(new_speed, wall_now, plan_at=plan_now, wall=wall)


__all__ = ["CompressedClock", "RunClock", "SystemClock", "clock_for", "clock_params", "resumed_clock"]
