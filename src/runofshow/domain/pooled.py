"""The pooled evidence of one gate at the current tick: the one way decide.py (a tick with data)
and gaps.py (a short gap) ask the comparative judge (judge.compare) how much worse the canary is.

The same windows for both: up to `max(judge_window_ticks, MEMORY_TICKS)` recent ticks with data on
both tracks (plus the ticks an overlapping query range spreads one reading over), after the
canary's warm-up, a rate or count against the baseline's long-run rate too. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from runofshow.domain.judge import MEMORY_TICKS, Evidence, Pair, compare, recent_pairs
from runofshow.domain.levels import Scale, scale_of
from runofshow.domain.overlap import counted_ticks, overlap_ticks
from runofshow.domain.prior import BASELINE_HISTORY_TICKS, baseline_rate
from runofshow.domain.rules import EnginePlan, Gate
from runofshow.domain.tick import Tick


def memory_of(plan: EnginePlan) -> int:
    """The longest window pooled (ticks): the judge window, or MEMORY_TICKS when longer."""
    return max(plan.decision.judge_window_ticks, MEMORY_TICKS)


def window_pairs(plan: EnginePlan, history: Sequence[Tick], name: str, gate: Gate, *,
                 warmup: int) -> list[Pair]:
    """The ticks the judge may pool for `name`, oldest first (compare's longest window)."""
    longest = memory_of(plan) + math.ceil(overlap_ticks(plan, gate) - 1e-9) - 1
    return recent_pairs(history, name, gate, longest, skip_first=warmup, lone=True)


def pooled_evidence(plan: EnginePlan, history: Sequence[Tick], name: str, gate: Gate, pairs: Sequence[Pair],
                    *, window: int | None = None) -> Evidence | None:
    """judge.compare on `pairs` (from `window_pairs`) with the plan's rules and the gate's ranges
    (overlap.py). None without pairs. `window`: one window of that many ticks instead of the judge
    window and MEMORY_TICKS (bench/why_missed.py's hindsight: every tick since a known onset)."""
    rules = plan.decision
    prior = None
    if scale_of(gate) is Scale.COUNTS:
        prior = baseline_rate(history, name, gate, BASELINE_HISTORY_TICKS)
    return compare(
        name, gate, pairs, rules.min_relative_effect, window or rules.judge_window_ticks, prior,
        overlap=overlap_ticks(plan, gate), min_events=float(rules.min_canary_events),
        shared_level=rules.shared_level, memory=window or memory_of(plan), counted=counted_ticks(plan, gate),
    )
