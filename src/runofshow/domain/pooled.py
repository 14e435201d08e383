"""The pooled evidence of one gate at the current tick: the one way decide.py (a tick with data)
and gaps.py (a short gap) ask the comparative judge (judge.compare) how much worse the canary is.

The same windows for both: up to `max(judge_window_ticks, MEMORY_TICKS)` recent ticks with data on
both tracks (plus the ticks an overlapping query range spreads one reading over), after the
canary's warm-up, a rate or count against the baseline's long-run rate too. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import median

from runofshow.domain.judge import (
    LATENCY_NOISE,
    LOG_GAUGE_NOISE,
    MEMORY_TICKS,
    POINTS_NOISE,
    Evidence,
    Pair,
    Scale,
    compare,
    recent_pairs,
    scale_of,
)
from runofshow.domain.plan import Gate, GateKind, Plan
from runofshow.domain.prior import BASELINE_HISTORY_TICKS, baseline_rate
from runofshow.domain.tick import Tick


def memory_of(plan: Plan) -> int:
    """The longest window pooled (ticks): the judge window, or MEMORY_TICKS when longer."""
    return max(plan.decision.judge_window_ticks, MEMORY_TICKS)


def window_pairs(plan: Plan, history: Sequence[Tick], name: str, gate: Gate, *, warmup: int,
                 overlap: float) -> list[Pair]:
    """The ticks the judge may pool for `name`, oldest first (compare's longest window)."""
    longest = memory_of(plan) + math.ceil(overlap - 1e-9) - 1
    return recent_pairs(history, name, gate, longest, skip_first=warmup)


def pooled_evidence(plan: Plan, history: Sequence[Tick], name: str, gate: Gate, pairs: Sequence[Pair],
                    *, overlap: float) -> Evidence | None:
    """judge.compare on `pairs` (from `window_pairs`) with the plan's rules. None without pairs."""
    rules = plan.decision
    prior = None
    if scale_of(gate) is Scale.COUNTS:
        prior = baseline_rate(history, name, gate, BASELINE_HISTORY_TICKS)
    return compare(
        name, gate, pairs, rules.min_relative_effect, rules.judge_window_ticks, prior,
        overlap=overlap, min_events=float(rules.min_canary_events), shared_level=rules.shared_level,
        memory=memory_of(plan), steady=baseline_steady(gate, pairs, prior, overlap),
    )


MOVED_Z = 3.0
"""A baseline tick this many of its own standard deviations worse than the baseline's median over
the pooled ticks (or, for a rate or count, than its long-run rate) has moved: a surge, a shared
incident, a drift. There the two tracks are hit unevenly by chance, and a canary a little worse on
two or three gates at once is what such an event looks like, not a thin regression: the spread
test leaves those ticks out. A lasting regression of the canary leaves the baseline where it was."""


def baseline_steady(
    gate: Gate, pairs: Sequence[Pair], prior: tuple[float, float] | None, overlap: float = 1.0
) -> list[bool]:
    """Per pair, True where the baseline has not moved (MOVED_Z)."""
    sc = scale_of(gate)
    if sc is Scale.COUNTS:
        if prior is None or prior[1] <= 0:
            return [True] * len(pairs)
        rate = (prior[0] + 0.5) / prior[1]
        out = []
        for p in pairs:
            assert p.nb is not None
            kb = (p.baseline / 100 * p.nb if gate.kind is GateKind.RATE else p.baseline) / overlap
            expect = rate * p.nb / overlap
            out.append(kb <= expect + MOVED_Z * math.sqrt(expect) + 1)
        return out
    levels, sds = [], []
    for p in pairs:
        b = gate.badness(p.baseline)
        share = min(max(100 - p.weight, 0.5), 99.5)
        if sc is Scale.POINTS:
            levels.append(b)
            sds.append(POINTS_NOISE.jitter * (50 / share) ** POINTS_NOISE.share_power)
            continue
        off = 0.01 * abs(gate.threshold) if gate.kind is GateKind.GAUGE else 1e-9
        levels.append(math.log(abs(b) + off))
        if gate.kind is GateKind.LATENCY:
            nb = p.nb if p.nb is not None else 30.0
            sds.append(math.sqrt(LATENCY_NOISE.jitter**2 + LATENCY_NOISE.per_request**2 / nb))
        else:
            sds.append(LOG_GAUGE_NOISE.jitter * (50 / share) ** LOG_GAUGE_NOISE.share_power)
    if not levels:
        return []
    mid = median(levels)
    return [x - mid <= MOVED_Z * sd for x, sd in zip(levels, sds, strict=True)]
