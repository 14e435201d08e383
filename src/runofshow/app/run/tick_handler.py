"""The tick handler: one decision tick (metrics -> decide -> record -> respond), and what follows from
it: holds, a stage's completion, the first night's check-ins, and an incident commander's hold or
proceed.

    ticks = TickHandler(plan, steps, recorder, mover, ports)
    ticks.tick(Trigger.TICK)         # observe both tracks, decide, record the decision, act on it

What a decision means where the run stands (hold, halt, roll back, check in, complete) is the pure
`runofshow.app.run.policy.respond`; this module reads the world, records, and carries it out. A
metrics source that fails is NoData plus a war-room line; a failing alert feed is no alerts plus a
line; a broken first-night watch is a line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from runofshow.app.query_windows import judged_plan
from runofshow.app.run import events as ev
from runofshow.app.run import minutes, notify
from runofshow.app.run.clock import RunClock
from runofshow.app.run.events import EventKind, Phase, RunStatus, Trigger
from runofshow.app.run.first_night import NightWatch
from runofshow.app.run.policy import Act, IcAct, Situation, respond, respond_to_ic
from runofshow.app.run.recorder import Recorder, error_text
from runofshow.app.run.traffic_mover import Moved, TrafficMover, start_rollback
from runofshow.domain.decide import decide
from runofshow.domain.plan import Plan
from runofshow.domain.tick import Action, Alert, Decision, Tick
from runofshow.domain.timeline import Step, StepKind
from runofshow.errors import PlanError
from runofshow.ports import AlertFeed, MetricsSource

#: the decision engine: (plan, history, now_s) -> Decision (`runofshow.domain.decide.decide`)
DecideFn = Callable[[Plan, Sequence[Tick], float], Decision]
#: first-night watch (the SLO burn rate, `runofshow.app.run.first_night`): burn figures and reasons to
#: roll back now (a bare tuple of reasons is accepted too)
FirstNightWatch = Callable[[Plan, Sequence[Tick], float], NightWatch | tuple[str, ...]]


class TickPorts(Protocol):
    """What the tick handler reads from the run's ports (`RunPorts` is one), at each use."""

    @property
    def clock(self) -> RunClock: ...
    @property
    def metrics(self) -> MetricsSource: ...
    @property
    def alerts(self) -> AlertFeed | None: ...
    @property
    def decide(self) -> DecideFn | None: ...
    @property
    def first_night_watch(self) -> FirstNightWatch | None: ...
    @property
    def min_query_window_s(self) -> float: ...
    @property
    def min_checkin_window_s(self) -> float: ...


