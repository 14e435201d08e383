"""`runofshow demo`: a whole canary run-of-show against local sample services, compressed.

    stable (v1.3.x) and canary (v1.4.0) sample services   free loopback ports
    the local weighted proxy                               the demo's traffic router
    a steady load generator                                through the proxy
    Prometheus + Alertmanager (when both are on PATH)      1 s scrape and evaluation, group_wait 0 s,
                                                           alerts pushed to the runner's webhook
    otherwise the services' /metrics.json                  (the web JSON source; said on screen)

The default plan is written to `<out>/plan.yaml` with the ports filled in and run with a
compressed clock: the canary stages at `speed` (default 60: T0 .. T+90 in 90 s, one tick a
second, as often as Prometheus scrapes), the time before T0 and the 24 h first night at
`night_speed` (default 3600: 0.5 s and 24 s), so the whole T-30 .. T+24h takes about two
minutes. `fault` is injected into the canary when the middle stage starts (25 % by default); the
run must then roll back by itself. The ledger (`<out>/runofshow.db` unless `state_url`) and
the evidence folder are under `out`. `resume` takes a demo run up again on the same ports.

The sample services, load generator and configuration renderers live in `runofshow.demo`, which
sits above this layer; the CLI hands them in as a `DemoKit`. Adapters come from the bootstrap.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from runofshow.app import bootstrap, settings
from runofshow.app.bootstrap import RunOptions
from runofshow.app.events import EventKind
from runofshow.app.run_state import RunState
from runofshow.app.runner import Runner
from runofshow.domain.plan import (
    AlertSource,
    JsonEndpoint,
    LocalProxyRouter,
    Plan,
    PrometheusSource,
    WebJsonMetric,
    WebJsonSource,
)
from runofshow.domain.tick import Alert
from runofshow.domain.timeline import StepKind
from runofshow.errors import InputError, RunOfShowError
from runofshow.ports import LedgerEvent

FAULTS = ("none", "latency", "errors", "leak", "alert")
DEFAULT_SPEED = 60.0  # the canary stages: T0 .. T+90 in 90 s, a tick a second like the scrapes
DEFAULT_NIGHT_SPEED = 3600.0  # T-30 .. T0 in half a second, the 24 h first night in 24 s
LOOPBACK = "127.0.0.1"
STABLE_VERSION, CANARY_VERSION = "v1.3.9", "v1.4.0"
TOKEN_ENV = "RUNOFSHOW_WEBHOOK_TOKEN"
SCRAPE_S = 0.25  # Prometheus scrapes and evaluates this often, so a 1 s window holds 4 samples
QUERY_WINDOW_S = 1.0  # wall seconds a metric looks back at least: one tick at the default speed


@dataclass(frozen=True)
class DemoKit:
    """The pieces from `runofshow.demo`, handed in by the CLI."""

    service: Callable[..., Any]  # (version, track, port=, seed=) -> SampleService
    load: Callable[..., Any]  # (target_url, rate_per_s, seed, max_duration_s=) -> LoadGenerator
    prometheus_yml: Callable[..., str]
    alert_rules_yml: Callable[..., str]
    alertmanager_yml: Callable[..., str]


@dataclass(frozen=True)
class DemoOptions:
    out_dir: Path = Path("demo-out")
    fault: str = "none"
    speed: float = DEFAULT_SPEED
    night_speed: float = DEFAULT_NIGHT_SPEED
    state_url: str | None = None
    resume: str | None = None
    use_prometheus: bool = True  # when prometheus and prometheus-alertmanager are on PATH
    load_rate: float = 600.0
    fault_stage: int | None = None  # 0-based; default: the middle stage
    scrape_s: float = SCRAPE_S  # Prometheus scrape and rule evaluation interval


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _port(url_or_listen: str) -> int:
    return int(url_or_listen.rstrip("/").rsplit(":", 1)[1].split("/")[0])


def prometheus_binaries() -> tuple[str, str] | None:
    """(prometheus, alertmanager) when both are on PATH."""
    prom = shutil.which("prometheus")
    am = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    return (prom, am) if prom and am else None


class Process:
    """A service binary in its own session, its output in a log file, its pid in `<name>.pid`
    beside the log (so a demo killed with SIGKILL can be cleaned up); stop() = TERM, then KILL."""

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name, self.log_path = name, log_path
        self.pid_path = log_path.with_name(f"{name}.pid")
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid_path.write_text(str(self.proc.pid))

    def wait_ready(self, url: str, timeout_s: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-800:]
                raise RunOfShowError(f"{self.name} exited with {self.proc.returncode}: {tail}")
            try:
                if httpx.get(url, timeout=1.0).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RunOfShowError(f"{self.name} was not ready at {url} within {timeout_s:g} s")

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)
        self._log.close()
        self.pid_path.unlink(missing_ok=True)


def stop_stale(work: Path, timeout_s: float = 10.0) -> None:
    """Stop what an earlier demo in `work` left running (it was killed before it could): each
    `*.pid` there whose process still runs with `work` on its command line."""
    for pid_file in work.glob("*.pid"):
        try:
            pid = int(pid_file.read_text())
            alive = str(work).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except (ValueError, OSError):
            alive = False
        if alive:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        pid_file.unlink(missing_ok=True)


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
              window_s: float = QUERY_WINDOW_S) -> Plan:
    """The default plan, pointed at the demo's services, proxy and metrics (`window_s`: how far
    back the web JSON source looks; Prometheus queries get the runner's window)."""
    if prometheus_url is not None:
        metrics: PrometheusSource | WebJsonSource = PrometheusSource(
            url=prometheus_url, timeout_s=2, retries=1)
    else:
        def metric(path: str) -> WebJsonMetric:
            q = f"/metrics.json?window_s={window_s:g}"
            return WebJsonMetric(baseline=JsonEndpoint(url=stable_url + q, path=path),
                                 canary=JsonEndpoint(url=canary_url + q, path=path))

        names = ("http_p95_ms", "http_5xx_pct", "ws_lag_s", "idempotency_conflict_pct", "csp_violations",
                 "pgbouncer_pool_util_pct", "requests")
        metrics = WebJsonSource(metrics={n: metric(n) for n in names})
    alerts = (AlertSource(webhook_listen=f"{LOOPBACK}:{webhook_port}") if webhook_port
              else AlertSource(poll_prometheus=False))
    return Plan(
        traffic_router=LocalProxyRouter(listen=f"{LOOPBACK}:{proxy_port}", stable_url=stable_url,
                                        canary_url=canary_url),
        metrics_source=metrics, alert_source=alerts, evidence_dir=str(out_dir / "evidence"),
        state=state_url,
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
            except Exception:  # noqa: BLE001 - stop the rest whatever one does
                pass
        self._stops.clear()

    def start(self) -> Runner:
        o = self.options
        self.out.mkdir(parents=True, exist_ok=True)
        prev = self._previous_plan() if o.resume else None  # a resumed demo keeps its ports
        stable = self._service(STABLE_VERSION, "baseline",
                               prev.traffic_router.stable_url if prev else None, 1)
        self.canary = canary = self._service(CANARY_VERSION, "canary",
                                             prev.traffic_router.canary_url if prev else None, 2)
        proxy_port = _port(prev.traffic_router.listen) if prev else free_port()
        proxy = bootstrap.start_local_proxy(stable.url, canary.url, LOOPBACK, proxy_port)
        self._stops.append(proxy.stop)
        wall_s = Plan().nominal_duration_min * 60 / o.speed + 25 * 3600 / o.night_speed + 300
        load = self.kit.load(proxy.url, o.load_rate, 3, max_duration_s=wall_s).start()
        self._stops.append(load.stop)
        prometheus_url, webhook_port = None, None
        binaries = prometheus_binaries() if o.use_prometheus else None
        if binaries is not None:
            was_prom = prev is not None and prev.metrics_source.kind == "prometheus"
            prom_port = _port(prev.metrics_source.url) if was_prom else free_port()  # type: ignore[union-attr]
            hook = prev.alert_source.webhook_listen if prev else None
            webhook_port = _port(hook) if hook else free_port()
            prometheus_url = self._start_prometheus(binaries, stable.url, canary.url, prom_port, webhook_port)
            self.source = (f"metrics: Prometheus {prometheus_url} (scrape {o.scrape_s:g} s); alerts: "
                           f"Alertmanager -> webhook {LOOPBACK}:{webhook_port}")
        else:
            why = "disabled" if not o.use_prometheus else "prometheus / prometheus-alertmanager not on PATH"
            self.source = f"metrics: the services' /metrics.json (web JSON source; {why})"
        window_s = max(self.min_window_s, Plan().decision.tick_interval_s / o.speed)
        self.plan = plan = demo_plan(
            self.out, stable.url, canary.url, proxy_port, prometheus_url=prometheus_url,
            webhook_port=webhook_port, state_url=o.state_url, window_s=window_s)
        (self.out / "plan.yaml").write_text(yaml.safe_dump(plan.model_dump(mode="json"), sort_keys=False))
        self.fault_stage = o.fault_stage if o.fault_stage is not None else len(plan.stages) // 2
        return self._start_runner(plan, canary)

    def _service(self, version: str, track: str, url: str | None, seed: int) -> Any:
        service = self.kit.service(version, track, port=_port(url) if url else 0, seed=seed).start()
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
        stop_stale(work)
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
            except (httpx.HTTPError, ValueError, KeyError, IndexError):
                pass
            time.sleep(0.2)
        raise RunOfShowError(f"Prometheus at {url} did not scrape the sample services within {timeout_s:g} s")

    def _start_runner(self, plan: Plan, canary: Any) -> Runner:
        o = self.options
        overrides: dict[str, Any] = {"on_event": self._event, "on_interrupt": self._on_interrupt,
                                     **self._overrides}
        if plan.metrics_source.kind != "prometheus":
            overrides["alerts"] = ServiceAlertFeed(canary, plan.alert_source.match_labels)
        overrides["phase_speeds"] = {"stages": o.speed, "first_night": o.night_speed}
        options = RunOptions(state_url=self._state_url(), speed=None if o.resume else o.night_speed,
                             check_windows=False, min_query_window_s=self.min_window_s)
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
        p = event.payload
        if (event.kind == EventKind.STEP_STARTED and p.get("kind") == StepKind.STAGE.value
                and p.get("stage") == self.fault_stage):
            self._inject()
        if self._on_event is not None:
            self._on_event(event, state)


__all__ = ["DEFAULT_NIGHT_SPEED", "DEFAULT_SPEED", "FAULTS", "DemoKit", "DemoOptions", "DemoSession",
           "demo_plan", "prometheus_binaries"]
