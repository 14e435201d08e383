"""The composition root: the ONLY place that builds real adapters, from the plan + environment +
CLI options. Tests pass fakes for any port (`build_world(plan, options, router=..., metrics=...)`)
and get the same wiring otherwise.

    state URL      --state, else plan.state, else RUNOFSHOW_STATE, else SQLite runofshow.db beside
                   the evidence folder
    router         plan.traffic_router.kind: local_proxy, ingress_nginx, nginx_file, flag_api, memory
    metrics        plan.metrics_source.kind: prometheus, web_json
    alerts         an Alertmanager webhook receiver when --listen or alert_source.webhook_listen is
                   set (bearer token from alert_source.webhook_token_env); otherwise, polling
                   Prometheus /api/v1/alerts when alert_source.poll_prometheus and the metrics come
                   from Prometheus; otherwise none
    notifications  Slack (notifications.slack_webhook_url_env), a JSON webhook
                   (notifications.webhook_url) and Grafana annotations (notifications.grafana_url),
                   behind one non-blocking fan-out (`runofshow.app.run.notify`), closed with the world
    steps          (`runofshow.app.steps.handlers`) T-20 the war room; T-10 the nine preflight
                   checks (halt before T0 unless 9/9 or the IC's recorded override) and the
                   blast-radius probe when timeline.blast_radius.url is set; the first night's
                   24 h burn rate; with --repo (or the demo's in-memory pull requests) the freeze
                   starts at T-30 and is lifted at the close-out (after a rollback too when
                   timeline.lift_freeze_after_rollback)
    communications Slack war room, pager yellow/green, GitHub deployments (`app.bootstrap_comms`)
    first night    the SLO burn rate at every check-in (`runofshow.app.run.first_night.BurnWatch`):
                   timeline.slo_error_ratio_query on Prometheus, else the error-rate gate
    windows        before each stage, the market-window gate (unless check_windows=False)
    ledger polling while waiting, the runner looks for other processes' events (`runofshow decide`,
                   `runofshow note`) every RunOptions.ledger_poll_s wall seconds on a real clock
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from runofshow.app import settings
from runofshow.app.bootstrap_comms import wire_communications
from runofshow.app.bootstrap_steps import (
    alert_rules_check,
    demo_pull_requests,
    freeze_store,
    load_generator,
    market_calendar,
    pull_request_host,
)
from runofshow.app.run.clock import RunClock, clock_for, resumed_clock
from runofshow.app.run.first_night import BurnWatch, ErrorRatio
from runofshow.app.run.recorder import load_state
from runofshow.app.run.runner import Runner, RunPorts
from runofshow.app.run.state import RunState
from runofshow.app.run.steps import StepHandler
from runofshow.app.run.world import World, closer_of
from runofshow.app.steps.handlers import blast_handler, freeze_steps, preflight_handler, war_room_handler
from runofshow.app.steps.preflight import Override
from runofshow.app.steps.probes import PreflightTools
from runofshow.domain.plan import Plan
from runofshow.domain.timeline import StepKind
from runofshow.errors import AdapterError, InputError
from runofshow.ports import (
    AlertFeed,
    Ledger,
    MetricsSource,
    TrafficRouter,
)

STATE_ENV = "RUNOFSHOW_STATE"
#: Prometheus needs two scrapes inside a rate() window; compressed runs never ask for less
PROMETHEUS_MIN_WINDOW_S = 5.0
#: wall seconds the notification fan-out may take at shutdown (the runner flushed it at the end)
FANOUT_CLOSE_S = 1.0


@dataclass(frozen=True)
class RunOptions:
    """What the CLI adds to the plan."""

    state_url: str | None = None
    speed: float | None = None  # None: 1 for a new run, the recorded speed on resume
    listen: str | None = None  # Alertmanager webhook host:port
    check_windows: bool = True
    repo: str | None = None  # OWNER/NAME whose PRs the freeze labels
    no_freeze: bool = False  # skip the freeze steps whatever the plan says (--no-freeze)
    min_query_window_s: float | None = None
    min_checkin_window_s: float = 0.0  # a first-night check-in looks back at least this long (wall s)
    preflight_override: Override | None = None  # the IC opens T0 despite failed T-10 checks
    ledger_poll_s: float = 0.25  # wall seconds between looks for other processes' events


def resolve_state_url(
    option: str | None, plan: Plan | None = None, environ: Mapping[str, str] | None = None,
    evidence_dir: str | Path | None = None,
) -> str:
    """The ledger URL: --state, plan.state, RUNOFSHOW_STATE, or SQLite beside the evidence folder."""
    from runofshow.adapters.ledger_sql import default_state_url

    env = settings.environment(environ)
    evidence = evidence_dir or (plan.evidence_dir if plan else "evidence")
    return option or (plan.state if plan else None) or env.get(STATE_ENV) or default_state_url(evidence)


def ledger_url(url: str) -> str:
    """`postgresql://` (and `postgres://`) mean the installed psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def open_ledger(url: str) -> Ledger:
    from runofshow.adapters.ledger_sql import SqlLedger

    return SqlLedger(ledger_url(url))


