"""A rate's or count's window as evidence against the canary: the stratified conditional-binomial
test of the canary/baseline rate ratio (`binom_z`), with the reading's protection against bursts
(robust.py: the ticks left out, the cap, the floors of events). The judge (judge.py) asks it of
every window it scans. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from runofshow.domain.counts import Row, capped, exact_z, loglik, root, score
from runofshow.domain.robust import CLIP, Robustness, dropped, leaves_one_out, reshaped

MIN_EVENTS = 3.0  # fewer canary events than this (capped) in a window prove nothing


def event_ticks(rows: Sequence[Row]) -> int:
    """The ticks (rows) with canary events."""
    return sum(1 for r in rows if r[0] > 0)


def binom_z(
    rows: Sequence[Row], rho0: float, rb: Robustness | None, min_events: float | None = None,
    with_effect: bool = True, *, beat: float = -math.inf, after_cap: Sequence[Row] | None = None,
) -> tuple[float, float, float]:
    """Stratified conditional-binomial likelihood-ratio test of rate ratio > rho0, after leaving
    out the ticks with the largest canary excess once capped and winsorising the rest, checked by the exact
    conditional test (`exact_z`) where counts are small: (the smaller z, estimated ratio - 1
    from the kept ticks' raw counts, the same z before the floor). With fewer canary events than
    `min_events` the z is 0: a lean worth confirming at most, never a rollback. Without
    `with_effect` the estimate is left out (0.0): the scan over windows needs it for the best only.
    A likelihood-ratio z at or under `beat` skips the exact test and is returned as it is: never
    below the exact one's, and both at or under `beat` (the scan passes its best so far: the window
    cannot win; the spread's lean passes SPREAD_MIN_Z: under it a lean counts for nothing).
    `after_cap`: `rows` as `capped` gives them (the scan caps its rows once, not once per window).
    Where one tick is left out, it is the one whose absence leaves the least evidence
    (`_least_of_one_out`)."""
    if rb is not None and rb.trim is not None and len(rows) > 1 and leaves_one_out(len(rows), rb):
        return _least_of_one_out(rows, rho0, reshaped(rb, trim=None), min_events, with_effect, beat)
    theta0 = math.log(rho0)
    kept = rows
    held: list[Row] | None = None  # the kept ticks after the cap
    if rb is not None:
        if rb.min_event_ticks and event_ticks(rows) < rb.min_event_ticks:  # fewer still once ticks
            return 0.0, 0.0, 0.0  # are left out
        if rb.trim is not None:  # else nothing is left out; ranked after the cap: a tick the cap
            # holds to a fraction of an event is not the burst to leave out (a worse burst must never
            # leave itself out and keep a lesser one)
            every = capped(rows, rho0, rb.clip) if after_cap is None else after_cap
            drop = dropped([_excess(r, rho0) for r in every], rb)
            kept = [r for i, r in enumerate(rows) if i not in drop]
            held = [r for i, r in enumerate(every) if i not in drop]
            if event_ticks(kept) < rb.min_event_ticks:
                return 0.0, 0.0, 0.0
    effect = 0.0
    if with_effect:
        effect = math.exp(root(kept, -12.0, 12.0)) - 1 if sum(r[0] for r in kept) > 0 else -1.0
    if score(kept, theta0)[0] <= 0:  # capping only lowers canary counts: no excess stays none
        return 0.0, effect, 0.0
    if held is None:
        held = capped(kept, rho0, rb.clip if rb is not None else CLIP)
    at_theta0 = score(held, theta0)
    if sum(r[0] for r in held) < MIN_EVENTS or at_theta0[0] <= 0:
        return 0.0, effect, 0.0
    theta = root(held, theta0, 12.0, at_theta0)
    llr = loglik(held, theta) - loglik(held, theta0)
    z = math.sqrt(max(0.0, 2 * llr))
    if z > beat:
        z = min(z, exact_z(held, rho0))
    floor = rb.min_events if rb is not None and min_events is None else (min_events or 0.0)
    if rb is not None and floor > 0 and sum(min(r[0], floor / 2) for r in kept) < floor - 1e-9:
        return 0.0, effect, z
    return z, effect, z


def _excess(r: Row, rho0: float) -> float:
    """The tick's canary events over what `rho0` times the baseline's rate expects, in standard errors."""
    kc, nc, kb, nb = r
    pi = 1 / (1 + nb / (nc * rho0))
    e = (kc + kb) * pi
    return (kc - e) / math.sqrt(e + 1)


def _least_of_one_out(rows: Sequence[Row], rho0: float, rb: Robustness, min_events: float | None,
                      with_effect: bool, beat: float) -> tuple[float, float, float]:
    """`binom_z` (with `rb`, which leaves nothing out) with one tick left out, the one whose absence
    leaves the least evidence: monotone where leaving out the tick of the largest excess is not (a
    worse tick can swap which tick the cap ranks first). A tick without canary events is never it:
    leaving it out only adds evidence. The z before the floor (for holds) is its own least."""
    if event_ticks(rows) < rb.min_event_ticks:  # fewer still once a tick is left out
        return 0.0, 0.0, 0.0
    outs = [binom_z([*rows[:i], *rows[i + 1:]], rho0, rb, min_events, with_effect, beat=beat)
            for i, r in enumerate(rows) if r[0] > 0]
    if not outs:
        return 0.0, 0.0, 0.0
    z, effect, _ = min(outs, key=lambda out: out[0])
    return z, effect, min(out[2] for out in outs)  # the lean before the floor: its own least
