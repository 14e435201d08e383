"""The composition root: the ONLY place that builds real adapters, from the plan + environment +
CLI options. Tests pass fakes for any port (`build_world(plan, options, router=..., metrics=...)`)
and get the same wiring otherwise.

    state URL      --state, else plan.state, else RUNOFSHOW_STATE, else SQLite runofshow.db beside
                   the evidence folder (`ledger`)
    router         plan.traffic_router.kind: local_proxy, ingress_nginx, nginx_file, flag_api, memory
                   (`router`)
    metrics        plan.metrics_source.kind: prometheus, web_json (`metrics`)
    alerts         an Alertmanager webhook receiver when --listen or alert_source.webhook_listen is
                   set (bearer token from alert_source.webhook_token_env); otherwise, polling
                   Prometheus /api/v1/alerts when alert_source.poll_prometheus and the metrics come
                   from Prometheus; otherwise none (`alerts`)
    notifications  Slack (notifications.slack_webhook_url_env), a JSON webhook
                   (notifications.webhook_url) and Grafana annotations (notifications.grafana_url),
                   behind one non-blocking fan-out (`runofshow.app.run.notify`), closed with the world
                   (`notifications`)
    steps          (`runofshow.app.steps.handlers`) T-20 the war room; T-10 the nine preflight
                   checks (halt before T0 unless 9/9 or the IC's recorded override) and the
                   blast-radius probe when timeline.blast_radius.url is set; the first night's
                   24 h burn rate; with --repo (or the demo's in-memory pull requests) the freeze
                   starts at T-30 and is lifted at the close-out (after a rollback too when
                   timeline.lift_freeze_after_rollback) (`steps`)
    communications Slack war room, pager yellow/green, GitHub deployments (`comms`)
    first night    the SLO burn rate at every check-in (`runofshow.app.run.first_night.BurnWatch`):
                   timeline.slo_error_ratio_query on Prometheus, else the error-rate gate (`metrics`)
    windows        before each stage, the market-window gate (unless check_windows=False) (`steps`)
    ledger polling while waiting, the runner looks for other processes' events (`runofshow decide`,
                   `runofshow note`) every RunOptions.ledger_poll_s wall seconds on a real clock

The parts: `options` (RunOptions), `world` (build_world: every port of a run), `runs` (start, load,
resume), `warroom` (serve, decide, note and handover outside a run), `team` (team mode's leases).
Only this package imports `runofshow.adapters`; the use cases get what they need handed DOWN.
"""

from __future__ import annotations

from runofshow.app.bootstrap.comms import build_slack_endpoint, demo_comms_ports
from runofshow.app.bootstrap.ledger import open_ledger, resolve_state_url
from runofshow.app.bootstrap.metrics import build_metrics
from runofshow.app.bootstrap.notifications import build_notifications
from runofshow.app.bootstrap.options import RunOptions
from runofshow.app.bootstrap.router import build_router, start_local_proxy
from runofshow.app.bootstrap.runs import load_run, resume_run, start_run
from runofshow.app.bootstrap.steps import (
    alert_rules_check,
    demo_pull_requests,
    freeze_store,
    load_generator,
    market_calendar,
    preflight_tools,
    pull_request_host,
)
from runofshow.app.bootstrap.team import open_leases, open_team
from runofshow.app.bootstrap.warroom import decision_ports, open_war_room, war_room_server
from runofshow.app.bootstrap.world import World, build_world

__all__ = [
    "RunOptions", "World", "alert_rules_check", "build_metrics", "build_notifications", "build_router",
    "build_slack_endpoint", "build_world", "decision_ports", "demo_comms_ports", "demo_pull_requests",
    "freeze_store", "load_generator", "load_run", "market_calendar", "open_leases", "open_ledger",
    "open_team", "open_war_room", "preflight_tools", "pull_request_host", "resolve_state_url",
    "resume_run", "start_local_proxy", "start_run", "war_room_server",
]
