"""The baseline's long-run rate: a steady reference for a rate or count when a tick's own
baseline has only a few events (a 50/50 split of a rare error), left out of ticks in which the
baseline itself jumps (a shared incident is judged tick by tick)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from runofshow.domain.counts import Row
from runofshow.domain.gates import clean_value, valid_requests
from runofshow.domain.rules import Gate, GateKind
from runofshow.domain.tick import Tick, derived

FULL_WEIGHT = 100.0  # canary weight (%) at which the baseline has no traffic left to compare with

PRIOR_MAX_SHARE = 4.0
"""The long run's pseudo-requests added to a tick: at most this many times the tick's own baseline
requests (a tick whose baseline has many events, a shared incident, is still judged on its own), and
never more than the long run's exposure spread over the longest window pooled: pooled over any
window, the long run never counts for more requests than it holds."""
BASELINE_HISTORY_TICKS = 60
"""Ticks of the baseline's history its long-run rate is read from: the whole rollout, as a rule."""

def baseline_rate(history: Sequence[Tick], name: str, gate: Gate, limit: int) -> tuple[float, float]:
    """The baseline's recent events and requests over the last `limit` ticks with believable
    baseline data, leaving out ticks far above the rest (a shared incident is judged tick by tick,
    it must not inflate the long-run reference)."""
    rows: list[tuple[float, float]] = []
    for t in reversed(history):
        row = derived(t, ("baseline events", name), gate, _baseline_row, t, name, gate)
        if row is None:
            continue
        rows.append(row)
        if len(rows) >= limit:
            break
    events = sum(k for k, _ in rows)
    exposure = sum(n for _, n in rows)
    if not rows or exposure <= 0:
        return 0.0, 0.0
    rate = events / exposure
    kept = [(k, n) for k, n in rows if (k - rate * n) / math.sqrt(rate * n + 1) <= 3]
    return sum(k for k, _ in kept), sum(n for _, n in kept)


def _baseline_row(t: Tick, name: str, gate: Gate) -> tuple[float, float] | None:
    """The baseline's (events, requests) in tick `t`; None when its data cannot be believed."""
    if t.weight >= FULL_WEIGHT:
        return None
    v = clean_value(gate, t.baseline, name)
    n = valid_requests(t.baseline)
    if v is None or n is None:
        return None
    return (v / 100 * n if gate.kind is GateKind.RATE else v), n


def with_prior(rows: Sequence[Row], prior: tuple[float, float] | None, spread: int = 1) -> list[Row]:
    """Add the long-run baseline pseudo-events to every tick that agrees with the long run; a tick
    without baseline data (no baseline requests: a lone tick) has the long run alone as baseline.
    `spread`: the longest window pooled (the long run's exposure is shared out over it)."""
    if prior is None or prior[1] <= 0:
        return list(rows)
    rate = (prior[0] + 0.5) / prior[1]
    share = prior[1] / max(1, spread)
    out: list[Row] = []
    for kc, nc, kb, nb in rows:
        if nb <= 0:
            extra = min(PRIOR_MAX_SHARE * nc, share)
            out.append((kc, nc, rate * extra, extra))
            continue
        expect = rate * nb
        if kb <= expect + 3 * math.sqrt(expect) + 1:
            extra = min(PRIOR_MAX_SHARE * nb, share)
            kb, nb = kb + rate * extra, nb + extra
        out.append((kc, nc, kb, nb))
    return out
