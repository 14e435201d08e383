"""The composition root's run lifecycle: a new run (`start_run`), a recorded one read back
(`load_run`) and one taken up again (`resume_run`), each on a world from `build_world`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from runofshow.app import settings
from runofshow.app.bootstrap.ledger import open_ledger, redacted_url, resolve_state_url
from runofshow.app.bootstrap.options import RunOptions
from runofshow.app.bootstrap.world import build_world
from runofshow.app.run.clock import RunClock, resumed_clock
from runofshow.app.run.recorder import load_state
from runofshow.app.run.runner import Runner
from runofshow.app.run.state import RunState
from runofshow.app.run.world import World
from runofshow.app.steps.preflight import Override
from runofshow.domain.plan import Plan
from runofshow.ports import Ledger


def start_run(plan: Plan, options: RunOptions = RunOptions(), *, environ: Mapping[str, str] | None = None,
              ledger: Ledger | None = None, clock: RunClock | None = None, run_id: str | None = None,
              meta: dict[str, Any] | None = None, submitted: bool = False,
              **overrides: Any) -> tuple[World, Runner]:
    """A new run: build its world, record `run_started`, and wire webhook alerts to it. A
    `submitted` run (team mode) is in the runs table already, under `run_id`."""
    url = resolve_state_url(options.state_url, plan, settings.environment(environ))
    if options.no_freeze and plan.freeze.enabled:  # recorded with the plan, so a resumed run keeps it
        plan = plan.model_copy(update={"freeze": plan.freeze.model_copy(update={"enabled": False})})
    if options.preflight_override is not None:
        from runofshow.app.warroom.commander import check_override

        options = replace(options, preflight_override=check_override(plan, options.preflight_override))
    world = build_world(plan, replace(options, state_url=url), environ=environ, ledger=ledger,
                        clock=clock, **overrides)
    ov = options.preflight_override
    if ov is not None:  # recorded, so that a resumed run keeps it
        meta = {**(meta or {}), "preflight_override": {"by": ov.by, "reason": ov.reason}}
    try:
        runner = Runner.start(plan, world.ports, run_id=run_id, state_url=redacted_url(url), meta=meta,
                              submitted=submitted)
    except BaseException:
        world.close()
        raise
    return world, world.attach(runner)


def load_run(run_id: str, ledger: Ledger) -> tuple[Plan, RunState]:
    """A run's plan and folded state. An unknown run id is bad input (exit 2)."""
    state = load_state(ledger, run_id)
    return state.plan(), state


def resume_run(run_id: str, options: RunOptions = RunOptions(), *,
               environ: Mapping[str, str] | None = None, ledger: Ledger | None = None,
               clock: RunClock | None = None, plan_override: Callable[[Plan], Plan] | None = None,
               **overrides: Any) -> tuple[World, Runner]:
    """Take `run_id` up again: plan and clock from the ledger, the world read back, `resumed`."""
    ledger = ledger or open_ledger(resolve_state_url(options.state_url, None, settings.environment(environ)))
    plan, state = load_run(run_id, ledger)
    if plan_override is not None:
        plan = plan_override(plan)
    recorded = state.started.get("preflight_override")
    if options.preflight_override is not None:
        from runofshow.app.warroom.commander import check_override

        options = replace(options, preflight_override=check_override(
            plan, options.preflight_override, ledger=ledger, run_id=run_id))
    elif recorded:
        options = replace(options, preflight_override=Override(str(recorded["by"]), str(recorded["reason"])))
    clock = clock or resumed_clock(state.clock, options.speed)
    world = build_world(plan, options, environ=environ, ledger=ledger, clock=clock, **overrides)
    try:
        if world.comms is not None:  # channel, status message, pager snapshot, deployment: from the ledger
            world.comms.restore(ledger.events(run_id))
        runner = Runner.resume(run_id, world.ports)
    except BaseException:
        world.close()
        raise
    return world, world.attach(runner)


__all__ = ["load_run", "resume_run", "start_run"]
