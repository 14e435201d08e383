"""The real things behind the preflight checks: HTTP, the backup command, the freeze record, the
notification channels, Prometheus' alert rules, the market calendar, and the plan's router and
metrics source. Adapters come from `runofshow.app.bootstrap` (the only module that may build them):
`build_router`, `build_metrics` and `alert_rules_check`.

`preflight_context(plan, evidence_dir)` wires them into a `PreflightContext`. Adapters are built
lazily, inside the check that needs them, so an adapter that cannot even be built (a missing token,
an unknown calendar) fails its own check and not the whole preflight.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

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
    run_preflight,
)
from runofshow.domain.plan import Plan
from runofshow.domain.tick import TrackSample

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


def http_fetch(timeout_s: float, transport: httpx.BaseTransport | None = None) -> HttpFetch:
    """GET/HEAD with redirects followed, reading at most 64 KiB of the body."""

    def fetch(method: str, url: str) -> HttpAnswer:
        try:
            with httpx.Client(timeout=timeout_s, follow_redirects=True, transport=transport,
                              headers={"User-Agent": "runofshow-preflight"}) as client:
                with client.stream(method, url) as response:
                    body = b""
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) >= MAX_BODY:
                            break
                    return HttpAnswer(response.status_code,
                                      body[:MAX_BODY].decode(response.encoding or "utf-8", "replace"))
        except httpx.HTTPError as err:
            raise CheckError(f"{_host(url)}: {type(err).__name__}: {err}") from None

    return fetch


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def shell_command(command: str, timeout_s: float) -> str:
    """Run `command` with /bin/sh in its own process group; its stdout, or CheckError. On timeout
    the whole group is killed, so a pipeline's children cannot keep it waiting."""
    try:
        proc = subprocess.Popen(["/bin/sh", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
    except OSError as err:
        raise CheckError(f"cannot run the backup command: {err}") from None
    try:
        out, err_text = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            log.debug("backup check command %s ended before it was killed", proc.pid)
        proc.communicate()
        raise CheckError(f"backup command timed out after {timeout_s:g} s") from None
    if proc.returncode != 0:
        lines = [ln for ln in (err_text or out).splitlines() if ln.strip()]
        why = lines[0].strip() if lines else "no output"
        raise CheckError(f"backup command exited {proc.returncode}: {why}")
    return out


def freeze_probe(evidence_dir: str | Path) -> Probe:
    """Active when the freeze record (`runofshow freeze start`) in the evidence folder says so."""

    def probe() -> Outcome:
        from runofshow.app.steps.freeze import STATE_FILE, FreezeStore

        rec = FreezeStore(Path(evidence_dir)).load()
        path = Path(evidence_dir) / STATE_FILE
        if rec is None:
            return False, f"no freeze record ({path}): run `runofshow freeze start` first"
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


#: (plan, environ) -> which rules are loaded: an object with `found`, `missing`, `unhealthy` (tuples
#: of names) and `ok`, like `adapters.prometheus.RulesCheck`. Built by `app.bootstrap`.
RulesCheckFn = Callable[[Plan, Mapping[str, str]], Any]


def alert_rules_probe(
    plan: Plan, environ: Mapping[str, str], rules_check: RulesCheckFn | None = None,
) -> Probe:
    """The auto-rollback rules are loaded and healthy in Prometheus: by name (preflight.alert_rules)
    or, with no names, any alerting rule carrying alert_source.match_labels. `rules_check` defaults
    to `app.bootstrap.alert_rules_check` (only bootstrap may build the Prometheus adapter)."""

    def probe() -> Outcome:
        src = plan.metrics_source
        if src.kind != "prometheus":
            raise NotConfigured("not configured: alert rules are read from Prometheus, "
                                f"metrics_source is {src.kind}")
        from runofshow.app import bootstrap
        check = rules_check or getattr(bootstrap, "alert_rules_check", None)
        if check is None:
            raise NotConfigured("not wired: app.bootstrap has no alert_rules_check(plan, environ)")
        rc = check(plan, environ)
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


def schema_window_probe(plan: Plan) -> Callable[[datetime], Outcome]:
    """May a schema change run at `at`? The plan's market hours on the exchange calendar."""
    calendar: list[Any] = []

    def check(at: datetime) -> Outcome:
        from runofshow.app.bootstrap import market_calendar
        from runofshow.domain.windows import evaluate_at

        if not calendar:
            calendar.append(market_calendar(plan))
        verdict = evaluate_at(at, plan.market, calendar[0].market_day)
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


class LazyMetrics(_Lazy):
    def observe(self, at: datetime, window_s: float) -> tuple[TrackSample | None, TrackSample | None]:
        result: tuple[TrackSample | None, TrackSample | None] = self._get().observe(at, window_s)
        return result


class PreflightWiring:
    """A `PreflightContext` with the real probes, and `close()` for the adapters it built."""

    def __init__(self, plan: Plan, evidence_dir: str | Path, environ: Mapping[str, str] | None = None,
                 now: Callable[[], datetime] | None = None, rules_check: RulesCheckFn | None = None) -> None:
        from runofshow.app import bootstrap
        env = settings.environment(environ)
        fetch = http_fetch(plan.preflight.timeout_s)
        self.router = LazyRouter(lambda: bootstrap.build_router(plan, env))
        self.metrics = LazyMetrics(lambda: bootstrap.build_metrics(plan, env))
        self.context = PreflightContext(
            plan=plan, now=now or (lambda: datetime.now(UTC)), http=fetch, metrics=self.metrics,
            alert_rules=alert_rules_probe(plan, env, rules_check), router=self.router,
            run_command=shell_command, schema_window=schema_window_probe(plan),
            freeze_active=freeze_probe(evidence_dir), notifier=notifier_probe(plan, env, fetch),
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
    environ: Mapping[str, str] | None = None,
) -> Callable[[StepContext], StepOutcome]:
    """The runner's handler for the preflight step (register it for `StepKind.PREFLIGHT` in
    `app.bootstrap`): run the checks, write preflight.txt, and halt before T0 unless 9/9 or
    `override` (the incident commander's recorded reason). `build(step_context)` gives the
    context; by default the real probes of `PreflightWiring`. The report goes into the
    `step_completed` details (`PreflightReport.to_json()`), so evidence can be rebuilt from it."""

    def handle(step_ctx: StepContext) -> StepOutcome:
        if build is not None:
            report = run_preflight(build(step_ctx))
        else:
            with PreflightWiring(step_ctx.plan, step_ctx.evidence_dir, environ) as wiring:
                report = run_preflight(wiring.context)
        if override is not None and not report.passed:
            report = report.with_override(override.by, override.reason)
        report.write(step_ctx.evidence_dir)
        halt = None if report.may_open_t0 else (
            f"preflight {report.summary()}; fix them, or the incident commander overrides with a reason")
        return StepOutcome(details=report.to_json(), ok=report.passed, halt=halt)

    return handle


__all__ = ["LazyMetrics", "LazyRouter", "PreflightWiring", "alert_rules_probe", "freeze_probe",
           "http_fetch", "notifier_probe", "schema_window_probe", "shell_command", "step_handler"]