class TickHandler:
    """Decides one run's ticks and carries the answers out."""

    def __init__(self, plan: Plan, steps: Sequence[Step], recorder: Recorder, mover: TrafficMover,
                 ports: TickPorts) -> None:
        self.plan, self.steps, self.rec, self.mover, self.ports = plan, steps, recorder, mover, ports
        self.tick_s = plan.decision.tick_interval_s
        self.checkin_s = plan.timeline.checkin_every_min * 60
        self.advanced_by = minutes.AUTO  # who let the last stage proceed: "auto" or "IC <name>"
        self._judged_plans: dict[tuple[float, float], Plan] = {}

    # ------------------------------------------------------------------ reading the world

    def firing(self, quiet: bool = False) -> tuple[Alert, ...]:
        alerts, clock = self.ports.alerts, self.ports.clock
        if alerts is None:
            return ()
        try:
            return self.plan_timed(alerts.firing(clock.to_wall(clock.now())))
        except Exception as err:  # a failing feed is no alerts plus a line
            if not quiet:
                self.rec.war_room(f"Alert feed failed: {error_text(err)}")
            return ()

    def plan_timed(self, alerts: Iterable[Alert]) -> tuple[Alert, ...]:
        """`alerts` on the run's one clock: an alert whose source gave the wall instant it started
        firing (`fired_at`) gets `fired_t_s` in plan seconds since T0, through the run clock's
        wall -> plan mapping (under `--speed N` a wall second is N plan seconds)."""
        clock, t0 = self.ports.clock, self.rec.state.t0_at
        return tuple(a if a.fired_at is None else
                     replace(a, fired_t_s=(clock.to_plan(a.fired_at) - t0).total_seconds())
                     for a in alerts)

    def _judged(self, query_window_s: float, speed: float) -> Plan:
        """The plan with each gate's query window (PromQL range over the tick: overlapping readings
        share their events, and the judge must not count them twice). Cached per window and speed."""
        key = (round(query_window_s, 6), speed)
        if key not in self._judged_plans:
            try:
                self._judged_plans[key] = judged_plan(self.plan, query_window_s, speed)
            except PlanError as err:  # not PromQL (load_plan refuses such a plan): judge it as it is
                self.rec.war_room(f"Query windows not read: {err}")
                self._judged_plans[key] = self.plan
        return self._judged_plans[key]

    # ------------------------------------------------------------------ one tick

    def tick(self, trigger: Trigger) -> None:
        s, clock, plan, rec = self.rec.state, self.ports.clock, self.plan, self.rec
        now = clock.now()
        t_s = (now - s.t0_at).total_seconds()
        first_night = s.phase is Phase.FIRST_NIGHT
        checkin = first_night and trigger is Trigger.CHECKIN
        window = self.checkin_s if checkin else self.tick_s
        query_window = max(window / clock.speed, self.ports.min_query_window_s)
        if checkin:
            query_window = max(query_window, self.ports.min_checkin_window_s)
        source_error = None
        try:
            baseline, canary = self.ports.metrics.observe(clock.to_wall(now), query_window)
        except Exception as err:  # any source failure is NoData plus a war-room line
            baseline = canary = None
            source_error = error_text(err)
            rec.war_room(f"Metrics source failed: {source_error}", metrics="NoData")
        alerts = self.firing()
        stage = s.stage if s.stage is not None else len(plan.stages) - 1
        tick = Tick(t_s=t_s, weight=s.weight or 0.0, stage=stage, baseline=ev.clean_sample(baseline),
                    canary=ev.clean_sample(canary), alerts=alerts)
        history = [*s.history, tick]
        judged = plan if checkin else self._judged(query_window, clock.speed)
        decision = (self.ports.decide or decide)(judged, history, t_s)
        watch = self._watch(history, t_s) if first_night else NightWatch()
        payload = ev.decision_payload(
            tick, decision, label=rec.label(t_s), phase=s.phase or Phase.STAGE, trigger=trigger,
            window_s=window, query_window_s=query_window, gates=len(plan.gates), holds=s.holds,
            source_error=source_error)
        if watch.rollback:
            payload["first_night_watch"] = list(watch.rollback)
        if watch.burn is not None:
            payload["burn"] = dict(watch.burn)
        rec.append(EventKind.DECISION, payload)
        response = respond(decision, Situation(
            phase=s.phase or Phase.STAGE, trigger=trigger, stage_no=rec.stage_no(),
            rolling_back=s.status is RunStatus.ROLLING_BACK, holding=s.holding, holds=s.holds,
            consecutive_holds=s.consecutive_holds, max_holds=plan.decision.max_holds,
            night_rollback=watch.rollback))
        if response.act is Act.ROLLBACK:
            assert response.trigger is not None
            said = self._alert_said(tick, decision)
            start_rollback(rec, response.trigger, response.reasons, said=said, judged=said is None,
                           why=decision.sentence or None)
        elif response.act is Act.HALT:
            rec.end(RunStatus.HALTED, response.reasons[0], self.mover.read_weight())
        elif response.act is Act.HOLD:
            self._hold(decision, t_s, response.hold_n)
        elif response.act is Act.CHECKIN:
            self._checkin(decision, trigger, watch, t_s)
        elif response.act is Act.COMPLETE_STAGE:
            self.complete_stage(decision.passing, tick.t_s, why=decision.sentence or None)

    def _alert_said(self, tick: Tick, decision: Decision) -> str | None:
        """`alert SparkCanary5xx (auto_rollback) -> rollback` when alerts, not gates, decided."""
        match = self.plan.alert_source.match_labels
        fired = [a for a in tick.alerts if a.matches(match)]
        if decision.verdicts or not fired:
            return None
        return "; ".join(dict.fromkeys(minutes.alert_rollback(a.name, match) for a in fired))

    def _watch(self, history: list[Tick], t_s: float) -> NightWatch:
        watch = self.ports.first_night_watch
        if watch is None:
            return NightWatch()
        try:
            got = watch(self.plan, history, t_s)
        except Exception as err:  # a broken hook is a line, not a crash
            self.rec.war_room(f"First-night watch failed: {error_text(err)}")
            return NightWatch()
        return got if isinstance(got, NightWatch) else NightWatch(rollback=tuple(got))

    def _checkin(self, decision: Decision, trigger: Trigger, watch: NightWatch, t_s: float) -> None:
        s, tl, rec = self.rec.state, self.plan.timeline, self.rec
        hours = (t_s - (s.first_night_started_t_s or t_s)) / 3600
        held = decision.action is Action.HOLD
        metrics, gates = rec.last_signal()
        metrics = " ".join(x for x in (metrics, watch.summary) if x) or None
        what = f"First night check-in {minutes.num(hours, 1)}h/{tl.first_night_h:g}h"
        if held:
            what += f": {ev.reasons_text(decision.reasons)}"
        rec.war_room(what, metrics=metrics, gates=gates, decision="Hold" if held else "Proceed")
        if trigger is Trigger.CHECKIN:
            rec.notify(notify.Event.CHECKIN, notify.checkin(
                self.plan.release.version, round(hours), tl.first_night_h,
                f"{gates or 'no gates'}, {watch.summary or 'burn not measured'}"
                + (f"; held: {ev.reasons_text(decision.reasons)}" if held else "")))

    # ------------------------------------------------------------------ holds and stages

    def _hold(self, decision: Decision, t_s: float, n: int) -> None:
        s, rec, limit = self.rec.state, self.rec, self.plan.decision.max_holds
        hold_s = self.plan.decision.hold_min * 60
        rec.append(EventKind.HOLD_STARTED, {
            "stage": s.stage, "n": n, "max_holds": limit, "hold_s": hold_s, "until_t_s": t_s + hold_s,
            "reasons": list(decision.reasons),
        })
        metrics, gates = rec.last_signal()
        rec.war_room(f"{rec.stage_title()} HOLD {n}/{limit} for {hold_s / 60:g} min: "
                     f"{ev.reasons_text(decision.reasons)}", metrics=metrics, gates=gates, decision="Hold",
                     **_why(decision.sentence))
        stage = s.stage or 0
        weight = self.plan.stages[stage].weight
        rec.notify(notify.Event.HOLD, notify.hold(self.plan.release.version, stage + 1, weight, hold_s / 60,
                                                  decision.reasons))

    def hold_over(self) -> None:
        self.rec.append(EventKind.HOLD_ENDED, {"stage": self.rec.state.stage, "n": self.rec.state.holds})
        self.rec.war_room(f"{self.rec.stage_title()} hold {self.rec.state.holds} over, re-evaluate")

    def complete_stage(self, passing: int | None, t_s: float, *, by: str = minutes.AUTO,
                       why: str | None = None, **extra: object) -> None:
        s, rec = self.rec.state, self.rec
        index = s.open_step
        assert index is not None
        started = s.stage_started_t_s or 0.0
        ticks = sum(1 for t in s.history if t.stage == s.stage and t.t_s >= started)
        rec.append(EventKind.STEP_COMPLETED, ev.step_payload(
            index, self.steps[index], t_s, ok=True,
            details={"ticks": ticks, "holds": s.holds, "passing": passing, "gates": len(self.plan.gates),
                     "by": by}, **extra))
        metrics, _ = rec.last_signal()
        gates = None if passing is None else f"{passing}/{len(self.plan.gates)} PASS"
        rec.war_room(f"{rec.stage_title()} complete", metrics=metrics, gates=gates, decision="Proceed", by=by,
                     **_why(why))
        self.advanced_by = by

    def stage_started(self, weight: float, moved: Moved) -> None:
        """The war-room line and the message of a stage whose weight is set."""
        rec, got = self.rec, moved.read_back
        read = f"weight read back {got:g}%" if got is not None else "weight not read back"
        metrics: str | None
        if rec.state.stage == 0:
            what, metrics, gates = f"{rec.stage_title()} start", f"Traffic opened, {read}", None
        else:
            what, (metrics, gates) = f"{rec.stage_title()} start ({read})", rec.last_signal()
        by, self.advanced_by = self.advanced_by, minutes.AUTO
        rec.war_room(what, metrics=metrics, gates=gates, decision="Proceed", by=by)
        observed = "" if rec.state.stage == 0 else (metrics or "")
        rec.notify(notify.Event.STAGE, notify.stage_transition(
            self.plan.release.version, rec.stage_no(), weight, observed),
            {"stage": rec.stage_no(), "weight": weight}, annotate=True)

    # ------------------------------------------------------------------ the incident commander

    def carry_out_ic(self) -> None:
        """An accepted IC hold or proceed (`runofshow decide`, perhaps from another process)."""
        s, rec = self.rec.state, self.rec
        pending = s.ic_pending
        assert pending is not None
        seq, by, reason = pending["seq"], minutes.ic(str(pending["by"])), str(pending["reason"])
        step = self.steps[s.open_step] if s.open_step is not None else None
        in_stage = step is not None and step.kind is StepKind.STAGE and s.phase is Phase.STAGE
        act = respond_to_ic(str(pending["action"]), in_stage=in_stage, holding=s.holding)
        if act is IcAct.HOLD_NOT_APPLIED:
            rec.war_room(f"IC hold not applied: no canary stage is running ({reason})", by=by,
                         decision="Hold", ic_seq=seq)
        elif act is IcAct.HOLD:
            metrics, gates = rec.last_signal()
            rec.append(EventKind.HOLD_STARTED, {
                "stage": s.stage, "n": s.holds, "max_holds": self.plan.decision.max_holds, "hold_s": None,
                "until_t_s": None, "reasons": [f"{by}: {reason}"], "by": by, "ic_seq": seq,
            })
            rec.war_room(f"{rec.stage_title()} HOLD until the incident commander proceeds: {reason}",
                         metrics=metrics, gates=gates, decision="Hold", by=by)
            stage = s.stage or 0
            rec.notify(notify.Event.HOLD, notify.ic_hold(self.plan.release.version, stage + 1,
                                                         self.plan.stages[stage].weight, by, reason))
        elif act is IcAct.END_HOLD:
            rec.append(EventKind.HOLD_ENDED, {"stage": s.stage, "n": s.holds, "by": by, "ic_seq": seq})
            self.complete_stage(s.last_passing, rec.t_s(), by=by, ic_reason=reason)
        else:
            rec.war_room(f"IC proceed: nothing is held, the run goes on ({reason})", decision="Proceed",
                         by=by, ic_seq=seq)


__all__ = ["DecideFn", "FirstNightWatch", "TickHandler", "TickPorts"]


def _why(sentence: str | None) -> dict[str, str]:
    """A war-room event's `why` (the decision's one sentence), when there is one."""
    return {"why": sentence} if sentence else {}
