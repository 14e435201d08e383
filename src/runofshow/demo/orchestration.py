"""`runofshow demo`: a whole canary run-of-show against local sample services, compressed.

    stable (v1.3.x) and canary (v1.4.0) sample services   free loopback ports
    the local weighted proxy                               the demo's traffic router
    a steady load generator                                through the proxy
    Prometheus + Alertmanager (when both are on PATH)      1 s scrape and evaluation, group_wait 0 s,
                                                           alerts pushed to the runner's webhook
    otherwise the services' /metrics.json                  (the web JSON source; said on screen)

The default plan is written to `<out>/plan.yaml` with the ports filled in and run with a
compressed clock: the canary stages at `speed` (default 60: T0 .. T+90 in 90 s, one tick a
second, as often as Prometheus scrapes), the time before T0 at `pre_t0_speed` (360: 5 s, plus the
real seconds of the preflight and the blast-radius probe, which run in real time) and the 24 h
first night at `night_speed` (default 3600: 24 s), so the whole T-30 .. T+24h takes a little over
two minutes. `fault` is injected into the canary when the middle stage starts (25 % by default);
the run must then roll back by itself. The ledger (`<out>/runofshow.db` unless `state_url`) and
the evidence folder are under `out`. `resume` takes a demo run up again on the same ports.

The whole ritual runs with nothing typed by hand: the freeze labels three in-memory pull requests
at T-30; the war room opens at T-20; at T-10 the preflight checks the canary's /version (the
artifact) and /healthz, the metrics source, the auto-rollback rules in Prometheus, the proxy at 0 %,
a backup time (simulated: a command that prints the current time), the market window, the freeze
record and the notification channel -- a local webhook sink the demo starts, which also takes the
Grafana annotations -- and then a blast-radius probe hits the canary. Both run in real time
(phase speed "steps"), so T0 is not passed while they work. Without Prometheus the alert-rules
check cannot pass (the alert comes from the canary's own report): the demo's incident commander
overrides it, and says so. The demo's SLO is 99.5 % (its services fail 0.2 % of requests by
design, a 0.4x burn; against 99.9 % that would be 2x, past the seed's 1.5).

The sample services, load generator, webhook sink and configuration renderers live in
`runofshow.demo`, which sits above this layer; the CLI hands them in as a `DemoKit`. Adapters come
from the bootstrap.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from runofshow.app import bootstrap, settings
from runofshow.app.bootstrap import RunOptions
from runofshow.app.run.event_types import StepStarted, parse
from runofshow.app.run.runner import Runner
from runofshow.app.run.state import RunState
from runofshow.app.steps.preflight import Override
from runofshow.demo import comms
from runofshow.demo.processes import (
    LOOPBACK,
    Process,
    free_port,
    port_of,
    prometheus_binaries,
    stop_stale,
)
from runofshow.domain.connections import (
    AlertSourceSettings,
    JsonEndpoint,
    LocalProxyRouterSettings,
    NotificationSettings,
    PrometheusSettings,
    WebJsonMetric,
    WebJsonSettings,
)
from runofshow.domain.plan import BlastRadius, Plan, Preflight, Timeline
from runofshow.domain.tick import Alert
from runofshow.domain.timeline import StepKind
from runofshow.errors import InputError, RunOfShowError
from runofshow.ports import LedgerEvent

log = logging.getLogger(__name__)

FAULTS = ("none", "latency", "errors", "leak", "alert")
DEFAULT_SPEED = 60.0  # the canary stages: T0 .. T+90 in 90 s, a tick a second like the scrapes
DEFAULT_NIGHT_SPEED = 3600.0  # the 24 h first night in 24 s
#: T-30 .. T0 in 5 s (plus the real seconds of the preflight and the blast-radius probe): slow
#: enough that the ledger's own writes do not push a step minutes past its planned minute
DEFAULT_PRE_T0_SPEED = 360.0
STABLE_VERSION, CANARY_VERSION = "v1.3.9", "v1.4.0"
TOKEN_ENV = "RUNOFSHOW_WEBHOOK_TOKEN"
SCRAPE_S = 0.25  # Prometheus scrapes and evaluates this often, so a 1 s window holds 4 samples
QUERY_WINDOW_S = 1.0  # wall seconds a metric looks back at least: one tick at the default speed
BACKUP_COMMAND = "date -u +%Y-%m-%dT%H:%M:%SZ"  # simulated: "the last backup finished just now"
#: a first-night check-in covers an hour, one second of wall time at 3600x: about 600 requests, too
#: few to judge a 0.2 % error rate without reading noise as a breach; the demo's check-ins look back
#: 5 s (five compressed hours, some 3000 requests)
CHECKIN_WINDOW_S = 5.0
DEMO_SLO_PCT = 99.5
DEMO_IC = "ic-on-call"


@dataclass(frozen=True)
class DemoKit:
    """The pieces from `runofshow.demo`, handed in by the CLI."""

    service: Callable[..., Any]  # (version, track, port=, seed=) -> SampleService
    load: Callable[..., Any]  # (target_url, rate_per_s, seed, max_duration_s=) -> LoadGenerator
    prometheus_yml: Callable[..., str]
    alert_rules_yml: Callable[..., str]
    alertmanager_yml: Callable[..., str]
    webhook_sink: Callable[..., Any] | None = None  # (log_path) -> WebhookSink (not started)


@dataclass(frozen=True)
class DemoOptions:
    out_dir: Path = Path("demo-out")
    fault: str = "none"
    speed: float = DEFAULT_SPEED
    night_speed: float = DEFAULT_NIGHT_SPEED
    pre_t0_speed: float = DEFAULT_PRE_T0_SPEED
    state_url: str | None = None
    resume: str | None = None
    use_prometheus: bool = True  # when prometheus and prometheus-alertmanager are on PATH
    load_rate: float = 600.0
    fault_stage: int | None = None  # 0-based; default: the middle stage
    scrape_s: float = SCRAPE_S  # Prometheus scrape and rule evaluation interval
    no_freeze: bool = False  # skip the freeze steps (recorded as skipped)


class ServiceAlertFeed:
    """Without Prometheus: the canary service's own crash-loop report, read in process."""

    def __init__(self, service: Any, match_labels: Mapping[str, str]) -> None:
        self.service, self.match_labels = service, dict(match_labels)

    def firing(self, at: datetime) -> tuple[Alert, ...]:
        snap = self.service.snapshot(1.0)
        if not snap.get("alert"):
            return ()
        alert = Alert(name=str(snap["alert"]), labels=dict(snap.get("alert_labels") or {}))
        return (alert,) if alert.matches(self.match_labels) else ()


