"""The blast-radius probe (T-10): open-loop, constant-rate load against one URL, with a verdict.

    probe(url, version, seconds, rate, concurrency, now=..., evidence_dir=...) -> BlastResult

How it loads. Request *i* has an intended send time `t0 + i / rate`; a scheduler starts every
request whose time has come, whether or not earlier ones have answered (open loop, like wrk2,
unlike hey and wrk, which wait for a response before sending the next request). At most
`concurrency` requests are in flight; a request that finds every slot busy waits for one.

How it measures (coordinated omission). Latency runs from the request's *intended* send time to
its last response byte, so time spent queued behind a slow server counts against the server,
exactly as a user arriving at that instant would have seen it. That is the correction; we do NOT
also call `HdrHistogram.record_corrected_value`, which back-fills synthetic samples for
closed-loop generators and would count the stall twice. Latencies go into an HDR histogram
(microseconds, 3 significant digits). The service time (actual send to response) goes into a
second histogram, reported beside it, so the evidence shows how much of p95 was queueing.

What counts. Success is an HTTP status 200-399 (redirects are not followed). Failures are other
statuses, timeouts, connection errors and requests still unanswered `timeout_s` after the last
send (they are cancelled and recorded at the time they were cancelled). p50/p95/p99/max are over
every planned request, failed ones included. The achieved rate is finished requests divided by
the time from the first intended send to the last answer (hey's definition).

The verdict is pure: `BlastResult.passed(success_min_pct, p95_max_s)` is True when success is
strictly above the minimum and p95 strictly below the maximum. The evidence file
`micro_blast_<version>_<UTC timestamp>.log` is written atomically (temporary file + os.replace)
and never over an earlier one.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from runofshow.domain.plan import VERSION, BlastRadius
from runofshow.errors import InputError
from runofshow.files import atomic_write_text

DEFAULTS = BlastRadius()
"""Defaults shared with the plan's `timeline.blast_radius` (rate, concurrency, criteria)."""

DEFAULT_TIMEOUT_S = 10.0
_HIGHEST_US = 3_600_000_000  # one hour
_PROGRESS_EVERY_S = 0.1

Progress = Callable[[int, int], None]
"""on_progress(finished, planned): called from the probe's thread about ten times a second."""


@dataclass(frozen=True)
class BlastResult:
    """What one probe saw. Latencies in seconds, measured from the intended send time."""

    url: str
    version: str
    started_at: datetime
    seconds: float
    rate: float
    concurrency: int
    timeout_s: float
    requests: int
    succeeded: int
    failures: Mapping[str, int]
    elapsed_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    max_s: float
    service_p95_s: float
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
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"'{url}' is not an http(s) URL with a host")
    if not VERSION.match(version):
        raise InputError(f"'{version}' is not a version like v1.4.0")
    for name, value in (("seconds", seconds), ("rate", rate), ("timeout", timeout_s)):
        if not value > 0:
            raise InputError(f"{name} must be more than 0, not {value:g}")
    if concurrency < 1:
        raise InputError(f"concurrency must be at least 1, not {concurrency}")


def probe(
    url: str, version: str, seconds: float, rate: float = DEFAULTS.rate,
    concurrency: int = DEFAULTS.concurrency, *, now: Callable[[], datetime],
    evidence_dir: str | Path | None = "evidence", timeout_s: float = DEFAULT_TIMEOUT_S,
    success_min_pct: float = DEFAULTS.success_min_pct, p95_max_s: float = DEFAULTS.p95_max_s,
    on_progress: Progress | None = None,
) -> BlastResult:
    """Run the probe for `seconds` at `rate` requests/s and write its evidence file.

    `now()` gives the (aware) timestamp of the run; the criteria only go into the evidence file's
    verdict. `evidence_dir=None` writes nothing. Blocks the calling thread (runs its own event
    loop); bounded by `seconds + timeout_s` plus shutdown.
    """
    check_inputs(url, version, seconds, rate, concurrency, timeout_s)
    started_at = now()
    if started_at.tzinfo is None:
        raise InputError("now() must return a timezone-aware time")
    planned = max(1, round(seconds * rate))
    tally = asyncio.run(_load(url, planned, rate, concurrency, timeout_s, on_progress))
    result = BlastResult(
        url=url, version=version, started_at=started_at, seconds=seconds, rate=rate,
        concurrency=concurrency, timeout_s=timeout_s, requests=planned, succeeded=tally.succeeded,
        failures=dict(sorted(tally.failures.items())), elapsed_s=tally.elapsed_s,
        p50_s=tally.latency_s(50), p95_s=tally.latency_s(95), p99_s=tally.latency_s(99),
        max_s=tally.max_s(), service_p95_s=tally.latency_s(95, service=True),
    )
    if evidence_dir is None:
        return result
    path = write_evidence(result, Path(evidence_dir), success_min_pct, p95_max_s)
    return replace(result, evidence_path=path)


