"""Trends: a robust slope, a projected threshold crossing, and counting breaches in a row.

Pure functions on plain sequences; O(n^2) Theil-Sen is fine for the few points of a trend window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median


@dataclass(frozen=True)
class Trend:
    """A line through the points: `value(t) = level + slope * (t - t_last)`."""

    slope: float  # units per second
    level: float  # the fitted value at the last point
    t_last: float
    points: int

    def at(self, t: float) -> float:
        return self.level + self.slope * (t - self.t_last)


def theil_sen(ts: Sequence[float], ys: Sequence[float]) -> Trend | None:
    """Theil-Sen line: the median of pairwise slopes, the median intercept. None below 3 points."""
    if len(ts) != len(ys):
        raise ValueError("ts and ys must have the same length")
    n = len(ts)
    if n < 3:
        return None
    slopes = [
        (ys[j] - ys[i]) / (ts[j] - ts[i])
        for i in range(n)
        for j in range(i + 1, n)
        if ts[j] != ts[i]
    ]
    if not slopes:
        return None
    slope = median(slopes)
    t_last = ts[-1]
    level = median(y - slope * (t - t_last) for t, y in zip(ts, ys, strict=True))
    return Trend(slope=slope, level=level, t_last=t_last, points=n)


def seconds_to_cross(trend: Trend, threshold: float, horizon_s: float) -> float | None:
    """Seconds from the last point until the fitted line reaches `threshold` (upward), if that
    happens within `horizon_s`. None when the line is flat or falling, or crosses later.
    A line already at or over the threshold crosses at 0."""
    if trend.level >= threshold:
        return 0.0 if trend.slope > 0 else None
    if trend.slope <= 0:
        return None
    dt = (threshold - trend.level) / trend.slope
    return dt if dt <= horizon_s else None


def projected_crossing(
    ts: Sequence[float], ys: Sequence[float], threshold: float, horizon_s: float
) -> float | None:
    """Theil-Sen over the points, then `seconds_to_cross`. None with fewer than 3 points."""
    trend = theil_sen(ts, ys)
    return None if trend is None else seconds_to_cross(trend, threshold, horizon_s)


def consecutive_breaches(values: Sequence[float | None], threshold: float) -> int:
    """How many of the last values, in a row, are over `threshold` (None ends the run)."""
    run = 0
    for v in reversed(values):
        if v is None or not v > threshold:
            break
        run += 1
    return run


def rising(values: Sequence[float], points: int = 3) -> bool:
    """True when each of the last `points` values is higher than the one before it."""
    if len(values) < points:
        return False
    tail = values[-points:]
    return all(b > a for a, b in zip(tail, tail[1:], strict=False))


def mann_kendall_z(ys: Sequence[float]) -> float:
    """How sure we are that `ys` rise (Mann-Kendall, no ties correction): S, the count of rising
    pairs minus falling pairs, over its standard deviation under "no trend". 0 below 3 points."""
    n = len(ys)
    if n < 3:
        return 0.0
    s = sum((ys[j] > ys[i]) - (ys[j] < ys[i]) for i in range(n) for j in range(i + 1, n))
    var = n * (n - 1) * (2 * n + 5) / 18
    if s == 0:
        return 0.0
    return (s - (1 if s > 0 else -1)) / math.sqrt(var)
