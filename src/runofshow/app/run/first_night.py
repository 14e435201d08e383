"""The first night (T+90 .. T+24h): the SLO burn rate at every check-in, and at the end.

    watch = BurnWatch(plan, clock, ratio=prometheus_ratio)   # or ratio=None: from the 5xx gate
    runner's first_night_watch = watch                         # (plan, history, t_s) -> NightWatch
    step handler for StepKind.FIRST_NIGHT = watch.step_handler # the 24 h figure at the end

Each check-in measures the error ratio over the Google SRE workbook's windows (5m, 30m, 1h, 6h)
and over 24 h, and judges them with `runofshow.domain.slo.evaluate_burn`: a page (14.4x over 1 h
and 5 m) is a fast burn, rolled back at once when `timeline.rollback_on_fast_burn`; a ticket (6x
over 6 h and 30 m) is a slow burn, shown and counted as a degradation; the 24 h burn rate must
stay below `timeline.burn_rate_24h_max` (the seed: 1.5).

Where the ratio comes from:
  Prometheus   `timeline.slo_error_ratio_query` with `$window` set to each window, compressed
               with the clock (`--speed N`: the 1 h window is 3600/N wall seconds), never less
               than the run's shortest query window (Prometheus needs two scrapes inside it).
  otherwise    (the web JSON source has no history to query) the error-rate gate
               (`http_5xx_pct`, or the gate whose short name is `5xx`) over the decisions the
               run recorded in each window, weighted by their requests; a window with no recorded
               decision uses the latest one. Said in the burn figures (`source`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runofshow.app.run.clock import RunClock
from runofshow.app.run.steps import StepContext, StepOutcome
from runofshow.domain.plan import Plan
from runofshow.domain.slo import WINDOWS_S, BurnVerdict, evaluate_burn
from runofshow.domain.tick import Tick

#: (window name, wall seconds to look back, wall instant) -> errors / requests (0..1), None: no data
ErrorRatio = Callable[[str, float, datetime], float | None]
GATE_SOURCE = "the error-rate gate over the recorded decisions (no Prometheus to query)"


@dataclass(frozen=True)
class NightWatch:
    """What a first-night check-in adds to its decision: reasons to roll back now (a fast burn),
    the burn figures for the ledger (`BurnVerdict.to_json()` + `source`), a war-room summary."""

    rollback: tuple[str, ...] = ()
    burn: Mapping[str, Any] | None = None
    summary: str = ""


def error_gate(plan: Plan) -> str | None:
    """The gate that measures the share of failed requests, in %."""
    if "http_5xx_pct" in plan.gates:
        return "http_5xx_pct"
    return next((name for name, g in plan.gates.items() if g.short == "5xx"), None)


def gate_ratios(plan: Plan, history: Sequence[Tick], t_s: float,
                windows: Mapping[str, float] = WINDOWS_S) -> dict[str, float | None]:
    """Each window's error ratio from the canary's error-rate gate in the recorded ticks."""
    gate = error_gate(plan)
    ticks = [t for t in history if t.canary is not None and gate is not None
             and t.canary.value(gate) is not None and t.t_s <= t_s + 1e-9]
    out: dict[str, float | None] = {}
    for name, seconds in windows.items():
        inside = [t for t in ticks if t.t_s > t_s - seconds] or ticks[-1:]
        if not inside or gate is None:
            out[name] = None
            continue
        weights = [t.canary.requests if t.canary and t.canary.requests else 1.0 for t in inside]
        values = [float(t.canary.value(gate) or 0.0) / 100 for t in inside if t.canary is not None]
        out[name] = sum(v * w for v, w in zip(values, weights, strict=True)) / sum(weights)
    return out


def summary(verdict: BurnVerdict) -> str:
    def x(window: str) -> str:
        b = verdict.burn(window)
        return "n/a" if b is None else f"{b:.2f}x"

    return f"burn 1h={x('1h')} 6h={x('6h')} 24h={x('24h')}" + (
        f" {verdict.severity.label.upper()}" if verdict.severity.label != "ok" else "")


class BurnWatch:
    """The runner's `first_night_watch` and the FIRST_NIGHT step handler, on one error-ratio source."""

    def __init__(self, plan: Plan, clock: RunClock, *, ratio: ErrorRatio | None = None,
                 min_window_s: float = 0.0, source: str = "") -> None:
        self.plan, self.clock, self.ratio = plan, clock, ratio
        self.min_window_s = min_window_s
        self.source = source or ("prometheus: timeline.slo_error_ratio_query" if ratio else GATE_SOURCE)

    def ratios(self, history: Sequence[Tick], t_s: float) -> dict[str, float | None]:
        if self.ratio is None:
            return gate_ratios(self.plan, history, t_s)
        at = self.clock.to_wall(self.clock.now())
        out: dict[str, float | None] = {}
        for name, seconds in WINDOWS_S.items():
            wall_s = max(seconds / self.clock.speed, self.min_window_s)
            try:
                out[name] = self.ratio(name, wall_s, at)
            except Exception:  # a failed query is no data for that window
                out[name] = None
        return out

    def evaluate(self, history: Sequence[Tick], t_s: float) -> BurnVerdict:
        tl = self.plan.timeline
        return evaluate_burn(self.ratios(history, t_s), tl.slo_target_pct, tl.burn_rate_24h_max)

    def burn_json(self, verdict: BurnVerdict) -> dict[str, Any]:
        return {**verdict.to_json(), "source": self.source}

    def __call__(self, plan: Plan, history: Sequence[Tick], t_s: float) -> NightWatch:
        verdict = self.evaluate(history, t_s)
        rollback: tuple[str, ...] = ()
        if verdict.fast_burn and plan.timeline.rollback_on_fast_burn:
            rollback = (f"SLO fast burn: {verdict.reasons[0]}",)
        return NightWatch(rollback=rollback, burn=self.burn_json(verdict), summary=summary(verdict))

    def step_handler(self, ctx: StepContext) -> StepOutcome:
        """The end of the first night: the 24 h burn rate against the plan's limit."""
        verdict = self.evaluate(ctx.history, ctx.t_s)
        details = {"burn": self.burn_json(verdict), "hours": self.plan.timeline.first_night_h}
        return StepOutcome(details=details, ok=verdict.within_24h_max, summary=summary(verdict))


__all__ = ["GATE_SOURCE", "BurnWatch", "ErrorRatio", "NightWatch", "error_gate", "gate_ratios", "summary"]
