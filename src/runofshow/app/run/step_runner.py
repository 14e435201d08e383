"""The step runner: starts and runs the T-minus steps of the timeline, and says what each one did.

    steps = StepRunner(plan, schedule(plan), recorder, mover, ports)
    steps.start(index)        # step_started (a stage: only if its market window is open)
    steps.run(index)          # the step's handler, then step_completed, its war-room line and message

Handlers (`runofshow.app.run.steps`) are what the bootstrap registered for each step kind; a
handler that raises is recorded, and before T0 it halts the run. A demo's clock changes speed at
the start of the stages and of the first night, and runs blocking T-10 steps in real time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from runofshow.app.run import minutes, notify
from runofshow.app.run.clock import RunClock, clock_params
from runofshow.app.run.events import EventKind, RunStatus, step_payload
from runofshow.app.run.recorder import Recorder, error_text
from runofshow.app.run.steps import StepContext, StepHandler, StepOutcome, record_only
from runofshow.app.run.traffic_mover import TrafficMover
from runofshow.domain.plan import Plan
from runofshow.domain.timeline import Step, StepKind

#: steps that block on the outside world; a demo runs them in real time (phase speed "steps")
BLOCKING = (StepKind.PREFLIGHT, StepKind.BLAST_RADIUS)


class StepPorts(Protocol):
    """What the step runner reads from the run's ports (`RunPorts` is one), at each use."""

    clock: RunClock
    step_handlers: dict[StepKind, StepHandler]
    stage_gate: Callable[[datetime, int], tuple[bool, str]] | None
    phase_speeds: dict[str, float]


