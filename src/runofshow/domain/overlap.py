"""Overlapping readings of a count (CSP reports), made independent: a query range of N ticks (a `[5m]`
range at a 1-min tick) reports every event in N consecutive readings. The judge (judge.compare)
pools only the readings N ticks apart, the newest one, the one N ticks before it, and so on, so
each event is counted once and a one-tick burst lands in one of them, where the judge's usual
trimming leaves it out as on a one-tick gate. Pure.

Each independent reading is weighed by the requests of the ticks it covers (their mean, on the
reading's own scale), so a stage change inside a reading's range is accounted for.

A rate (5xx %) read over such a range is not pooled where the range straddles a stage change
(`straddling`): each track's percentage there averages its old and new traffic by its own requests,
the canary's mostly the new stage's, the baseline's mostly the old one's, so a shared incident
starting with the stage looks like the canary's.
"""

from __future__ import annotations

from collections.abc import Sequence

from runofshow.domain.counts import Row
from runofshow.domain.rules import EnginePlan, Gate, GateKind


def overlap_ticks(plan: EnginePlan, gate: Gate) -> float:
    """How many ticks one reading of `gate` covers: its window over the tick (at least 1)."""
    if gate.window_s is None:
        return 1.0
    return max(1.0, gate.window_s / plan.decision.tick_interval_s)


def counted_ticks(plan: EnginePlan, gate: Gate) -> float:
    """How many readings one event of `gate` is counted in. A rate's events are its percentage times
    its denominator, so its denominator's range over the tick (`Gate.denominator_window_s`: a `[5m]`
    percentage times one tick's requests counts each event once on average); else, and when the plan
    does not say, the gate's own range (`overlap_ticks`). Never more than that range."""
    over = overlap_ticks(plan, gate)
    if gate.kind is not GateKind.RATE or gate.denominator_window_s is None:
        return over
    return min(over, max(1.0, gate.denominator_window_s / plan.decision.tick_interval_s))


def independent(indices: Sequence[int], spread: int) -> list[int]:
    """Positions in `indices` (tick indices, oldest first) of the readings `spread` ticks apart,
    counted back from the newest; a missing reading is skipped, never replaced by a neighbour
    that shares its events. Oldest first."""
    if not indices:
        return []
    last = indices[-1]
    return [i for i, t in enumerate(indices) if (last - t) % spread == 0]


def reading_rows(rows: Sequence[Row], indices: Sequence[int], spread: int) -> list[Row]:
    """The independent readings of `rows` (one per tick, oldest first; see `independent`): each
    reading's own events, with the mean requests of the ticks its range covers (a tick without
    baseline data counts for the canary only). Oldest first."""
    out: list[Row] = []
    for pos in independent(indices, spread):
        kc, _, kb, nb = rows[pos]
        covered = [rows[j] for j in range(pos, -1, -1) if indices[pos] - indices[j] < spread]
        mc = sum(r[1] for r in covered) / len(covered)
        based = [r[3] for r in covered if r[3] > 0]
        mb = sum(based) / len(based) if based and nb > 0 else nb
        out.append((kc, mc, kb, mb))
    return out


def straddling(indices: Sequence[int], weights: Sequence[float], spread: int) -> set[int]:
    """Positions of the readings (tick indices and stage weights, oldest first) whose range of
    `spread` ticks holds an earlier reading at another weight: a stage change inside the range."""
    out: set[int] = set()
    for pos, (i, w) in enumerate(zip(indices, weights, strict=True)):
        j = pos - 1
        while j >= 0 and i - indices[j] < spread:
            if weights[j] != w:
                out.add(pos)
                break
            j -= 1
    return out
