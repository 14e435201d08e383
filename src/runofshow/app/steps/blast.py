"""The blast-radius probe (T-10): open-loop, constant-rate load against one URL, with a verdict.

    probe(url, version, seconds, rate, concurrency, now=..., load=..., evidence_dir=...) -> BlastResult

The load itself comes from a `LoadGenerator` (`runofshow.adapters.load_generator`, handed down by
`runofshow.app.bootstrap`): request *i* is due at `t0 + i / rate` whether or not earlier ones have
answered (open loop, like wrk2), at most `concurrency` in flight. Latency runs from each request's
*intended* send time to its last response byte, so time queued behind a slow server counts
against the server (the coordinated omission correction); the service time (actual send to
answer) is reported beside it, so the evidence shows how much of p95 was queueing.

What counts. Success is an HTTP status 200-399 (redirects are not followed). Failures are other
statuses, timeouts, connection errors and requests still unanswered `timeout_s` after the last
send. p50/p95/p99/max are over every planned request, failed ones included. The achieved rate is
finished requests divided by the time from the first intended send to the last answer (hey's
definition).

The verdict is pure: `BlastResult.passed(success_min_pct, p95_max_s)` is True when success is
strictly above the minimum and p95 strictly below the maximum. The evidence file
`micro_blast_<version>_<UTC timestamp>.log` is written atomically (temporary file + os.replace)
and never over an earlier one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path

from runofshow.domain.addresses import check_http_url
from runofshow.domain.plan import VERSION, BlastRadius
from runofshow.errors import InputError
from runofshow.files import atomic_write_text
from runofshow.ports import LoadGenerator, LoadResult

DEFAULTS = BlastRadius()
"""Defaults shared with the plan's `timeline.blast_radius` (rate, concurrency, criteria)."""

DEFAULT_TIMEOUT_S = 10.0

Progress = Callable[[int, int], None]
"""on_progress(finished, planned): called from the probe's thread about ten times a second."""


@dataclass(frozen=True)
class BlastResult(LoadResult):
    """What one probe saw: the load run's figures (latencies in seconds, measured from the
    intended send time) and what was asked of it."""

    url: str
    version: str
    started_at: datetime
    seconds: float
    rate: float
    concurrency: int
    timeout_s: float
    evidence_path: Path | None = field(default=None, compare=False)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def success_pct(self) -> float:
        return 100.0 * self.succeeded / self.requests if self.requests else 0.0

    @property
    def achieved_rate(self) -> float:
        finished = self.requests - self.failures.get("unfinished", 0)
        return finished / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def reasons(
        self, success_min_pct: float = DEFAULTS.success_min_pct, p95_max_s: float = DEFAULTS.p95_max_s
    ) -> list[str]:
        """Why the probe fails the criteria; empty when it passes."""
        out = []
        if self.requests == 0:
            out.append("no requests were made")
        if not self.success_pct > success_min_pct:
            out.append(f"success {self.success_pct:.2f} % is not above {success_min_pct:g} %")
        if not self.p95_s < p95_max_s:
            out.append(f"p95 {self.p95_s:.3f} s is not below {p95_max_s:g} s")
        return out

    def passed(
        self, success_min_pct: float = DEFAULTS.success_min_pct, p95_max_s: float = DEFAULTS.p95_max_s
    ) -> bool:
        """success > success_min_pct and p95 < p95_max_s (the seed's ">95 % success, P95 <0.5 s")."""
        return not self.reasons(success_min_pct, p95_max_s)


