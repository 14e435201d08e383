"""Every port of a run, built from the plan + environment + CLI options (`build_world`): the ledger,
router and metrics, the alerts, the notifications, the step handlers, the communications, the first
night's burn watch and the market-window gate. Tests pass fakes for any port
(`build_world(plan, options, router=..., metrics=...)`) and get the same wiring otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runofshow.app import settings
from runofshow.app.bootstrap.alerts import build_alerts
from runofshow.app.bootstrap.comms import wire_communications
from runofshow.app.bootstrap.ledger import open_ledger, resolve_state_url
from runofshow.app.bootstrap.metrics import PROMETHEUS_MIN_WINDOW_S, build_metrics, error_ratio
from runofshow.app.bootstrap.notifications import wire_notifications
from runofshow.app.bootstrap.options import RunOptions
from runofshow.app.bootstrap.router import build_router
from runofshow.app.bootstrap.steps import (
    freeze_store,
    load_generator,
    preflight_tools,
    pull_request_host,
    window_gate,
)
from runofshow.app.run.clock import RunClock, clock_for
from runofshow.app.run.first_night import BurnWatch
from runofshow.app.run.runner import RunPorts
from runofshow.app.run.steps import StepHandler
from runofshow.app.run.world import World, closer_of
from runofshow.app.steps.handlers import blast_handler, freeze_steps, preflight_handler, war_room_handler
from runofshow.domain.plan import Plan
from runofshow.domain.timeline import StepKind
from runofshow.ports import Ledger


def build_world(
    plan: Plan, options: RunOptions = RunOptions(), *, environ: Mapping[str, str] | None = None,
    ledger: Ledger | None = None, clock: RunClock | None = None, **overrides: Any,
) -> World:
    """Every port of a run. Keyword overrides (router, metrics, alerts, notifier, annotator,
    step_handlers, stage_gate, first_night_watch, on_interrupt, on_event, decide, ...) replace
    what the plan would build; `wrap_ports(router, metrics)` wraps the two (team mode's guard)."""
    env = settings.environment(environ)
    ledger = ledger or open_ledger(resolve_state_url(options.state_url, plan, env))
    clock = clock or clock_for(options.speed)
    router = overrides.pop("router", None) or build_router(plan, env)
    metrics = overrides.pop("metrics", None) or build_metrics(plan, env)
    floor = options.min_query_window_s
    if floor is None:
        floor = PROMETHEUS_MIN_WINDOW_S if plan.metrics_source.kind == "prometheus" else 0.0
    kwargs: dict[str, Any] = {"min_query_window_s": floor}
    world = World(RunPorts(ledger=ledger, router=router, metrics=metrics, clock=clock, **kwargs))
    for obj in (router, metrics, ledger):
        fn = closer_of(obj)
        if fn is not None:
            world.on_close(fn)
    wrap = overrides.pop("wrap_ports", None)  # team mode: fenced, timed router and metrics calls
    if wrap is not None:
        router, metrics = wrap(router, metrics)
    try:
        if "alerts" in overrides:
            alerts = overrides.pop("alerts")
        else:
            alerts = build_alerts(plan, options, env, world)
        fanout = None
        if "notifier" not in overrides and "annotator" not in overrides:
            fanout = wire_notifications(plan, env, world)
        override = options.preflight_override
        watch = BurnWatch(plan, clock, ratio=error_ratio(plan, metrics), min_window_s=floor)
        handlers: dict[StepKind, StepHandler] = {
            StepKind.WAR_ROOM: war_room_handler(plan),
            StepKind.PREFLIGHT: preflight_handler(override, preflight_tools(env)),
            StepKind.BLAST_RADIUS: blast_handler(plan, override, load=load_generator()),
            StepKind.FIRST_NIGHT: watch.step_handler,
        }
        hosts = overrides.pop("pull_requests", None)
        if hosts is None and options.repo and plan.freeze.enabled and not options.no_freeze:
            hosts = pull_request_host(options.repo, settings.github_settings(env))
        handlers.update(freeze_steps(plan, hosts, freeze_store, no_freeze=options.no_freeze))
        handlers.update(overrides.pop("step_handlers", {}))
        wire_communications(plan, env, world, handlers, overrides)
        overrides.setdefault("first_night_watch", watch)
        poll = options.ledger_poll_s if getattr(clock, "realtime", False) else None
        gate = overrides.pop("stage_gate") if "stage_gate" in overrides else (
            window_gate(plan) if options.check_windows else None)
        world.ports = RunPorts(
            ledger=ledger, router=router, metrics=metrics, clock=clock, alerts=alerts,
            notifier=overrides.pop("notifier", fanout), annotator=overrides.pop("annotator", fanout),
            step_handlers=handlers, stage_gate=gate, min_query_window_s=floor, ledger_poll_s=poll,
            min_checkin_window_s=options.min_checkin_window_s,
            **overrides,
        )
    except BaseException:
        world.close()
        raise
    return world


__all__ = ["World", "build_world"]