# --------------------------------------------------------------------------- the load loop


class _Tally:
    def __init__(self) -> None:
        from hdrh.histogram import HdrHistogram

        self.latency = HdrHistogram(1, _HIGHEST_US, 3)
        self.service = HdrHistogram(1, _HIGHEST_US, 3)
        self.succeeded = 0
        self.finished = 0
        self.failures: Counter[str] = Counter()
        self.elapsed_s = 0.0

    def record(self, latency_s: float, service_s: float | None, outcome: str | None) -> None:
        """outcome None is a success; otherwise the failure's name."""
        self.latency.record_value(_us(latency_s))
        if service_s is not None:
            self.service.record_value(_us(service_s))
        if outcome is None:
            self.succeeded += 1
        else:
            self.failures[outcome] += 1
        self.finished += 1

    def latency_s(self, percentile: float, service: bool = False) -> float:
        h = self.service if service else self.latency
        return h.get_value_at_percentile(percentile) / 1e6 if h.get_total_count() else 0.0

    def max_s(self) -> float:
        return self.latency.get_max_value() / 1e6 if self.latency.get_total_count() else 0.0


def _us(seconds: float) -> int:
    return min(_HIGHEST_US, max(1, round(seconds * 1e6)))


async def _load(url: str, planned: int, rate: float, concurrency: int, timeout_s: float,
                on_progress: Progress | None) -> _Tally:
    import aiohttp

    loop = asyncio.get_running_loop()
    tally = _Tally()
    slots = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    connector = aiohttp.TCPConnector(limit=concurrency)
    tasks: dict[asyncio.Task[None], float] = {}
    last_end = 0.0

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(intended: float) -> None:
            nonlocal last_end
            async with slots:
                sent = loop.time()
                outcome: str | None
                try:
                    async with session.get(url, allow_redirects=False) as resp:
                        await resp.read()
                        outcome = None if 200 <= resp.status < 400 else f"HTTP {resp.status}"
                except TimeoutError:
                    outcome = "timeout"
                except Exception as ex:  # ClientError and anything else: a failed request
                    outcome = type(ex).__name__
                end = loop.time()
            last_end = max(last_end, end)
            tally.record(end - intended, end - sent, outcome)

        def forget(task: asyncio.Task[None]) -> None:
            if not task.cancelled():  # a cancelled one is recorded as unfinished below
                tasks.pop(task, None)

        t0 = loop.time()
        progress = asyncio.create_task(_report(tally, planned, on_progress)) if on_progress else None
        i = 0
        while i < planned:  # each pass starts >= 1 request or sleeps until the next is due
            current = loop.time()
            while i < planned and t0 + i / rate <= current:
                intended = t0 + i / rate
                task = asyncio.create_task(one(intended))
                tasks[task] = intended
                task.add_done_callback(forget)
                i += 1
            if i < planned:
                await asyncio.sleep(max(0.0, t0 + i / rate - loop.time()))
        pending: set[asyncio.Task[None]] = set()
        if tasks:  # still in flight after the last send: give them one timeout, then cut off
            _, pending = await asyncio.wait(set(tasks), timeout=timeout_s + 0.5)
        if pending:
            cut = loop.time()
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in pending:
                if task.cancelled():  # one that finished meanwhile has recorded itself
                    tally.record(cut - tasks[task], None, "unfinished")
            last_end = max(last_end, cut)
        tally.elapsed_s = max(last_end - t0, 1e-9)
        if on_progress and progress:
            progress.cancel()
            await asyncio.gather(progress, return_exceptions=True)
            on_progress(tally.finished, planned)
    return tally


async def _report(tally: _Tally, planned: int, on_progress: Progress) -> None:
    while tally.finished < planned:  # cancelled by _load when the run ends
        on_progress(tally.finished, planned)
        await asyncio.sleep(_PROGRESS_EVERY_S)


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