def check_inputs(url: str, version: str, seconds: float, rate: float, concurrency: int,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Raise InputError for anything the probe cannot run with."""
    try:
        check_http_url(url)
    except ValueError as err:
        raise InputError(f"blast URL '{url}': {err}") from None
    if not VERSION.match(version):
        raise InputError(f"'{version}' is not a version like v1.4.0")
    for name, value in (("seconds", seconds), ("rate", rate), ("timeout", timeout_s)):
        if not value > 0:
            raise InputError(f"{name} must be more than 0, not {value:g}")
    if concurrency < 1:
        raise InputError(f"concurrency must be at least 1, not {concurrency}")


def probe(
    url: str, version: str, seconds: float, rate: float = DEFAULTS.rate,
    concurrency: int = DEFAULTS.concurrency, *, now: Callable[[], datetime], load: LoadGenerator,
    evidence_dir: str | Path | None = "evidence", timeout_s: float = DEFAULT_TIMEOUT_S,
    success_min_pct: float = DEFAULTS.success_min_pct, p95_max_s: float = DEFAULTS.p95_max_s,
    on_progress: Progress | None = None,
) -> BlastResult:
    """Run the probe for `seconds` at `rate` requests/s and write its evidence file.

    `now()` gives the (aware) timestamp of the run; the criteria only go into the evidence file's
    verdict. `evidence_dir=None` writes nothing. Blocks the calling thread while `load` runs;
    bounded by `seconds + timeout_s` plus shutdown.
    """
    check_inputs(url, version, seconds, rate, concurrency, timeout_s)
    started_at = now()
    if started_at.tzinfo is None:
        raise InputError("now() must return a timezone-aware time")
    planned = max(1, round(seconds * rate))
    seen = load.run(url, planned, rate, concurrency, timeout_s, on_progress)
    figures = {f.name: getattr(seen, f.name) for f in fields(LoadResult)}
    figures |= {"requests": planned, "failures": dict(sorted(seen.failures.items()))}
    result = BlastResult(url=url, version=version, started_at=started_at, seconds=seconds, rate=rate,
                         concurrency=concurrency, timeout_s=timeout_s, **figures)
    if evidence_dir is None:
        return result
    path = write_evidence(result, Path(evidence_dir), success_min_pct, p95_max_s)
    return replace(result, evidence_path=path)


# --------------------------------------------------------------------------- evidence


def evidence_name(version: str, at: datetime) -> str:
    return f"micro_blast_{version}_{at.astimezone(UTC):%Y%m%dT%H%M%SZ}.log"


def render_evidence(result: BlastResult, success_min_pct: float = DEFAULTS.success_min_pct,
                    p95_max_s: float = DEFAULTS.p95_max_s) -> str:
    """The evidence file's text (pure)."""
    reasons = result.reasons(success_min_pct, p95_max_s)
    failures = ", ".join(f"{k}: {v}" for k, v in result.failures.items()) or "none"
    lines = [
        "MICRO BLAST RADIUS TEST",
        "=======================",
        f"Timestamp: {result.started_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
        f"Version: {result.version}",
        f"URL: {result.url}",
        f"Duration: {result.seconds:g} s planned, {result.elapsed_s:.2f} s to the last answer",
        f"Load: open loop, {result.rate:g} req/s, at most {result.concurrency} in flight, "
        f"timeout {result.timeout_s:g} s",
        f"Requests: {result.requests} planned, {result.succeeded} succeeded, {result.failed} failed",
        f"Achieved rate: {result.achieved_rate:.2f} req/s",
        f"Success: {result.success_pct:.2f} %",
        f"Failures: {failures}",
        "Latency from intended send time (coordinated omission corrected):",
        f"  p50: {result.p50_s:.4f} s",
        f"  p95: {result.p95_s:.4f} s",
        f"  p99: {result.p99_s:.4f} s",
        f"  max: {result.max_s:.4f} s",
        f"Service time p95 (actual send to answer): {result.service_p95_s:.4f} s",
        f"Criteria: success > {success_min_pct:g} %, p95 < {p95_max_s:g} s",
        f"Result: {'PASS' if not reasons else 'FAIL'}",
    ]
    lines += [f"  - {r}" for r in reasons]
    return "\n".join(lines) + "\n"


def write_evidence(result: BlastResult, evidence_dir: Path,
                   success_min_pct: float = DEFAULTS.success_min_pct,
                   p95_max_s: float = DEFAULTS.p95_max_s) -> Path:
    """Write the evidence file atomically; never overwrites an earlier one (adds -2, -3 ...)."""
    name = evidence_name(result.version, result.started_at)
    path = evidence_dir / name
    for n in range(2, 1000):
        if not path.exists():
            break
        path = evidence_dir / name.replace(".log", f"-{n}.log")
    atomic_write_text(path, render_evidence(result, success_min_pct, p95_max_s))
    return path
