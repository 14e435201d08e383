"""What the runner does at a tick: observe, decide, act; holds; stage completion; the first night's
check-ins; the war-room line and notification of each completed step; and carrying out an
incident commander's hold or proceed.

Split from `runofshow.app.run.runner_acts` (recording, traffic, steps, end); `Runner` is the only user.
An incident commander's rollback needs nothing from here: `runofshow decide` performs it itself
(intent, act, read back, outcome) and the fold sees the run rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping

from runofshow.app.run import events as ev
from runofshow.app.run import minutes, notify
from runofshow.app.run.events import EventKind, Phase, RunStatus, Trigger
from runofshow.app.run.first_night import NightWatch
from runofshow.app.run.runner_acts import RunnerActs, _error_text
from runofshow.app.run.steps import StepOutcome
from runofshow.domain.tick import Action, Decision, Tick
from runofshow.domain.timeline import Step, StepKind

#: wall seconds the runner waits for another process's traffic change (an IC's rollback) to report
#: its outcome before it reads the router back itself
EXTERNAL_WAIT_S = 30.0


class RunnerTicks(RunnerActs):
    _external_since: tuple[str, float] | None  # (intent id, t_s first seen)

    def _between_moves(self, remaining: float) -> None:  # pragma: no cover - defined by Runner
        raise NotImplementedError

    # ------------------------------------------------------------------ ticks

    def _tick(self, trigger: Trigger) -> None:
        s, clock, plan = self.state, self.ports.clock, self.plan
        now = clock.now()
        t_s = (now - s.t0_at).total_seconds()
        first_night = s.phase is Phase.FIRST_NIGHT
        window = self.checkin_s if first_night and trigger is Trigger.CHECKIN else self.tick_s
        query_window = max(window / clock.speed, self.ports.min_query_window_s)
        if first_night and trigger is Trigger.CHECKIN:
            query_window = max(query_window, self.ports.min_checkin_window_s)
        source_error = None
        try:
            baseline, canary = self.ports.metrics.observe(clock.to_wall(now), query_window)
        except Exception as err:  # any source failure is NoData plus a war-room line
            baseline = canary = None
            source_error = _error_text(err)
            self._war_room(f"Metrics source failed: {source_error}", metrics="NoData")
        alerts = self._firing()
        stage = s.stage if s.stage is not None else len(plan.stages) - 1
        tick = Tick(t_s=t_s, weight=s.weight or 0.0, stage=stage, baseline=ev.clean_sample(baseline),
                    canary=ev.clean_sample(canary), alerts=alerts)
        history = [*s.history, tick]
        decision = self._decide_fn(plan, history, t_s)
        watch = self._watch(history, t_s) if first_night else NightWatch()
        payload = ev.decision_payload(
            tick, decision, label=self._label(t_s), phase=s.phase or Phase.STAGE, trigger=trigger,
            window_s=window, query_window_s=query_window, gates=len(plan.gates), holds=s.holds,
            source_error=source_error)
        if watch.rollback:
            payload["first_night_watch"] = list(watch.rollback)
        if watch.burn is not None:
            payload["burn"] = dict(watch.burn)
        self._append(EventKind.DECISION, payload)
        if s.status is RunStatus.ROLLING_BACK:
            return  # rolled back meanwhile by another process (the incident commander)
        if decision.action is Action.ROLLBACK:
            self._start_rollback(Trigger.ALERT if trigger is Trigger.ALERT else Trigger.DECISION,
                                 decision.reasons)
        elif watch.rollback:
            self._start_rollback(Trigger.FIRST_NIGHT, watch.rollback)
        elif first_night and decision.action is Action.HOLD and s.consecutive_holds > plan.decision.max_holds:
            # at 100 % there is no baseline traffic to clear the canary: a breach that persists
            # past max_holds check-ins is the canary's, and the stable version is the safe place
            self._start_rollback(Trigger.FIRST_NIGHT, (
                f"held {s.consecutive_holds} check-ins in a row in the first night (max_holds "
                f"{plan.decision.max_holds}): {ev.reasons_text(decision.reasons)}",))
        elif first_night:
            if decision.action is Action.HOLD or trigger is Trigger.CHECKIN:
                self._checkin(decision, trigger, watch, t_s)
        elif decision.action is Action.HOLD:
            self._hold(decision, t_s)
        elif decision.stage_complete and not s.holding:
            self._complete_stage(decision.passing, tick.t_s)

    def _watch(self, history: list[Tick], t_s: float) -> NightWatch:
        if self.ports.first_night_watch is None:
            return NightWatch()
        try:
            got = self.ports.first_night_watch(self.plan, history, t_s)
        except Exception as err:  # a broken hook is a line, not a crash
            self._war_room(f"First-night watch failed: {_error_text(err)}")
            return NightWatch()
        return got if isinstance(got, NightWatch) else NightWatch(rollback=tuple(got))

    def _checkin(self, decision: Decision, trigger: Trigger, watch: NightWatch, t_s: float) -> None:
        s, tl = self.state, self.plan.timeline
        hours = (t_s - (s.first_night_started_t_s or t_s)) / 3600
        held = decision.action is Action.HOLD
        metrics, gates = self._last_signal()
        metrics = " ".join(x for x in (metrics, watch.summary) if x) or None
        what = f"First night check-in {minutes.num(hours, 1)}h/{tl.first_night_h:g}h"
        if held:
            what += f": {ev.reasons_text(decision.reasons)}"
        self._war_room(what, metrics=metrics, gates=gates, decision="Hold" if held else "Proceed")
        if trigger is Trigger.CHECKIN:
            self._notify(notify.Event.CHECKIN, notify.checkin(
                self.plan.release.version, round(hours), tl.first_night_h,
                f"{gates or 'no gates'}, {watch.summary or 'burn not measured'}"
                + (f"; held: {ev.reasons_text(decision.reasons)}" if held else "")))

    def _hold(self, decision: Decision, t_s: float) -> None:
        s = self.state
        if s.holding:
            return
        n, limit = s.holds + 1, self.plan.decision.max_holds
        if n > limit:
            self._end(RunStatus.HALTED, f"stage {self._stage_no()} held {n} times, more than max_holds "
                      f"({limit}): {ev.reasons_text(decision.reasons)}")
            return
        hold_s = self.plan.decision.hold_min * 60
        self._append(EventKind.HOLD_STARTED, {
            "stage": s.stage, "n": n, "max_holds": limit, "hold_s": hold_s, "until_t_s": t_s + hold_s,
            "reasons": list(decision.reasons),
        })
        metrics, gates = self._last_signal()
        self._war_room(f"{self._stage_title()} HOLD {n}/{limit} for {hold_s / 60:g} min: "
                       f"{ev.reasons_text(decision.reasons)}", metrics=metrics, gates=gates, decision="Hold")
        stage = s.stage or 0
        weight = self.plan.stages[stage].weight
        self._notify(notify.Event.HOLD, notify.hold(self.plan.release.version, stage + 1, weight, hold_s / 60,
                                                    decision.reasons))

    def _hold_over(self) -> None:
        self._append(EventKind.HOLD_ENDED, {"stage": self.state.stage, "n": self.state.holds})
        self._war_room(f"{self._stage_title()} hold {self.state.holds} over, re-evaluate")

    def _complete_stage(self, passing: int | None, t_s: float, *, by: str = minutes.AUTO,
                        **extra: object) -> None:
        s = self.state
        index = s.open_step
        assert index is not None
        started = s.stage_started_t_s or 0.0
        ticks = sum(1 for t in s.history if t.stage == s.stage and t.t_s >= started)
        self._append(EventKind.STEP_COMPLETED, ev.step_payload(
            index, self.steps[index], t_s, ok=True,
            details={"ticks": ticks, "holds": s.holds, "passing": passing, "gates": len(self.plan.gates),
                     "by": by}, **extra))
        metrics, _ = self._last_signal()
        gates = None if passing is None else f"{passing}/{len(self.plan.gates)} PASS"
        self._war_room(f"{self._stage_title()} complete", metrics=metrics, gates=gates, decision="Proceed",
                       by=by)
        self._advanced_by = by

    # ------------------------------------------------------------------ steps done

    def _step_done(self, step: Step, outcome: StepOutcome) -> None:
        """The war-room line and the notification for a completed step."""
        version, tl = self.plan.release.version, self.plan.timeline
        did = outcome.details.get("handler") != "record_only"
        summary = outcome.summary or None
        if step.kind is StepKind.PROMOTED:
            first, last = self.plan.stages[0].weight, self.plan.stages[-1].weight
            self._war_room(f"Canary complete ({first:g}→{last:g}%), entering {tl.first_night_h:g}h "
                           "monitoring", metrics=self._last_signal()[0], decision="Proceed")
            self._notify(notify.Event.CANARY_COMPLETE, notify.canary_complete(first, last, tl.first_night_h),
                         annotate=True)
            return
        if step.kind is StepKind.FIRST_NIGHT:
            self._war_room(f"First night complete ({tl.first_night_h:g}h)", metrics=summary)
            return
        before_t0 = step.offset.total_seconds() < 0
        override = outcome.details.get("override")
        if outcome.ok:
            self._war_room(step.title, metrics=summary if did else "recorded (not configured)",
                           decision="Proceed" if before_t0 else None)
        elif isinstance(override, Mapping) and before_t0:  # the IC opened T0 despite it
            self._war_room(f"{step.title} FAILED", metrics=summary, decision="Proceed",
                           by=minutes.ic(str(override.get("by", ""))))
        else:
            self._war_room(f"{step.title} FAILED", metrics=summary or str(outcome.details.get("error", "")))
            return
        if step.kind is StepKind.FREEZE_START and did:
            self._notify(notify.Event.FREEZE_OPEN, notify.freeze_open(version))
        elif step.kind is StepKind.PREFLIGHT:
            checks = list(outcome.details.get("checks") or ())
            self._preflight = {"passed": sum(1 for c in checks if c.get("passed")), "total": len(checks)}
        elif step.kind is StepKind.BLAST_RADIUS and self._preflight.get("total"):
            self._notify(notify.Event.PREFLIGHT, notify.preflight_confirmed(
                int(self._preflight["passed"] or 0), int(self._preflight["total"]), did and outcome.ok))
        elif step.kind is StepKind.CLOSE_OUT:
            lifted = "released" in outcome.details
            if self.state.rolled_back:
                if lifted:
                    self._notify(notify.Event.FREEZE_LIFTED,
                                 notify.freeze_lifted(version, "after the rollback"))
            else:
                self._notify(notify.Event.STABLE, notify.stable_24h(version, tl.first_night_h, lifted))

    # ------------------------------------------------------------------ the incident commander

    def _await_external(self) -> None:
        """Another process (`runofshow decide`) is rolling back: let it finish and record its
        outcome (nothing may follow the run_ended the runner would write). If it never does, read
        the router back and record that instead, as a resume would."""
        ext = self.state.external_intent
        assert ext is not None
        if self._external_since is None or self._external_since[0] != ext.id:
            self._external_since = (ext.id, self.t_s())
        limit = EXTERNAL_WAIT_S * self.ports.clock.speed
        waited = self.t_s() - self._external_since[1]
        if waited < limit:
            self._between_moves(limit - waited)
            return
        self._war_room(f"No outcome from the other process's traffic change ({ext.id}) in "
                       f"{EXTERNAL_WAIT_S:g} s: reading the router back")
        self._outcome(ext.id, ext.weight, self._read_weight(), resolved_on="timeout")

    def _carry_out_ic(self) -> None:
        """An accepted IC hold or proceed (`runofshow decide`, perhaps from another process)."""
        s = self.state
        pending = s.ic_pending
        assert pending is not None
        seq, by, reason = pending["seq"], minutes.ic(str(pending["by"])), str(pending["reason"])
        step = self.steps[s.open_step] if s.open_step is not None else None
        in_stage = step is not None and step.kind is StepKind.STAGE and s.phase is Phase.STAGE
        metrics, gates = self._last_signal()
        if pending["action"] == "hold":
            if not in_stage:
                self._war_room(f"IC hold not applied: no canary stage is running ({reason})", by=by,
                               decision="Hold", ic_seq=seq)
                return
            self._append(EventKind.HOLD_STARTED, {
                "stage": s.stage, "n": s.holds, "max_holds": self.plan.decision.max_holds, "hold_s": None,
                "until_t_s": None, "reasons": [f"{by}: {reason}"], "by": by, "ic_seq": seq,
            })
            self._war_room(f"{self._stage_title()} HOLD until the incident commander proceeds: {reason}",
                           metrics=metrics, gates=gates, decision="Hold", by=by)
            stage = s.stage or 0
            self._notify(notify.Event.HOLD, notify.ic_hold(self.plan.release.version, stage + 1,
                                                           self.plan.stages[stage].weight, by, reason))
            return
        if in_stage and s.holding:
            self._append(EventKind.HOLD_ENDED, {"stage": s.stage, "n": s.holds, "by": by, "ic_seq": seq})
            self._complete_stage(s.last_passing, self.t_s(), by=by, ic_reason=reason)
            return
        self._war_room(f"IC proceed: nothing is held, the run goes on ({reason})", decision="Proceed",
                       by=by, ic_seq=seq)


__all__ = ["RunnerTicks"]