def open_war_room(url: str) -> tuple[Ledger, Any]:
    """The ledger and, beside it in the same database, the web app's API token hashes (a TokenStore)."""
    from runofshow.adapters.ledger_sql import SqlLedger

    store = SqlLedger(ledger_url(url))
    return store, store


def war_room_server(url: str, token: str) -> Any:
    """A client of a `runofshow serve` JSON API (`decide|note|handover --server URL`)."""
    from runofshow.adapters.war_room_client import WarRoomClient

    return WarRoomClient(url, token)


def decision_ports(plan: Plan, action: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """What an incident commander's decision needs besides the ledger, as `runofshow decide` builds
    it: for a rollback the plan's router (unless it lives in the runner: memory) and notifications."""
    if action != "rollback":
        return {}
    fanout = build_notifications(plan, environ)
    remote = plan.traffic_router.kind != "memory"
    return {"router": (lambda p: build_router(p, environ)) if remote else None, "notifier": fanout,
            "annotator": fanout}


def build_router(plan: Plan, environ: Mapping[str, str]) -> TrafficRouter:
    s = plan.traffic_router
    if s.kind == "local_proxy":
        from runofshow.adapters.local_proxy import LocalProxyRouter

        return LocalProxyRouter(s)
    if s.kind == "ingress_nginx":
        from runofshow.adapters.ingress_nginx import IngressNginxRouter

        return IngressNginxRouter(s)
    if s.kind == "nginx_file":
        from runofshow.adapters.nginx_file import NginxFileRouter

        return NginxFileRouter(s)
    if s.kind == "flag_api":
        from runofshow.adapters.flag_api import FlagApiRouter

        return FlagApiRouter(s, token=settings.flag_api_token(s, environ))
    from runofshow.adapters.memory import InMemoryRouter

    return InMemoryRouter()


def build_metrics(plan: Plan, environ: Mapping[str, str]) -> MetricsSource:
    s = plan.metrics_source
    if s.kind == "prometheus":
        from runofshow.adapters.prometheus import PrometheusMetricsSource

        return PrometheusMetricsSource(s, plan.gates, plan.requests_query,
                                       settings.prometheus_credentials(s, environ))
    from runofshow.adapters.web_json import WebJsonMetricsSource

    return WebJsonMetricsSource(s)










def preflight_tools(environ: Mapping[str, str] | None = None) -> PreflightTools:
    """What the preflight asks the world with: HTTP, commands, and this module's factories."""
    from runofshow.adapters.http_probe import HttpxProbe
    from runofshow.adapters.local_process import LocalCommandRunner

    return PreflightTools(
        http=HttpxProbe(), commands=LocalCommandRunner(), router=build_router, metrics=build_metrics,
        calendar=market_calendar, alert_rules=alert_rules_check, freeze_store=freeze_store,
        environ=settings.environment(environ))




def start_local_proxy(stable_url: str, canary_url: str, host: str, port: int) -> Any:
    """The demo's weighted proxy, listening (`stop()` ends it; `url` is where to send traffic)."""
    from runofshow.adapters.local_proxy import LocalProxy

    return LocalProxy(stable_url, canary_url, host=host, port=port).start()


def _build_alerts(
    plan: Plan, options: RunOptions, environ: Mapping[str, str], world: World,
) -> AlertFeed | None:
    src = plan.alert_source
    listen = options.listen or src.webhook_listen
    if listen:
        from runofshow.adapters.alertmanager import AlertmanagerWebhook

        token = settings.webhook_token(src, listen, environ)
        try:
            hook = AlertmanagerWebhook.from_settings(src.model_copy(update={"webhook_listen": listen}),
                                                     token, on_alert=world._alert,
                                                     on_refused=world._refused)
        except AdapterError as err:
            raise InputError(str(err)) from None
        hook.start()
        world.webhook = hook
        world.on_close(hook.stop)
        world._t0_targets.append(hook)
        return hook
    if src.poll_prometheus and plan.metrics_source.kind == "prometheus":
        from runofshow.adapters.prometheus import PrometheusAlertFeed

        feed = PrometheusAlertFeed(plan.metrics_source, src.match_labels,
                                   settings.prometheus_credentials(plan.metrics_source, environ))
        world.on_close(feed.close)
        world._t0_targets.append(feed)
        return feed
    return None


def build_notifications(plan: Plan, environ: Mapping[str, str],
                        on_failure: Callable[[Any], None] | None = None) -> Any:
    """The plan's channels behind one non-blocking `NotifierFanout` (None when there are none)."""
    n = plan.notifications
    notifiers: list[Any] = []
    annotators: list[Any] = []
    slack_url = settings.slack_webhook_url(n, environ)
    if slack_url:
        from runofshow.adapters.slack import SlackWebhookNotifier

        notifiers.append(SlackWebhookNotifier(slack_url))
    if n.webhook_url:
        from runofshow.adapters.webhook import JsonWebhookNotifier

        notifiers.append(JsonWebhookNotifier(n.webhook_url))
    if n.grafana_url:
        from runofshow.adapters.grafana import GrafanaAnnotator

        annotators.append(GrafanaAnnotator(n.grafana_url, settings.grafana_token(n, environ),
                                           dashboard_uid=n.grafana_dashboard_uid))
    if not notifiers and not annotators:
        return None
    from runofshow.app.run.notify import NotifierFanout

    return NotifierFanout(notifiers, annotators, on_failure=on_failure)


def _build_notifications(plan: Plan, environ: Mapping[str, str], world: World) -> Any:
    fanout = build_notifications(plan, environ, world._notify_failed)
    if fanout is not None:
        world.fanout = fanout
        world.on_close(lambda: fanout.close(FANOUT_CLOSE_S))
    return fanout




def _error_ratio(plan: Plan, metrics: MetricsSource) -> ErrorRatio | None:
    """timeline.slo_error_ratio_query on the run's own Prometheus source; None without one."""
    from runofshow.adapters.prometheus import PrometheusMetricsSource

    if not isinstance(metrics, PrometheusMetricsSource):
        return None
    query = plan.timeline.slo_error_ratio_query

    def ratio(window: str, wall_s: float, at: datetime) -> float | None:
        return metrics.client.instant(metrics.render(query, wall_s), at)

    return ratio


def _window_gate(plan: Plan) -> Callable[[datetime, int], tuple[bool, str]]:
    from runofshow.app.steps.windows import stage_gate
    from runofshow.domain.windows import Activity

    calendar = market_calendar(plan)

    def gate(at: datetime, stage: int) -> tuple[bool, str]:
        g = stage_gate(plan, calendar, Activity.CANARY, at)
        return g.allowed, g.reason

    return gate


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
            alerts = _build_alerts(plan, options, env, world)
        fanout = None
        if "notifier" not in overrides and "annotator" not in overrides:
            fanout = _build_notifications(plan, env, world)
        override = options.preflight_override
        watch = BurnWatch(plan, clock, ratio=_error_ratio(plan, metrics), min_window_s=floor)
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
            _window_gate(plan) if options.check_windows else None)
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


def _redacted(url: str) -> str:
    from sqlalchemy import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL: keep nothing of it
        return "(unparsed)"


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
        runner = Runner.start(plan, world.ports, run_id=run_id, state_url=_redacted(url), meta=meta,
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


__all__ = [
    "RunOptions", "World", "alert_rules_check", "build_metrics", "build_notifications", "build_router",
    "build_world", "decision_ports", "demo_pull_requests", "freeze_store", "load_generator", "load_run",
    "market_calendar", "open_ledger", "open_war_room", "preflight_tools", "pull_request_host",
    "resolve_state_url", "resume_run", "start_local_proxy", "start_run", "war_room_server",
]
