"""The one check every traffic router applies to a canary weight before acting on it."""

from __future__ import annotations

from typing import Any


def checked_weight(weight: Any) -> float:
    """`weight` as a float in 0..100 %; anything else (bool, NaN, inf, out of range) is a ValueError."""
    if isinstance(weight, bool) or not isinstance(weight, int | float | str):
        raise ValueError(f"weight must be a number, not {weight!r}")
    w = float(weight)
    if not 0.0 <= w <= 100.0:
        raise ValueError(f"weight must be between 0 and 100 %, not {weight!r}")
    return w