class StepRunner:
    """Starts and runs one run's timeline steps."""

    def __init__(self, plan: Plan, steps: Sequence[Step], recorder: Recorder, mover: TrafficMover,
                 ports: StepPorts) -> None:
        self.plan, self.steps, self.rec, self.mover, self.ports = plan, steps, recorder, mover, ports
        self._preflight: dict[str, Any] = {}  # the T-10 results so far, for the IC's confirmation

    def start(self, index: int) -> None:
        step, clock = self.steps[index], self.ports.clock
        if step.kind is StepKind.STAGE and step.stage == 0:
            self.phase_speed("stages")
        elif step.kind is StepKind.FIRST_NIGHT:
            self.phase_speed("first_night")
        if step.kind is StepKind.STAGE and self.ports.stage_gate is not None:
            assert step.stage is not None
            allowed, reason = self.ports.stage_gate(clock.now(), step.stage)
            if not allowed:
                self.rec.end(RunStatus.HALTED, f"window closed before {step.title}: {reason}",
                             self.mover.read_weight())
                return
        self.rec.append(EventKind.STEP_STARTED, step_payload(index, step, self.rec.t_s()))

    def run(self, index: int) -> None:
        step = self.steps[index]
        handler = self.ports.step_handlers.get(step.kind, record_only)
        speed = self.ports.clock.speed
        if step.kind in BLOCKING:
            self.phase_speed("steps")  # a load test takes real seconds: do not let T0 run past
        try:
            outcome = handler(self.context(index)) or StepOutcome()
        except Exception as err:  # recorded; before T0 it halts the run
            before_t0 = step.offset.total_seconds() < 0
            outcome = StepOutcome(details={"error": error_text(err)}, ok=False,
                                  halt=f"{step.title} failed: {error_text(err)}" if before_t0 else None)
        if step.kind in BLOCKING:
            self.phase_speed("before_t0", speed)
        if outcome.halt and not self.rec.state.rolled_back:
            self.rec.war_room(f"{step.title} FAILED: {outcome.halt}", metrics=outcome.summary or None,
                              decision="Halt")
            self.rec.end(RunStatus.HALTED, outcome.halt, self.mover.read_weight(),
                         details=dict(outcome.details))
            return
        self.rec.append(EventKind.STEP_COMPLETED, step_payload(
            index, step, self.rec.t_s(), details=dict(outcome.details), ok=outcome.ok))
        self.done(step, outcome)

    def context(self, index: int) -> StepContext:
        clock, s = self.ports.clock, self.rec.state
        now = clock.now()
        return StepContext(
            plan=self.plan, run_id=s.run_id, index=index, step=self.steps[index],
            t_s=(now - s.t0_at).total_seconds(), at=now, evidence_dir=self.plan.evidence_dir,
            after_rollback=s.rolled_back, weight=s.weight, wall_at=clock.to_wall(now),
            history=tuple(s.history),
        )

    def phase_speed(self, phase: str, speed: float | None = None) -> None:
        """Switch the clock to the phase's speed (a demo's), recording the new clock."""
        clock = self.ports.clock
        speed = self.ports.phase_speeds.get(phase) if speed is None else speed
        set_speed = getattr(clock, "set_speed", None)
        if speed is None or set_speed is None or speed == clock.speed:
            return
        set_speed(speed)
        self.rec.append(EventKind.CLOCK_CHANGED, {**clock_params(clock), "phase": phase})

    # ------------------------------------------------------------------ what a completed step says

    def done(self, step: Step, outcome: StepOutcome) -> None:
        """The war-room line and the notification for a completed step."""
        rec, version, tl = self.rec, self.plan.release.version, self.plan.timeline
        did = outcome.details.get("handler") != "record_only"
        summary = outcome.summary or None
        if step.kind is StepKind.PROMOTED:
            first, last = self.plan.stages[0].weight, self.plan.stages[-1].weight
            rec.war_room(f"Canary complete ({first:g}→{last:g}%), entering {tl.first_night_h:g}h "
                         "monitoring", metrics=rec.last_signal()[0], decision="Proceed")
            rec.notify(notify.Event.CANARY_COMPLETE, notify.canary_complete(first, last, tl.first_night_h),
                       annotate=True)
            return
        if step.kind is StepKind.FIRST_NIGHT:
            rec.war_room(f"First night complete ({tl.first_night_h:g}h)", metrics=summary)
            return
        before_t0 = step.offset.total_seconds() < 0
        override = outcome.details.get("override")
        if outcome.ok:
            rec.war_room(step.title, metrics=summary if did else "recorded (not configured)",
                         decision="Proceed" if before_t0 else None)
        elif isinstance(override, Mapping) and before_t0:  # the IC opened T0 despite it
            rec.war_room(f"{step.title} FAILED", metrics=summary, decision="Proceed",
                         by=minutes.ic(str(override.get("by", ""))))
        else:
            rec.war_room(f"{step.title} FAILED", metrics=summary or str(outcome.details.get("error", "")))
            return
        if step.kind is StepKind.FREEZE_START and did and "skipped" not in outcome.details:
            rec.notify(notify.Event.FREEZE_OPEN, notify.freeze_open(version))
        elif step.kind is StepKind.PREFLIGHT:
            checks = list(outcome.details.get("checks") or ())
            self._preflight = {"passed": sum(1 for c in checks if c.get("passed")), "total": len(checks)}
        elif step.kind is StepKind.BLAST_RADIUS and self._preflight.get("total"):
            rec.notify(notify.Event.PREFLIGHT, notify.preflight_confirmed(
                int(self._preflight["passed"] or 0), int(self._preflight["total"]), did and outcome.ok))
        elif step.kind is StepKind.CLOSE_OUT:
            lifted = "released" in outcome.details
            if rec.state.rolled_back:
                if lifted:
                    rec.notify(notify.Event.FREEZE_LIFTED,
                               notify.freeze_lifted(version, "after the rollback"))
            else:
                rec.notify(notify.Event.STABLE, notify.stable_24h(version, tl.first_night_h, lifted))


__all__ = ["BLOCKING", "StepPorts", "StepRunner"]
