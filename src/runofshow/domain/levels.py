"""The scales the comparative judge (judge.py) reads each gate on, and how it weighs a level
(p95, WebSocket lag, pool utilisation): each tick's canary-vs-baseline difference with its noise
(`gauss_term`, the noise model fitted to the replay examples' clean ticks), pooled over a window
with the least favourable tick left out (or a share of the most adverse) and the rest winsorised
(`gauss_z`; `gauss_windows` gives every window of a scan in one pass). Pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from runofshow.domain.robust import Robustness, dropped, leaves_one_out
from runofshow.domain.rules import Direction, Gate, GateKind

POINTS_TOLERANCE = 0.0125  # of the threshold: pool within 1 point of the baseline is the same


class Scale(StrEnum):
    LOG = "log"  # ratio canary / baseline
    POINTS = "points"  # difference canary - baseline, in the metric's unit
    COUNTS = "counts"  # events per request


@dataclass(frozen=True)
class Noise:
    """Per-tick noise of the canary/baseline comparison for one kind of metric."""

    jitter: float  # sd per track at an even split (gauges) or per tick (latency)
    per_request: float = 0.0  # sampling sd times sqrt(requests) (latency)
    share_power: float = 0.0  # gauges: sd grows as (50 / share %) ** power
    per_level: float = 0.0  # points: sd per track grows by this share of the baseline's level...
    level_floor: float = 0.0  # ...above this share of the threshold (a shared surge lifts both pools
    # and the gap between them with them: +7 points at 65 % is not +7 points at 15 %)


LATENCY_NOISE = Noise(jitter=0.07, per_request=1.55)
POINTS_NOISE = Noise(jitter=1.4, share_power=0.3, per_level=0.05, level_floor=0.25)
"""Pool utilisation: the level term measured on seeds 7, 11, 23, 41 (500 each): false rollbacks 11 -> 7
of 1027 good (a shared surge or incident lifting both pools to 60-95 % with the canary's a few points
higher by chance), misses unchanged (48 of 973), leak and pool-regression delays unchanged."""
LOG_GAUGE_NOISE = Noise(jitter=0.18, share_power=0.2)


def scale_of(gate: Gate) -> Scale:
    if gate.kind in (GateKind.RATE, GateKind.COUNT):
        return Scale.COUNTS
    if gate.kind is GateKind.GAUGE and gate.unit == "%":
        return Scale.POINTS
    return Scale.LOG


def tolerance(gate: Gate, min_relative_effect: float) -> float:
    """Differences smaller than this are not held against the canary (judged scale)."""
    sc = scale_of(gate)
    if sc is Scale.POINTS:
        return POINTS_TOLERANCE * abs(gate.threshold)
    return math.log(1 + min_relative_effect / 2)


def gauss_term(gate: Gate, canary: float, baseline: float, nc: float | None, nb: float | None,
               weight: float) -> tuple[float, float]:
    """One tick of a level: (the canary's difference on the judged scale, worse positive; its variance)."""
    if scale_of(gate) is Scale.POINTS:
        d = canary - baseline
        noise = POINTS_NOISE
    else:
        off = 0.01 * abs(gate.threshold) if gate.kind is GateKind.GAUGE else 1e-9
        d = math.log((canary + off) / (baseline + off))
        noise = LATENCY_NOISE if gate.kind is GateKind.LATENCY else LOG_GAUGE_NOISE
    if noise.per_request:
        var = noise.jitter**2 + noise.per_request**2 * (1 / (nc or 30.0) + 1 / (nb or 30.0))
    else:
        wc = min(max(weight, 0.5), 99.5)
        power = 2 * noise.share_power
        var = noise.jitter**2 * ((50 / wc) ** power + (50 / (100 - wc)) ** power)
        raised = max(0.0, abs(baseline) - noise.level_floor * abs(gate.threshold))
        var += 2 * (noise.per_level * raised) ** 2
    return (d if gate.direction is Direction.LOWER_IS_BETTER else -d), var


def _part(d: float, var: float, tol: float, clip: float) -> tuple[float, float, float]:
    """One tick's share of a pooled level, winsorised at `clip` standard errors: (num, raw, den)."""
    s = max(-clip, min(clip, (d - tol) / math.sqrt(var)))
    return (tol + s * math.sqrt(var)) / var, d / var, 1 / var


def _pooled(num: float, raw: float, den: float, tol: float) -> tuple[float, float, float]:
    return (num / den - tol) * math.sqrt(den), raw / den, 1 / math.sqrt(den)


def _least_of_one_out(parts: Sequence[tuple[float, float, float]], num: float, raw: float, den: float,
                      tol: float) -> tuple[float, float, float]:
    """The pooled figures with one tick left out, the one whose absence leaves the smallest z (the
    newest of equals). Leaving out the tick of the largest score would not be monotone: with unequal
    variances, a worse tick of heavy weight can displace a noisy one and lower the z."""
    best_z, pick = math.inf, parts[0]
    for part in parts:  # inline: the scan asks this of every window, each tick
        n, _, e = part
        z = (num - n - tol * (den - e)) / math.sqrt(den - e)
        if z < best_z - 1e-9:  # equals (two ticks clipped alike) within rounding: the newest
            best_z, pick = z, part
    return _pooled(num - pick[0], raw - pick[1], den - pick[2], tol)


def gauss_z(
    terms: Sequence[tuple[float, float]], tol: float, rb: Robustness
) -> tuple[float, float, float]:
    """Leave out the most adverse tick(s), winsorise the rest, pool: (z, estimate, its se). One tick
    left out is the least favourable one (`_least_of_one_out`); more, the largest scores."""
    parts = [_part(d, var, tol, rb.clip) for d, var in terms]
    if leaves_one_out(len(terms), rb):
        num, raw, den = (sum(p[i] for p in parts) for i in range(3))
        return _least_of_one_out(parts[::-1], num, raw, den, tol)
    drop = dropped([(d - tol) / math.sqrt(v) for d, v in terms], rb)
    num, raw, den = (sum(p[i] for k, p in enumerate(parts) if k not in drop) for i in range(3))
    return _pooled(num, raw, den, tol)


def gauss_windows(
    terms: Sequence[tuple[float, float]], tol: float, rb: Robustness, longest: int
) -> list[tuple[float, float, float]]:
    """`gauss_z` of the windows of the last 2..`longest` terms (index w - 2), in one pass from the
    newest back. A reading that leaves out more than one tick is asked window by window."""
    top = min(longest, len(terms))
    if rb.trim not in (None, 0.0) or rb.spread != 1:
        return [gauss_z(terms[-w:], tol, rb) for w in range(2, top + 1)]
    out: list[tuple[float, float, float]] = []
    num = den = raw = 0.0
    parts: list[tuple[float, float, float]] = []  # each tick's (num, raw, den), newest first
    for back in range(1, top + 1):
        part = _part(*terms[-back], tol, rb.clip)
        parts.append(part)
        num, raw, den = num + part[0], raw + part[1], den + part[2]
        if back < 2:
            continue
        if rb.trim is None:
            out.append(_pooled(num, raw, den, tol))
        else:
            out.append(_least_of_one_out(parts, num, raw, den, tol))
    return out
