"""Open-loop, constant-rate HTTP load on aiohttp, measured into HDR histograms (the blast radius).

Request *i* has an intended send time `t0 + i / rate`; a scheduler starts every request whose time
has come, whether or not earlier ones have answered (open loop, like wrk2, unlike hey and wrk). At
most `concurrency` requests are in flight; a request that finds every slot busy waits for one.

Latency runs from the request's *intended* send time to its last response byte (the coordinated
omission correction; `HdrHistogram.record_corrected_value` is NOT also used, which would count the
stall twice). Latencies go into an HDR histogram (microseconds, 3 significant digits); the service
time (actual send to response) into a second one. Success is HTTP 200-399 (redirects are not
followed); failures are other statuses, timeouts, connection errors and requests still unanswered
`timeout_s` after the last send (cancelled, recorded at the time they were cancelled). The elapsed
time runs from the first intended send to the last answer.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from runofshow.ports import LoadResult

_HIGHEST_US = 3_600_000_000  # one hour
_PROGRESS_EVERY_S = 0.1

Progress = Callable[[int, int], None]


class AiohttpLoadGenerator:
    """A `LoadGenerator`. Blocks the calling thread (runs its own event loop); bounded by the
    send time plus `timeout_s` plus shutdown. aiohttp and hdrh are imported when a run starts, so
    that building one (every run's world does) costs nothing."""

    def run(self, url: str, requests: int, rate: float, concurrency: int, timeout_s: float,
            on_progress: Progress | None = None) -> LoadResult:
        tally = asyncio.run(_load(url, requests, rate, concurrency, timeout_s, on_progress))
        return LoadResult(
            requests=requests, succeeded=tally.succeeded, failures=dict(sorted(tally.failures.items())),
            elapsed_s=tally.elapsed_s, p50_s=tally.latency_s(50), p95_s=tally.latency_s(95),
            p99_s=tally.latency_s(99), max_s=tally.max_s(), service_p95_s=tally.latency_s(95, service=True),
        )


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
