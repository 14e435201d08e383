"""Preflight (T-10): nine named checks, each pass/fail with a one-line detail and its duration.

    report = run_preflight(PreflightContext(plan=..., now=..., http=..., metrics=..., ...))
    report.score          -> "9/9"
    report.write(evidence_dir) -> evidence/preflight.txt (atomic)

The checks are plug-ins in a registry (`CHECKS`, in the seed's order; `register_check` adds one).
A check is a function of a `PreflightContext` returning `(passed, detail)`; it takes what it needs
from the context -- an HTTP GET, the `MetricsSource`, the `TrafficRouter`, or small injected
callables for the alert rules, the backup command, the market window, the freeze and the
notification channel -- so tests give fakes and `runofshow.app.steps.probes` gives the real
things. A check whose dependency is missing fails ("not configured"): preflight fails closed. A
check that raises fails with its one-line error. The run does not open T0 unless the score is
9/9 or the incident commander overrides with a recorded reason
(`runofshow.app.steps.probes.step_handler`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from runofshow.domain.plan import Plan
from runofshow.ports import HttpAnswer, MetricsSource, TrafficRouter, WeightNote

PREFLIGHT_FILE = "preflight.txt"
Outcome = tuple[bool, str]
Probe = Callable[[], Outcome]


#: (method, url) -> the answer; raises on a transport error (refused, timeout, DNS).
HttpFetch = Callable[[str, str], HttpAnswer]
#: (command, timeout_s) -> its standard output; raises when it fails or times out.
RunCommand = Callable[[str, float], str]


@dataclass(frozen=True)
class PreflightContext:
    """Everything the checks may use. A None dependency makes the checks that need it fail."""

    plan: Plan
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    http: HttpFetch | None = None
    metrics: MetricsSource | None = None
    alert_rules: Probe | None = None
    router: TrafficRouter | None = None
    run_command: RunCommand | None = None
    schema_window: Callable[[datetime], Outcome] | None = None  # may a schema change run at `at`?
    freeze_active: Probe | None = None
    notifier: Probe | None = None


@dataclass(frozen=True)
class CheckSpec:
    name: str
    title: str
    run: Callable[[PreflightContext], Outcome]


CHECKS: dict[str, CheckSpec] = {}


def register_check(name: str, title: str) -> Callable[[Callable[[PreflightContext], Outcome]],
                                                      Callable[[PreflightContext], Outcome]]:
    """Add a check to the registry (a decorator); the registry keeps insertion order."""
    def add(fn: Callable[[PreflightContext], Outcome]) -> Callable[[PreflightContext], Outcome]:
        CHECKS[name] = CheckSpec(name, title, fn)
        return fn
    return add


class CheckError(Exception):
    """A check (or a probe) failed with a message written for people: shown as it is."""


class NotConfigured(CheckError):
    """The check has nothing to check against: it fails with this message."""


def _need(value: Any, what: str) -> Any:
    if value is None:
        raise NotConfigured(f"not configured: {what}")
    return value


def _http_ok(ctx: PreflightContext, url: str, method: str = "GET") -> HttpAnswer:
    fetch: HttpFetch = _need(ctx.http, "no HTTP client")
    return fetch(method, url)


# --------------------------------------------------------------------------- the nine checks


@register_check("artifact", "release artifact reachable")
def check_artifact(ctx: PreflightContext) -> Outcome:
    url = _need(ctx.plan.preflight.artifact_url, "set preflight.artifact_url")
    answer = _http_ok(ctx, url, "HEAD")
    if answer.status in (405, 501):  # HEAD not allowed: ask for it (the probe reads only the start)
        answer = _http_ok(ctx, url, "GET")
    return 200 <= answer.status < 300, f"{url}: HTTP {answer.status}"


_HEALTHY = {"ok", "up", "pass", "healthy", "green", "serving"}


@register_check("canary_health", "canary endpoint healthy")
def check_canary_health(ctx: PreflightContext) -> Outcome:
    url = _need(ctx.plan.preflight.canary_health_url, "set preflight.canary_health_url")
    answer = _http_ok(ctx, url)
    if not 200 <= answer.status < 300:
        return False, f"{url}: HTTP {answer.status}"
    try:
        body = json.loads(answer.text) if answer.text.strip() else None
    except ValueError:
        body = None
    status = body.get("status") if isinstance(body, dict) else None
    if isinstance(status, str) and status.lower() not in _HEALTHY:
        return False, f"{url}: HTTP {answer.status} but status '{status}'"
    return True, f"{url}: HTTP {answer.status}" + (f", status '{status}'" if status else "")


@register_check("metrics", "metrics source answers every gate query with data")
def check_metrics(ctx: PreflightContext) -> Outcome:
    """Every gate has data on the baseline track. The canary is at 0 % before T0, so canary NoData
    is reported, not failed."""
    source: MetricsSource = _need(ctx.metrics, "no metrics source")
    gates = list(ctx.plan.gates)
    baseline, canary = source.observe(ctx.now(), ctx.plan.decision.tick_interval_s)

    def missing(sample: Any) -> list[str]:
        if sample is None:
            return list(gates)
        return [g for g in gates if (x := sample.value(g)) is None or not math.isfinite(x)]

    base_missing, canary_missing = missing(baseline), missing(canary)
    if base_missing:
        return False, (f"no baseline data for {len(base_missing)}/{len(gates)} gates: "
                       f"{', '.join(base_missing)}")
    note = f"; canary no data for {len(canary_missing)} (0 % traffic)" if canary_missing else ""
    return True, f"{len(gates)}/{len(gates)} gate queries answered with data{note}"


@register_check("alert_rules", "auto-rollback alert rules loaded")
def check_alert_rules(ctx: PreflightContext) -> Outcome:
    probe: Probe = _need(ctx.alert_rules, "no alert-rules probe")
    return probe()


@register_check("traffic_router", "traffic router reachable, canary at 0 %")
def check_traffic_router(ctx: PreflightContext) -> Outcome:
    router: TrafficRouter = _need(ctx.router, "no traffic router")
    weight = router.current_weight()
    kind = ctx.plan.traffic_router.kind
    if abs(weight) > 1e-9:
        return False, f"{kind}: canary at {weight:g} %, expected 0 %"
    note = router.weight_note() if isinstance(router, WeightNote) else None
    return True, f"{note}: canary at 0 %" if note else f"{kind}: reachable, canary at 0 %"


_BACKUP_KEYS = ("last_backup_at", "backup_at", "completed_at", "finished_at", "timestamp", "time", "at")


def parse_backup_time(text: str) -> datetime:
    """The backup time in `text`: an ISO 8601 instant with an offset (the last line of a command's
    output), or a JSON string, or a JSON object with one of `_BACKUP_KEYS`."""
    raw = text.strip()
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        raw = next((str(doc[k]) for k in _BACKUP_KEYS if doc.get(k)), "")
        if not raw:
            raise ValueError(f"JSON has none of {', '.join(_BACKUP_KEYS)}")
    elif isinstance(doc, str):
        raw = doc
    else:
        lines = [ln.strip() for ln in raw.splitlines() if ln.strip()]
        raw = lines[-1] if lines else ""
    if not raw:
        raise ValueError("no time in the output")
    try:
        at = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"'{raw[:60]}' is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise ValueError(f"'{raw[:60]}' has no UTC offset")
    return at


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h {minutes % 60:02d}m"


@register_check("backup", "backup / point-in-time recovery fresh")
def check_backup(ctx: PreflightContext) -> Outcome:
    pf = ctx.plan.preflight
    if pf.backup_check_command:
        run: RunCommand = _need(ctx.run_command, "no command runner")
        text, source = run(pf.backup_check_command, pf.timeout_s), "command"
    elif pf.backup_check_url:
        answer = _http_ok(ctx, pf.backup_check_url)
        if not 200 <= answer.status < 300:
            return False, f"{pf.backup_check_url}: HTTP {answer.status}"
        text, source = answer.text, pf.backup_check_url
    else:
        raise NotConfigured("not configured: set preflight.backup_check_command or backup_check_url")
    at = parse_backup_time(text)
    age = ctx.now() - at
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if age < -timedelta(minutes=5):
        return False, f"last backup {stamp} ({source}) is in the future: clock skew?"
    limit = timedelta(hours=pf.backup_max_age_h)
    if age > limit:
        return False, (f"last backup {stamp} is {_age(age)} old, more than {pf.backup_max_age_h:g} h "
                       f"({source})")
    return True, f"last backup {stamp}, {_age(max(age, timedelta(0)))} old ({source})"


@register_check("schema_window", "no schema change scheduled in market hours")
def check_schema_window(ctx: PreflightContext) -> Outcome:
    planned = ctx.plan.preflight.schema_change_at
    if not planned:
        return True, "no schema change scheduled"
    try:
        at = datetime.fromisoformat(planned.strip().replace("z", "Z"))
    except ValueError:
        raise CheckError(f"preflight.schema_change_at '{planned}' is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise CheckError(f"preflight.schema_change_at '{planned}' has no UTC offset")
    window: Callable[[datetime], Outcome] = _need(ctx.schema_window, "no market-window check")
    allowed, why = window(at)
    where = "outside" if allowed else "inside"
    return allowed, f"schema change at {planned} is {where} market hours" + (f": {why}" if why else "")


@register_check("freeze", "change freeze active")
def check_freeze(ctx: PreflightContext) -> Outcome:
    if not ctx.plan.freeze.enabled:
        return True, "skipped: freeze disabled (freeze.enabled: false or --no-freeze)"
    probe: Probe = _need(ctx.freeze_active, "no freeze probe")
    return probe()


@register_check("notifier", "notification channel reachable")
def check_notifier(ctx: PreflightContext) -> Outcome:
    probe: Probe = _need(ctx.notifier, "no notification channel")
    return probe()


# --------------------------------------------------------------------------- running them


@dataclass(frozen=True)
class CheckResult:
    name: str
    title: str
    passed: bool
    detail: str
    duration_s: float

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "passed": self.passed, "detail": self.detail,
                "duration_s": round(self.duration_s, 6)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CheckResult:
        return cls(str(d["name"]), str(d.get("title", d["name"])), bool(d["passed"]),
                   str(d.get("detail", "")), float(d.get("duration_s", 0.0)))


@dataclass(frozen=True)
class Override:
    """The incident commander opens T0 despite failed checks, and says why (recorded)."""

    by: str
    reason: str


@dataclass(frozen=True)
class PreflightReport:
    release: str
    version: str
    at: datetime
    results: tuple[CheckResult, ...]
    override: Override | None = None

    @property
    def passed_count(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def score(self) -> str:
        return f"{self.passed_count}/{len(self.results)}"

    @property
    def passed(self) -> bool:
        return bool(self.results) and self.passed_count == len(self.results)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.results if not r.passed)

    @property
    def may_open_t0(self) -> bool:
        """9/9, or the incident commander overrode with a reason."""
        return self.passed or (self.override is not None and bool(self.override.reason.strip()))

    def with_override(self, by: str, reason: str) -> PreflightReport:
        if not reason.strip():
            raise ValueError("an override needs a reason")
        return replace(self, override=Override(by, reason.strip()))

    def summary(self) -> str:
        """`9/9` or `7/9: failed backup, freeze`."""
        return self.score if self.passed else f"{self.score}: failed {', '.join(self.failed)}"

    def render(self) -> str:
        width = max((len(r.name) for r in self.results), default=8)
        head = f"PREFLIGHT {self.release} {self.version}"
        lines = [head, "=" * len(head), f"Timestamp: {self.at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
                 f"Score: {self.score}", ""]
        for i, r in enumerate(self.results, start=1):
            mark = "PASS" if r.passed else "FAIL"
            lines.append(f"{i}. [{mark}] {r.name:<{width}}  {r.title}: {r.detail} ({r.duration_s:.3f} s)")
        lines.append("")
        lines.append(f"Result: {self.score} {'✅' if self.passed else '❌'}"
                     + ("" if self.passed else f" (failed: {', '.join(self.failed)})"))
        if self.override is not None:
            lines.append(f"Override: {self.override.by}: {self.override.reason}")
        lines.append(f"T0 may open: {'yes' if self.may_open_t0 else 'no'}")
        return "\n".join(lines) + "\n"

    def write(self, evidence_dir: str | Path) -> Path:
        """preflight.txt in `evidence_dir`, atomically (temporary file + fsync + rename)."""
        from runofshow.files import atomic_write_text

        path = Path(evidence_dir) / PREFLIGHT_FILE
        atomic_write_text(path, self.render())
        return path

    def to_json(self) -> dict[str, Any]:
        return {
            "release": self.release, "version": self.version, "at": self.at.isoformat(),
            "score": self.score, "passed": self.passed, "failed": list(self.failed),
            "checks": [r.to_json() for r in self.results],
            "override": None if self.override is None else {"by": self.override.by,
                                                            "reason": self.override.reason},
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PreflightReport:
        ov = d.get("override")
        return cls(
            release=str(d.get("release", "")), version=str(d.get("version", "")),
            at=datetime.fromisoformat(str(d["at"])),
            results=tuple(CheckResult.from_json(c) for c in d.get("checks", ())),
            override=Override(str(ov["by"]), str(ov["reason"])) if ov else None,
        )


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, CheckError):
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def run_check(spec: CheckSpec, ctx: PreflightContext,
              timer: Callable[[], float] = time.perf_counter) -> CheckResult:
    started = timer()
    try:
        passed, detail = spec.run(ctx)
    except Exception as err:  # a raising check is a failed check, with its message
        passed, detail = False, _one_line(err)
    return CheckResult(spec.name, spec.title, bool(passed), detail.replace("\n", " "), timer() - started)


def run_preflight(
    ctx: PreflightContext, checks: Sequence[CheckSpec] | None = None,
    timer: Callable[[], float] = time.perf_counter,
) -> PreflightReport:
    """Run every check (default: the registry, in order), one after the other."""
    specs = list(CHECKS.values()) if checks is None else list(checks)
    results = tuple(run_check(spec, ctx, timer) for spec in specs)
    release = ctx.plan.release
    return PreflightReport(release.name, release.version, ctx.now(), results)


__all__ = [
    "CHECKS", "PREFLIGHT_FILE", "CheckError", "CheckResult", "CheckSpec", "HttpAnswer", "HttpFetch",
    "NotConfigured", "Outcome", "Override", "PreflightContext", "PreflightReport", "Probe", "RunCommand",
    "parse_backup_time", "register_check", "run_check", "run_preflight",
]
