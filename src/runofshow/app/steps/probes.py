"""The real things behind the preflight checks: HTTP, the backup command, the freeze record, the
notification channels, Prometheus' alert rules, the market calendar, and the plan's router and
metrics source.

This module builds nothing that talks to the world: `runofshow.app.bootstrap.preflight_tools`
hands it a `PreflightTools` (an `HttpProbe`, a `CommandRunner`, and factories for the router, the
metrics source, the market calendar, the alert-rules check and the freeze record), and
`PreflightWiring(plan, evidence_dir, tools)` wires them into a `PreflightContext`. The router,
metrics source and calendar are built lazily, inside the check that needs them, so an adapter that
cannot even be built (a missing token, an unknown calendar) fails its own check and not the whole
preflight.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runofshow.app import settings
from runofshow.app.run.steps import StepContext, StepOutcome
from runofshow.app.steps.preflight import (
    CheckError,
    HttpAnswer,
    HttpFetch,
    NotConfigured,
    Outcome,
    Override,
    PreflightContext,
    Probe,
    RunCommand,
    run_preflight,
)
from runofshow.domain.plan import Plan
from runofshow.domain.tick import TrackSample
from runofshow.errors import AdapterError
from runofshow.ports import (
    CommandRunner,
    FreezeStore,
    HttpProbe,
    MarketCalendar,
    MetricsSource,
    TrafficRouter,
    WeightNote,
)

log = logging.getLogger(__name__)

#: (plan, environ) -> which rules are loaded: an object with `found`, `missing`, `unhealthy` (tuples
#: of names) and `ok`, like `adapters.prometheus.RulesCheck` (`app.bootstrap.alert_rules_check`).
RulesCheckFn = Callable[[Plan, Mapping[str, str]], Any]


@dataclass(frozen=True)
class PreflightTools:
    """What the preflight asks the world with, handed down by `app.bootstrap.preflight_tools`."""

    http: HttpProbe
    commands: CommandRunner
    router: Callable[[Plan, Mapping[str, str]], TrafficRouter]
    metrics: Callable[[Plan, Mapping[str, str]], MetricsSource]
    calendar: Callable[[Plan], MarketCalendar]
    alert_rules: RulesCheckFn
    freeze_store: Callable[[Path], FreezeStore]
    environ: Mapping[str, str]


def http_fetch(probe: HttpProbe, timeout_s: float) -> HttpFetch:
    """GET/HEAD through `probe` with the plan's timeout; a transport error is a one-line CheckError."""

    def fetch(method: str, url: str) -> HttpAnswer:
        try:
            return probe.fetch(method, url, timeout_s)
        except AdapterError as err:
            raise CheckError(str(err)) from None

    return fetch


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def shell_command(runner: CommandRunner) -> RunCommand:
    """(command, timeout_s) -> its stdout: `command` run with /bin/sh through `runner`; a failure
    to start, a non-zero exit or the timeout is a one-line CheckError."""

    def run(command: str, timeout_s: float) -> str:
        try:
            done = runner.run(["/bin/sh", "-c", command], timeout_s)
        except AdapterError as err:
            raise CheckError(f"cannot run the backup command: {err}") from None
        if done.exit_code is None:
            raise CheckError(f"backup command timed out after {timeout_s:g} s")
        if done.exit_code != 0:
            lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
            why = lines[0].strip() if lines else "no output"
            raise CheckError(f"backup command exited {done.exit_code}: {why}")
        return done.stdout

    return run


def freeze_probe(store: FreezeStore) -> Probe:
    """Active when the freeze record (`runofshow freeze start`) says so."""

    def probe() -> Outcome:
        rec = store.load()
        if rec is None:
            return False, f"no freeze record ({store.location}): run `runofshow freeze start` first"
        if not rec.active:
            return False, f"the freeze of {rec.repo} ended at {rec.ended_at}"
        held = len(set(rec.labelled) | set(rec.held_by_hand))
        return True, (f"{rec.status} on {rec.repo} since {rec.active_at or rec.started_at}, "
                      f"{held} PR(s) labelled '{rec.label}'")

    return probe


#: statuses that say the URL itself is wrong or revoked, although the server answered
_DEAD = {401, 403, 404, 410}


def notifier_probe(plan: Plan, environ: Mapping[str, str], fetch: HttpFetch) -> Probe:
    """Every configured channel (Slack webhook from its environment variable, JSON webhook) answers
    HTTP without a server error or a not-found/revoked status. A GET posts nothing. Only the host is
    shown: webhook URLs are secrets."""
    n = plan.notifications
    targets: list[tuple[str, str]] = []
    slack_url = settings.slack_webhook_url(n, environ)
    if slack_url:
        targets.append(("slack", slack_url))
    if n.webhook_url:
        targets.append(("webhook", n.webhook_url))

    def probe() -> Outcome:
        if not targets:
            env = n.slack_webhook_url_env
            raise NotConfigured("not configured: " + (f"set ${env} or " if env else "")
                                + "notifications.webhook_url")
        parts, ok = [], True
        for name, url in targets:
            try:
                answer = fetch("GET", url)
            except CheckError as err:
                ok = False
                parts.append(f"{name}: unreachable ({err})")
                continue
            good = answer.status < 500 and answer.status not in _DEAD
            ok = ok and good
            parts.append(f"{name} {_host(url)}: HTTP {answer.status}{'' if good else ' (not usable)'}")
        return ok, "; ".join(parts)

    return probe


