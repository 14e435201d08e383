"""Real runs for the report tests: a whole T-30 .. T+24h run through the bootstrap with in-memory
fakes and a fake clock (milliseconds), promoted or rolled back, and its ledger events.

The freeze, preflight, blast-radius and close-out steps get stand-in handlers that report what the
real ones would (a 9/9 preflight, a passing probe, two PRs held and released) without touching
GitHub, the network or the disk; the war room and the first night's burn rate are the real ones.

    promoted_run()     healthy canary: 1 -> 5 -> 25 -> 50 -> 100 %, the first night, exit 0
    rolled_back_run()  the canary's 5xx rate jumps to 6 % at T+35 (stage 3, 25 %): hold, rollback, exit 3
    halted_run()       the T-10 preflight fails (8/9): halted before T0, exit 4
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runofshow.adapters.memory import FakeClock, InMemoryLedger, InMemoryRouter, StaticAlerts
from runofshow.app.bootstrap import RunOptions, start_run
from runofshow.app.run.policy import exit_code_for
from runofshow.app.run.steps import StepContext, StepOutcome
from runofshow.app.steps.preflight import CheckResult, PreflightReport
from runofshow.domain.plan import Plan
from runofshow.domain.tick import TrackSample
from runofshow.domain.timeline import StepKind
from runofshow.ports import LedgerEvent

# 0.05 % errors against the 99.9 % SLO's 0.1 % budget: a first-night burn rate of about 0.5x
HEALTHY = {"http_p95_ms": 150.0, "http_5xx_pct": 0.05, "ws_lag_s": 3.0, "idempotency_conflict_pct": 0.1,
           "csp_violations": 1.0, "pgbouncer_pool_util_pct": 40.0}
REQUESTS_PER_TICK = 3000


class SplitTraffic:
    """Both tracks share 3000 requests a tick by the router's weight, with a small deterministic
    wobble; `canary_from` adds overrides from a plan second on (plan seconds since T0)."""

    def __init__(self, router: InMemoryRouter, clock: FakeClock) -> None:
        self.router, self.clock = router, clock
        self.t0: datetime | None = None
        self.canary_from: list[tuple[float, dict[str, float | None]]] = []
        self.n = 0

    def _values(self, share: float, overrides: list[tuple[float, dict[str, float | None]]]) -> dict[str, float | None]:
        self.n += 1
        t_s = (self.clock.now() - self.t0).total_seconds() if self.t0 else 0.0
        wobble = 1 + 0.04 * math.sin(self.n * 1.7)
        values: dict[str, float | None] = {k: v * wobble for k, v in HEALTHY.items()}
        values["csp_violations"] = HEALTHY["csp_violations"] * share  # a count follows the traffic
        for since, override in overrides:
            if t_s >= since:
                values.update(override)
        return values

    def observe(self, at: Any, window_s: float) -> tuple[TrackSample, TrackSample]:
        w = self.router.current_weight() / 100
        baseline = TrackSample(self._values(1 - w, []), requests=REQUESTS_PER_TICK * (1 - w) or None)
        canary = TrackSample(self._values(w, self.canary_from), requests=REQUESTS_PER_TICK * w or None)
        return baseline, canary


PREFLIGHT_CHECKS = ("artifact", "canary_health", "metrics", "alert_rules", "traffic_router", "backup",
                    "schema_window", "freeze", "notifier")


def stand_in_handlers() -> dict[StepKind, Any]:
    def preflight(ctx: StepContext) -> StepOutcome:
        results = tuple(CheckResult(n, n, True, "ok", 0.01) for n in PREFLIGHT_CHECKS)
        report = PreflightReport(ctx.plan.release.service, ctx.plan.release.version, ctx.at, results)
        return StepOutcome(details=report.to_json(), summary="9/9 PASS")

    return {
        StepKind.FREEZE_START: lambda ctx: StepOutcome(
            details={"repo": "acme/spark-trading", "newly_labelled": [12, 15], "evidence": "", "note": ""}),
        StepKind.PREFLIGHT: preflight,
        StepKind.BLAST_RADIUS: lambda ctx: StepOutcome(
            details={"evidence": "", "text": "MICRO BLAST RADIUS v1.4.0\nResult: PASS\n"}),
        StepKind.CLOSE_OUT: lambda ctx: StepOutcome(details={"repo": "acme/spark-trading", "released": [12, 15]}),
    }


@dataclass(frozen=True)
class Run:
    code: int
    run_id: str
    events: list[LedgerEvent]
    plan: Plan


def run(canary_from: list[tuple[float, dict[str, float | None]]] | None = None, plan: Plan | None = None,
        ledger: Any = None, step_handlers: dict[StepKind, Any] | None = None) -> Run:
    """A whole run; `ledger` defaults to an InMemoryLedger (pass a SqlLedger for CLI tests),
    `step_handlers` to `stand_in_handlers()`."""
    plan = plan or Plan()
    clock, router, ledger = FakeClock(), InMemoryRouter(), ledger or InMemoryLedger()
    metrics = SplitTraffic(router, clock)
    metrics.canary_from = list(canary_from or [])
    _, runner = start_run(plan, RunOptions(check_windows=False), environ={}, ledger=ledger, clock=clock,
                          router=router, metrics=metrics, alerts=StaticAlerts(), notifier=None, annotator=None,
                          step_handlers=stand_in_handlers() if step_handlers is None else step_handlers)
    metrics.t0 = runner.state.t0_at
    code = exit_code_for(runner.run())
    rid = runner.state.run_id
    return Run(code, rid, ledger.events(rid), plan)


def promoted_run() -> Run:
    result = run()
    assert result.code == 0, "the healthy canary was not promoted"
    return result


def rolled_back_run() -> Run:
    result = run([(35 * 60, {"http_5xx_pct": 6.0})])
    assert result.code == 3, "the 5xx regression was not rolled back"
    return result


def halted_run() -> Run:
    handlers = stand_in_handlers()
    handlers[StepKind.PREFLIGHT] = lambda ctx: StepOutcome(ok=False, halt="preflight 8/9: failed backup")
    result = run(step_handlers=handlers)
    assert result.code == 4, "the failed preflight did not halt the run"
    return result


__all__ = ["HEALTHY", "Run", "SplitTraffic", "halted_run", "promoted_run", "rolled_back_run", "run",
           "stand_in_handlers"]
