"""Step handlers: what the runner does at each non-stage step of the timeline.

The runner records `step_started`, calls the handler registered for the step's kind, and records
`step_completed` with what the handler returned. Later issues plug the real work in here (the
freeze start and end, the war room, the preflight checks, the blast-radius probe, the close-out)
by registering handlers in `runofshow.app.bootstrap`; the defaults only describe the step.

A handler must be idempotent: after a crash between `step_started` and `step_completed` the
resumed run calls it again. It returns a `StepOutcome`; `halt` stops the run before the canary
takes traffic (exit 4, resumable after the cause is fixed). A handler that raises is recorded as
a failed step: before T0 that halts the run (no canary on a failed preflight), after T0 the run
goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runofshow.domain.plan import Plan
from runofshow.domain.tick import Tick
from runofshow.domain.timeline import Step, StepKind


@dataclass(frozen=True)
class StepContext:
    """What a handler gets: the plan, the step, and where the run is."""

    plan: Plan
    run_id: str
    index: int
    step: Step
    t_s: float
    at: datetime  # plan time
    evidence_dir: str
    after_rollback: bool = False  # the close-out of a rolled-back run
    weight: float | None = None
    wall_at: datetime | None = None  # the wall-clock instant (plan time runs faster with --speed)
    history: tuple[Tick, ...] = ()  # every tick the run has decided on so far


@dataclass(frozen=True)
class StepOutcome:
    details: Mapping[str, Any] = field(default_factory=dict)
    ok: bool = True
    halt: str | None = None  # a reason to stop the run here (exit 4)
    summary: str = ""  # the war-room line's metric part ("9/9 PASS", "success 100% p95=12ms")


StepHandler = Callable[[StepContext], StepOutcome | None]


def record_only(ctx: StepContext) -> StepOutcome:
    """The default handler: the step is recorded with what it is meant to do."""
    return StepOutcome(details={"does": ctx.step.does, "handler": "record_only"})


def default_handlers() -> dict[StepKind, StepHandler]:
    """A handler for every non-stage step kind; each only records the step."""
    return {kind: record_only for kind in StepKind if kind is not StepKind.STAGE}


__all__ = ["StepContext", "StepHandler", "StepOutcome", "default_handlers", "record_only"]