def alert_rules_probe(
    plan: Plan, environ: Mapping[str, str], rules_check: RulesCheckFn | None = None,
) -> Probe:
    """The auto-rollback rules are loaded and healthy in Prometheus: by name (preflight.alert_rules)
    or, with no names, any alerting rule carrying alert_source.match_labels. `rules_check` asks
    Prometheus (`app.bootstrap.alert_rules_check`); without one the check is not wired and fails."""

    def probe() -> Outcome:
        src = plan.metrics_source
        if src.kind != "prometheus":
            raise NotConfigured("not configured: alert rules are read from Prometheus, "
                                f"metrics_source is {src.kind}")
        if rules_check is None:
            raise NotConfigured("not wired: no alert-rules check was handed to the preflight")
        rc = rules_check(plan, environ)
        labels = dict(plan.alert_source.match_labels)
        if rc.ok:
            return True, f"{len(rc.found)} rule(s) loaded: {_few(rc.found)}"
        if rc.missing:
            return False, f"not loaded: {_few(rc.missing)}"
        if rc.unhealthy:
            return False, f"unhealthy: {_few(rc.unhealthy)}"
        what = ", ".join(f'{k}="{v}"' for k, v in labels.items())
        return False, f"no alerting rule with {what} is loaded"

    return probe


def _few(items: tuple[str, ...], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")


def schema_window_probe(
    plan: Plan, calendar: Callable[[Plan], MarketCalendar],
) -> Callable[[datetime], Outcome]:
    """May a schema change run at `at`? The plan's market hours on the exchange calendar, built by
    `calendar(plan)` on first use."""
    built: list[MarketCalendar] = []

    def check(at: datetime) -> Outcome:
        from runofshow.domain.windows import evaluate_at

        if not built:
            built.append(calendar(plan))
        verdict = evaluate_at(at, plan.market, built[0].market_day)
        why = next((r for r in verdict.reasons if "market hours" in r), "; ".join(verdict.reasons[:1]))
        return verdict.schema_change, why

    return check


class _Lazy:
    """Builds the adapter on first use, so a build failure fails only the check that uses it."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build, self._obj = build, None

    def _get(self) -> Any:
        if self._obj is None:
            self._obj = self._build()
        return self._obj

    def close(self) -> None:
        fn = getattr(self._obj, "close", None)
        if callable(fn):
            fn()


class LazyRouter(_Lazy):
    def set_weight(self, weight: float) -> None:  # preflight never moves traffic
        raise CheckError("preflight does not move traffic")

    def current_weight(self) -> float:
        return float(self._get().current_weight())

    def weight_note(self) -> str | None:
        router = self._get()
        return router.weight_note() if isinstance(router, WeightNote) else None


class LazyMetrics(_Lazy):
    def observe(self, at: datetime, window_s: float) -> tuple[TrackSample | None, TrackSample | None]:
        result: tuple[TrackSample | None, TrackSample | None] = self._get().observe(at, window_s)
        return result


class PreflightWiring:
    """A `PreflightContext` with the real probes from `tools`, and `close()` for the adapters it built."""

    def __init__(self, plan: Plan, evidence_dir: str | Path, tools: PreflightTools,
                 now: Callable[[], datetime] | None = None) -> None:
        env = tools.environ
        fetch = http_fetch(tools.http, plan.preflight.timeout_s)
        self.router = LazyRouter(lambda: tools.router(plan, env))
        self.metrics = LazyMetrics(lambda: tools.metrics(plan, env))
        self.context = PreflightContext(
            plan=plan, now=now or (lambda: datetime.now(UTC)), http=fetch, metrics=self.metrics,
            alert_rules=alert_rules_probe(plan, env, tools.alert_rules), router=self.router,
            run_command=shell_command(tools.commands),
            schema_window=schema_window_probe(plan, tools.calendar),
            freeze_active=freeze_probe(tools.freeze_store(Path(evidence_dir))),
            notifier=notifier_probe(plan, env, fetch),
        )

    def close(self) -> None:
        for lazy in (self.router, self.metrics):
            try:
                lazy.close()
            except Exception as err:  # closing must not hide the report
                log.warning("preflight: closing %s failed: %s", type(lazy).__name__, err)

    def __enter__(self) -> PreflightWiring:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def step_handler(
    build: Callable[[StepContext], PreflightContext] | None = None, override: Override | None = None,
    tools: PreflightTools | None = None,
) -> Callable[[StepContext], StepOutcome]:
    """The runner's handler for the preflight step (registered for `StepKind.PREFLIGHT` in
    `app.bootstrap`): run the checks, write preflight.txt, and halt before T0 unless 9/9 or
    `override` (the incident commander's recorded reason). `build(step_context)` gives the
    context; by default `PreflightWiring` with `tools` (without either, every check fails "not
    configured"). The report goes into the `step_completed` details (`PreflightReport.to_json()`),
    so evidence can be rebuilt from it."""

    def handle(step_ctx: StepContext) -> StepOutcome:
        if build is not None:
            report = run_preflight(build(step_ctx))
        elif tools is None:
            report = run_preflight(PreflightContext(plan=step_ctx.plan))
        else:
            with PreflightWiring(step_ctx.plan, step_ctx.evidence_dir, tools) as wiring:
                report = run_preflight(wiring.context)
        if override is not None and not report.passed:
            report = report.with_override(override.by, override.reason)
        report.write(step_ctx.evidence_dir)
        halt = None if report.may_open_t0 else (
            f"preflight {report.summary()}; fix them, or the incident commander overrides with a reason")
        return StepOutcome(details=report.to_json(), ok=report.passed, halt=halt)

    return handle


__all__ = ["LazyMetrics", "LazyRouter", "PreflightTools", "PreflightWiring", "alert_rules_probe",
           "freeze_probe", "http_fetch", "notifier_probe", "schema_window_probe", "shell_command",
           "step_handler"]