def demo_plan(out_dir: Path, stable_url: str, canary_url: str, proxy_port: int, *,
              prometheus_url: str | None, webhook_port: int | None, state_url: str | None,
              window_s: float = QUERY_WINDOW_S, sink_url: str | None = None) -> Plan:
    """The default plan, pointed at the demo's services, proxy and metrics (`window_s`: how far
    back the web JSON source looks; Prometheus queries get the runner's window), with the T-10
    checks, the blast-radius probe and the notification channel (`sink_url`) on local things."""
    if prometheus_url is not None:
        metrics: PrometheusSettings | WebJsonSettings = PrometheusSettings(
            url=prometheus_url, timeout_s=2, retries=1)
    else:
        def metric(path: str) -> WebJsonMetric:
            q = f"/metrics.json?window_s={window_s:g}"
            return WebJsonMetric(baseline=JsonEndpoint(url=stable_url + q, path=path),
                                 canary=JsonEndpoint(url=canary_url + q, path=path))

        names = ("http_p95_ms", "http_5xx_pct", "ws_lag_s", "idempotency_conflict_pct", "csp_violations",
                 "pgbouncer_pool_util_pct", "requests")
        metrics = WebJsonSettings(metrics={n: metric(n) for n in names})
    alerts = (AlertSourceSettings(webhook_listen=f"{LOOPBACK}:{webhook_port}") if webhook_port
              else AlertSourceSettings(poll_prometheus=False))
    return Plan(
        traffic_router=LocalProxyRouterSettings(listen=f"{LOOPBACK}:{proxy_port}", stable_url=stable_url,
                                        canary_url=canary_url),
        metrics_source=metrics, alert_source=alerts, evidence_dir=str(out_dir / "evidence"),
        state=state_url,
        preflight=Preflight(artifact_url=f"{canary_url}/version", canary_health_url=f"{canary_url}/healthz",
                            backup_check_command=BACKUP_COMMAND, timeout_s=5),
        timeline=Timeline(slo_target_pct=DEMO_SLO_PCT, blast_radius=BlastRadius(
            url=f"{canary_url}/api/quotes", seconds=3, rate=50, concurrency=20)),
        notifications=NotificationSettings(
            slack_webhook_url_env=None, webhook_url=f"{sink_url}/hooks/runofshow" if sink_url else None,
            grafana_url=sink_url),
        communications=comms.demo_communications(DEMO_IC),
    )


