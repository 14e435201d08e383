"""The baseline's long-run rate: a steady reference for a rate or count when a tick's own
baseline has only a few events (a 50/50 split of a rare error), left out of ticks in which the
baseline itself jumps (a shared incident is judged tick by tick)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from runofshow.domain.counts import Row
from runofshow.domain.gates import clean_value, valid_requests
from runofshow.domain.plan import Gate, GateKind
from runofshow.domain.tick import Tick

FULL_WEIGHT = 100.0  # canary weight (%) at which the baseline has no traffic left to compare with

PRIOR_EVENTS = 3.0
"""Pseudo-events of the baseline's long-run rate added to every tick's baseline, so that a tick
with only a few baseline events (a 50/50 split of a rare error) still has a steady reference,
while a tick whose baseline has many events (a shared incident) is judged on its own."""
PRIOR_MAX_SHARE = 4.0
"""...but never more pseudo-requests than this many times the tick's own baseline requests."""
BASELINE_HISTORY_TICKS = 12

def baseline_rate(history: Sequence[Tick], name: str, gate: Gate, limit: int) -> tuple[float, float]:
    """The baseline's recent events and requests over the last `limit` ticks with believable
    baseline data, leaving out ticks far above the rest (a shared incident is judged tick by tick,
    it must not inflate the long-run reference)."""
    rows: list[tuple[float, float]] = []
    for t in reversed(history):
        if t.weight >= FULL_WEIGHT:
            continue
        v = clean_value(gate, t.baseline, name)
        n = valid_requests(t.baseline)
        if v is None or n is None:
            continue
        rows.append((v / 100 * n if gate.kind is GateKind.RATE else v, n))
        if len(rows) >= limit:
            break
    events = sum(k for k, _ in rows)
    exposure = sum(n for _, n in rows)
    if not rows or exposure <= 0:
        return 0.0, 0.0
    rate = events / exposure
    kept = [(k, n) for k, n in rows if (k - rate * n) / math.sqrt(rate * n + 1) <= 3]
    return sum(k for k, _ in kept), sum(n for _, n in kept)


def with_prior(rows: Sequence[Row], prior: tuple[float, float] | None) -> list[Row]:
    """Add the long-run baseline pseudo-events to every tick that agrees with the long run."""
    if prior is None or prior[1] <= 0:
        return list(rows)
    rate = (prior[0] + 0.5) / prior[1]
    out: list[Row] = []
    for kc, nc, kb, nb in rows:
        if nb <= 0:  # a lone tick (no baseline data): the long run alone is its baseline
            extra = min(PRIOR_EVENTS / rate, PRIOR_MAX_SHARE * nc)
            out.append((kc, nc, rate * extra, extra))
            continue
        expect = rate * nb
        if kb <= expect + 3 * math.sqrt(expect) + 1:
            extra = min(PRIOR_EVENTS / rate, PRIOR_MAX_SHARE * nb)
            kb, nb = kb + rate * extra, nb + extra
        out.append((kc, nc, kb, nb))
    return out
