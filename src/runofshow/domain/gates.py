"""Threshold gates: one observation against its gate -> a MetricVerdict with a reason.

Also the one place that decides whether a raw sample can be believed: counter resets (negative
counts or requests), percentages outside 0..100 and ticks with almost no requests carry no
information, and become NoData rather than a pass or a breach.
"""

from __future__ import annotations

import math

from runofshow.domain.rules import Gate, GateKind
from runofshow.domain.tick import MetricVerdict, TrackSample, Verdict

MIN_REQUESTS = 3
"""A tick with 0..2 requests says nothing about per-request metrics (FORMAT.md data quality)."""

PER_REQUEST = (GateKind.LATENCY, GateKind.RATE, GateKind.COUNT)


def valid_requests(sample: TrackSample | None) -> float | None:
    """The request count if it can be believed (a number >= MIN_REQUESTS), else None."""
    if sample is None or sample.requests is None:
        return None
    n = sample.requests
    if not math.isfinite(n) or n < MIN_REQUESTS:
        return None
    return n


def valid_denominator(sample: TrackSample | None, metric: str) -> float | None:
    """What a rate metric divides by (its own denominator, else requests), if it can be believed."""
    if sample is None:
        return None
    n = sample.denominator(metric)
    if n is None or not math.isfinite(n) or n < MIN_REQUESTS:
        return None
    return n


def clean_value(gate: Gate, sample: TrackSample | None, metric: str) -> float | None:
    """The metric's value if it is real data, else None (NoData).

    Per-request metrics need a believable request count when requests are reported at all;
    percentages must lie in 0..100; counts and levels must not be negative.
    """
    if sample is None:
        return None
    v = sample.value(metric)
    if v is None or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    if gate.kind in PER_REQUEST and sample.requests is not None and valid_requests(sample) is None:
        return None
    if v < 0:
        return None
    if gate.kind is GateKind.RATE or gate.unit == "%":
        if v > 100:
            return None
    if gate.kind is GateKind.LATENCY and v == 0:
        return None
    return float(v)


def fmt(gate: Gate, value: float | None) -> str:
    """A value with its unit, as people read it: 412 ms, 1.25 %, 12 per tick, 31 s."""
    if value is None:
        return "no data"
    if abs(value) >= 100 or gate.kind is GateKind.COUNT:
        num = f"{value:.0f}"
    elif abs(value) >= 10:
        num = f"{value:.1f}".rstrip("0").rstrip(".")
    else:
        num = f"{value:.3g}"
    unit = gate.unit
    if not unit:
        return num
    if unit == "%":
        return f"{num} %"
    return f"{num} {unit}"


def threshold_verdict(name: str, gate: Gate, canary: float | None, baseline: float | None) -> MetricVerdict:
    """The plain gate: canary against the threshold. NoData is never a pass."""
    if canary is None:
        return MetricVerdict(name, Verdict.NODATA, None, baseline, f"{name}: no canary data")
    limit = fmt(gate, gate.threshold)
    if gate.breaches(canary):
        side = ">" if gate.badness(canary) > gate.badness(gate.threshold) else "<"
        base = f" (baseline {fmt(gate, baseline)})" if baseline is not None else ""
        return MetricVerdict(
            name, Verdict.FAIL, canary, baseline, f"{name} canary {fmt(gate, canary)} {side} {limit}{base}"
        )
    why = f"{name} canary {fmt(gate, canary)} within {limit}"
    return MetricVerdict(name, Verdict.PASS, canary, baseline, why)