class DemoSession:
    """Starts everything, holds the runner, stops everything (also on error): a context manager."""

    def __init__(self, options: DemoOptions, kit: DemoKit, *,
                 on_event: Callable[[LedgerEvent, RunState], None] | None = None,
                 on_interrupt: Callable[[RunState], str] | None = None,
                 environ: Mapping[str, str] | None = None,
                 overrides: Mapping[str, Any] | None = None) -> None:
        if options.fault not in FAULTS:
            raise InputError(f"--fault: '{options.fault}' is not one of {', '.join(FAULTS)}")
        self.options, self.kit = options, kit
        self.out = options.out_dir.resolve()
        self._on_event, self._on_interrupt = on_event, on_interrupt
        self._environ = dict(settings.environment(environ))
        self._stops: list[Callable[[], None]] = []
        self.source = ""
        self.plan: Plan | None = None
        self.runner: Runner | None = None
        self.world: bootstrap.World | None = None
        self.canary: Any = None
        self._overrides = dict(overrides or {})
        self.fault_stage = 0
        self.fault_injected_at: float | None = None  # time.monotonic() of the injection
        self.sink: Any = None
        self.comms = comms.Journal(self.out / comms.JOURNAL_FILE)  # the Slack / pager / GitHub calls
        self.notes: list[str] = []  # what the demo simulates, said on screen

    @property
    def min_window_s(self) -> float:
        """No metric looks back less than four scrapes (or one tick at the default speed)."""
        return max(QUERY_WINDOW_S, 4 * self.options.scrape_s)

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> DemoSession:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for stop in reversed(self._stops):
            try:
                stop()
            except Exception as err:  # stop the rest whatever one does
                log.warning("demo: stopping %s failed: %s", getattr(stop, "__qualname__", stop), err)
        self._stops.clear()

    def start(self) -> Runner:
        o = self.options
        self.out.mkdir(parents=True, exist_ok=True)
        prev = self._previous_plan() if o.resume else None  # a resumed demo keeps its ports
        stable = self._service(STABLE_VERSION, "baseline",
                               prev.traffic_router.stable_url if prev else None, 1)
        self.canary = canary = self._service(CANARY_VERSION, "canary",
                                             prev.traffic_router.canary_url if prev else None, 2)
        proxy_port = port_of(prev.traffic_router.listen) if prev else free_port()
        proxy = bootstrap.start_local_proxy(stable.url, canary.url, LOOPBACK, proxy_port)
        self._stops.append(proxy.stop)
        wall_s = Plan().nominal_duration_min * 60 / o.speed + 25 * 3600 / o.night_speed + 300
        load = self.kit.load(proxy.url, o.load_rate, 3, max_duration_s=wall_s).start()
        self._stops.append(load.stop)
        prometheus_url, webhook_port = None, None
        binaries = prometheus_binaries() if o.use_prometheus else None
        if binaries is not None:
            was_prom = prev is not None and prev.metrics_source.kind == "prometheus"
            prom_port = port_of(prev.metrics_source.url) if was_prom else free_port()  # type: ignore[union-attr]
            hook = prev.alert_source.webhook_listen if prev else None
            webhook_port = port_of(hook) if hook else free_port()
            prometheus_url = self._start_prometheus(binaries, stable.url, canary.url, prom_port, webhook_port)
            self.source = (f"metrics: Prometheus {prometheus_url} (scrape {o.scrape_s:g} s); alerts: "
                           f"Alertmanager -> webhook {LOOPBACK}:{webhook_port}")
        else:
            why = "disabled" if not o.use_prometheus else "prometheus / prometheus-alertmanager not on PATH"
            self.source = f"metrics: the services' /metrics.json (web JSON source; {why})"
        window_s = max(self.min_window_s, Plan().decision.tick_interval_s / o.speed)
        sink_url = self._start_sink(prev)
        self.plan = plan = demo_plan(
            self.out, stable.url, canary.url, proxy_port, prometheus_url=prometheus_url,
            webhook_port=webhook_port, state_url=o.state_url, window_s=window_s, sink_url=sink_url)
        self.notes += [
            f"backup check: simulated (`{BACKUP_COMMAND}` stands in for the last backup's time)",
            "pull requests: in memory (acme/spark-trading #12, #15, #17), labelled hold-for-canary at T-30",
            f"Slack war room, PagerDuty and GitHub deployment: in memory, every call in {self.comms.path}",
            f"user feedback: simulated ({comms.FEEDBACK_BY}: '{comms.FEEDBACK[0]}' at the first night)",
            f"T-10: preflight on the canary's /version and /healthz, blast radius on {canary.url}/api/quotes",
        ]
        (self.out / "plan.yaml").write_text(yaml.safe_dump(plan.model_dump(mode="json"), sort_keys=False))
        self.fault_stage = o.fault_stage if o.fault_stage is not None else len(plan.stages) // 2
        return self._start_runner(plan, canary)

    def _start_sink(self, prev: Plan | None) -> str | None:
        """The local webhook sink: the notification channel and the Grafana annotations."""
        if self.kit.webhook_sink is None:
            return None
        was = prev.notifications.grafana_url if prev is not None else None
        self.sink = self.kit.webhook_sink(self.out / "notifications.jsonl", port=port_of(was) if was else 0)
        self.sink.start()
        self._stops.append(self.sink.stop)
        self.notes.append(f"notifications and Grafana annotations: a local webhook sink {self.sink.url} "
                          f"(kept in {self.out / 'notifications.jsonl'})")
        return str(self.sink.url)

    def _service(self, version: str, track: str, url: str | None, seed: int) -> Any:
        service = self.kit.service(version, track, port=port_of(url) if url else 0, seed=seed).start()
        self._stops.append(service.stop)
        return service

    def _previous_plan(self) -> Plan:
        assert self.options.resume is not None
        ledger = bootstrap.open_ledger(self._state_url())
        try:
            plan, _ = bootstrap.load_run(self.options.resume, ledger)
        finally:
            getattr(ledger, "close", lambda: None)()
        return plan

    def _state_url(self) -> str:
        return bootstrap.resolve_state_url(self.options.state_url, evidence_dir=self.out / "evidence")

    def _start_prometheus(self, binaries: tuple[str, str], stable_url: str, canary_url: str,
                          prom_port: int, webhook_port: int) -> str:
        prom_bin, am_bin = binaries
        token = secrets.token_urlsafe(24)
        self._environ[TOKEN_ENV] = token
        work = self.out / "prometheus"
        work.mkdir(parents=True, exist_ok=True)
        stale = stop_stale(work)  # what a demo killed in this folder left running
        if stale:
            self.notes.append(f"stopped what an earlier demo in {work} left running: "
                              f"pid {', '.join(map(str, stale))}")
        am_port = free_port()
        (work / "alertmanager.yml").write_text(self.kit.alertmanager_yml(
            f"http://{LOOPBACK}:{webhook_port}/alerts", token, group_wait_s=0.0))
        am = Process("alertmanager", [
            am_bin, f"--config.file={work / 'alertmanager.yml'}", f"--storage.path={work / 'am-data'}",
            f"--web.listen-address={LOOPBACK}:{am_port}", "--cluster.listen-address=", "--log.level=warn",
        ], work / "alertmanager.log")
        self._stops.append(am.stop)
        (work / "rules.yml").write_text(self.kit.alert_rules_yml(error_window_s=5.0))
        (work / "prometheus.yml").write_text(self.kit.prometheus_yml(
            {"baseline": stable_url, "canary": canary_url}, rule_files=[str(work / "rules.yml")],
            alertmanager_url=f"http://{LOOPBACK}:{am_port}", scrape_interval_s=self.options.scrape_s,
            evaluation_interval_s=self.options.scrape_s))
        prom = Process("prometheus", [
            prom_bin, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address={LOOPBACK}:{prom_port}", "--log.level=warn",
            "--storage.tsdb.retention.time=2h",
        ], work / "prometheus.log")
        self._stops.append(prom.stop)
        url = f"http://{LOOPBACK}:{prom_port}"
        am.wait_ready(f"http://{LOOPBACK}:{am_port}/-/ready")
        prom.wait_ready(f"{url}/-/ready")
        self._wait_scraped(url)
        return url

    @staticmethod
    def _wait_scraped(url: str, timeout_s: float = 30.0) -> None:
        """Until Prometheus has two scrapes of both services (rate() needs two samples)."""
        import httpx

        deadline = time.monotonic() + timeout_s
        query = 'count(count_over_time(up{job="spark-trading"}[10s]) >= 2)'
        while time.monotonic() < deadline:
            try:
                result = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=2).json()
                values = result.get("data", {}).get("result", [])
                if values and float(values[0]["value"][1]) >= 2:
                    return
            except (httpx.HTTPError, ValueError, KeyError, IndexError) as err:
                log.debug("demo: prometheus not ready yet: %s", err)
            time.sleep(0.2)
        raise RunOfShowError(f"Prometheus at {url} did not scrape the sample services within {timeout_s:g} s")

    def _start_runner(self, plan: Plan, canary: Any) -> Runner:
        o = self.options
        overrides: dict[str, Any] = {"on_event": self._event, "on_interrupt": self._on_interrupt,
                                     **self._overrides}
        override = None
        if plan.metrics_source.kind != "prometheus":
            overrides["alerts"] = ServiceAlertFeed(canary, plan.alert_source.match_labels)
            override = Override(DEMO_IC, "demo without Prometheus: no alert rules to list; the "
                                "auto-rollback alert is the canary's own crash-loop report")
            self.notes.append(f"preflight: alert rules cannot be checked without Prometheus; "
                              f"IC {DEMO_IC} overrides: {override.reason}")
        overrides["phase_speeds"] = {"stages": o.speed, "first_night": o.night_speed, "steps": 1.0}
        overrides = {**comms.demo_overrides(plan, self.comms), **overrides}
        overrides.setdefault("pull_requests", bootstrap.demo_pull_requests())
        options = RunOptions(state_url=self._state_url(), speed=None if o.resume else o.pre_t0_speed,
                             check_windows=False, min_query_window_s=self.min_window_s,
                             min_checkin_window_s=CHECKIN_WINDOW_S,
                             preflight_override=override, no_freeze=o.no_freeze)
        if o.resume:
            world, runner = bootstrap.resume_run(o.resume, options, environ=self._environ,
                                                 plan_override=lambda _: plan, **overrides)
            if any(s >= self.fault_stage for s in runner.state.stages_started):
                self._inject()
        else:
            world, runner = bootstrap.start_run(plan, options, environ=self._environ,
                                                meta={"demo": {"fault": o.fault, "source": self.source}},
                                                **overrides)
        self._stops.append(world.close)
        self.world, self.runner = world, runner
        return runner

    # ------------------------------------------------------------------ fault injection

    def _inject(self) -> None:
        if self.options.fault != "none" and self.fault_injected_at is None:
            self.canary.set_fault(self.options.fault)
            self.fault_injected_at = time.monotonic()

    def _event(self, event: LedgerEvent, state: RunState) -> None:
        match parse(event):
            case StepStarted(step_kind=StepKind.STAGE, stage=stage) if stage == self.fault_stage:
                self._inject()
            case StepStarted(step_kind=StepKind.FIRST_NIGHT) if self.runner is not None:
                comms.relay_feedback(self.runner.ports.ledger, event.run_id)
        if self._on_event is not None:
            self._on_event(event, state)


__all__ = ["DEFAULT_NIGHT_SPEED", "DEFAULT_SPEED", "FAULTS", "DemoKit", "DemoOptions", "DemoSession",
           "demo_plan", "prometheus_binaries"]
