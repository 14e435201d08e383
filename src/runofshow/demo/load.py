"""A steady, open-loop load generator for `runofshow demo`.

`LoadGenerator(target_url, rate_per_s, seed)` sends `rate_per_s` requests a second at `target_url`
(the local proxy, or one sample service) from its own thread and event loop, whatever the answers
take: arrivals do not wait for responses (open loop). In-flight requests are bounded by
`concurrency`; an arrival that finds them all busy is dropped and counted, never queued. It stops by
itself after `max_duration_s`.

The mix is a trading front end's: quotes 50 %, portfolio 22 %, orders ~28 % (each with an
Idempotency-Key; 2 % of orders are client retries that reuse a recent key with the same body, 0.2 %
reuse one with another body, which the service refuses with 409) and a rare CSP violation report
(0.05 %). Responses are counted by their X-Canary-Track header.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from random import Random
from typing import Any

import aiohttp
import numpy as np
from yarl import URL

from runofshow.demo.services import SYMBOLS

MIX = (("quotes", 0.50), ("portfolio", 0.22), ("orders", 0.2795), ("csp", 0.0005))
RETRY_SAME_BODY = 0.02
REUSE_OTHER_BODY = 0.002
_RECENT_ORDERS = 256
_LATENCIES_KEPT = 20_000
_MAX_BACKLOG_S = 1.0  # after a stall, arrivals older than this are dropped instead of sent in a burst
_DRAIN_S = 2.0


@dataclass(frozen=True)
class LoadStats:
    """What the generator did so far. `by_status` keys are "2xx", "4xx", "5xx"; `by_track` keys are the
    X-Canary-Track values ("unknown" when absent)."""

    elapsed_s: float
    sent: int
    completed: int
    failed: int  # connection errors and timeouts
    dropped: int  # arrivals skipped because `concurrency` requests were in flight
    max_in_flight: int
    by_status: dict[str, int] = field(default_factory=dict)
    by_track: dict[str, int] = field(default_factory=dict)
    p95_ms: float | None = None

    @property
    def rate_per_s(self) -> float:
        """Completed requests per second of running."""
        return self.completed / self.elapsed_s if self.elapsed_s > 0 else 0.0


def _check_loopback(url: URL) -> None:
    host = url.host or ""
    if url.scheme not in ("http", "https") or not host:
        raise ValueError(f"target must be an http(s) URL, not {str(url)!r}")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the demo load generator targets loopback only, not {host!r}")


class LoadGenerator:
    """Open-loop steady load at `rate_per_s`; `start()`, then `stop()` (or let `max_duration_s` end it)."""

    def __init__(self, target_url: str, rate_per_s: float = 80.0, seed: int = 0, *, concurrency: int = 64,
                 max_duration_s: float = 600.0, timeout_s: float = 5.0):
        if not 0 < rate_per_s <= 2000:
            raise ValueError("rate_per_s must be between 0 and 2000")
        if concurrency < 1 or max_duration_s <= 0 or timeout_s <= 0:
            raise ValueError("concurrency, max_duration_s and timeout_s must be positive")
        self._base = URL(target_url.rstrip("/"))
        _check_loopback(self._base)
        self.target_url, self.rate_per_s, self.seed = str(self._base), float(rate_per_s), seed
        self.concurrency, self.max_duration_s, self.timeout_s = concurrency, max_duration_s, timeout_s
        self._rng = Random(seed)
        self._recent: deque[tuple[str, dict[str, Any]]] = deque(maxlen=_RECENT_ORDERS)
        self._lock = threading.Lock()
        self._sent = self._completed = self._failed = self._dropped = 0
        self._in_flight = self._max_in_flight = 0
        self._by_status: Counter[str] = Counter()
        self._by_track: Counter[str] = Counter()
        self._latencies: deque[float] = deque(maxlen=_LATENCIES_KEPT)
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ public API

    def start(self) -> LoadGenerator:
        if self._thread is not None:
            raise RuntimeError("load generator already started")
        self._started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="demo-load", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> LoadStats:
        """Stop sending, let in-flight requests finish (up to 2 s), close the session; the final stats."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise TimeoutError(f"load generator did not stop within {timeout_s} s")
        return self.stats()

    def wait(self, timeout_s: float) -> bool:
        """Wait for the generator to end by itself; True when it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def error(self) -> BaseException | None:
        """An unexpected error that ended the generator early, if any."""
        return self._error

    def stats(self) -> LoadStats:
        with self._lock:
            lat = np.fromiter(self._latencies, dtype=float, count=len(self._latencies))
            start = self._started_at
            end = self._ended_at if self._ended_at is not None else time.monotonic()
            return LoadStats(
                elapsed_s=(end - start) if start is not None else 0.0,
                sent=self._sent, completed=self._completed, failed=self._failed, dropped=self._dropped,
                max_in_flight=self._max_in_flight, by_status=dict(self._by_status),
                by_track=dict(self._by_track),
                p95_ms=round(float(np.percentile(lat, 95)) * 1000, 3) if lat.size else None,
            )

    def __enter__(self) -> LoadGenerator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ requests

    def _pick(self) -> str:
        r, acc = self._rng.random(), 0.0
        for name, share in MIX:
            acc += share
            if r < acc:
                return name
        return MIX[0][0]

    def _order(self) -> tuple[str, dict[str, Any]]:
        r = self._rng.random()
        if self._recent and r < RETRY_SAME_BODY:
            return self._rng.choice(self._recent)
        if self._recent and r < RETRY_SAME_BODY + REUSE_OTHER_BODY:
            key, body = self._rng.choice(self._recent)
            return key, {**body, "qty": body["qty"] + 1}
        key = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        body = {"symbol": self._rng.choice(SYMBOLS), "side": self._rng.choice(("buy", "sell")),
                "qty": self._rng.randint(1, 50) * 10, "type": "limit"}
        self._recent.append((key, body))
        return key, body

    def _request(self) -> tuple[str, URL, dict[str, Any]]:
        kind = self._pick()
        if kind == "quotes":
            symbols = ",".join(self._rng.sample(SYMBOLS, 3))
            return "GET", (self._base / "api/quotes").with_query(symbols=symbols), {}
        if kind == "portfolio":
            return "GET", self._base / "api/portfolio", {}
        if kind == "orders":
            key, body = self._order()
            return "POST", self._base / "api/orders", {"json": body, "headers": {"Idempotency-Key": key}}
        report = {"csp-report": {"document-uri": "https://trade.example.com/portfolio",
                                 "violated-directive": "script-src-elem", "blocked-uri": "inline"}}
        return "POST", self._base / "csp-report", {
            "json": report, "headers": {"Content-Type": "application/csp-report"}}

    async def _one(self, session: aiohttp.ClientSession) -> None:
        method, url, kwargs = self._request()
        t0 = time.perf_counter()
        try:
            async with session.request(method, url, **kwargs) as resp:
                await resp.read()
                status, track = resp.status, resp.headers.get("X-Canary-Track", "unknown")
        except (aiohttp.ClientError, TimeoutError):
            with self._lock:
                self._failed += 1
            return
        finally:
            with self._lock:
                self._in_flight -= 1
        with self._lock:
            self._completed += 1
            self._by_status[f"{status // 100}xx"] += 1
            self._by_track[track.split(",")[0].strip().lower() or "unknown"] += 1
            self._latencies.append(time.perf_counter() - t0)

    # ------------------------------------------------------------------ thread and loop

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # reported through `error`; a thread must not die loudly
            self._error = err
        finally:
            with self._lock:
                self._ended_at = time.monotonic()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.rate_per_s
        tasks: set[asyncio.Task[None]] = set()
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        headers = {"User-Agent": "runofshow-demo-load/1"}
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as session:
            start = loop.time()
            deadline, next_at = start + self.max_duration_s, start
            while not self._stopping.is_set():
                now = loop.time()
                if now >= deadline:
                    break
                if next_at > now:
                    await asyncio.sleep(min(next_at - now, deadline - now))
                    continue
                if now - next_at > _MAX_BACKLOG_S:  # the loop stalled: skip, do not burst
                    missed = int((now - next_at) / interval)
                    next_at += missed * interval
                    with self._lock:
                        self._dropped += missed
                next_at += interval * self._rng.uniform(0.9, 1.1)
                with self._lock:
                    if self._in_flight >= self.concurrency:
                        self._dropped += 1
                        continue
                    self._in_flight += 1
                    self._max_in_flight = max(self._max_in_flight, self._in_flight)
                    self._sent += 1
                task = asyncio.create_task(self._one(session))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                _, pending = await asyncio.wait(set(tasks), timeout=_DRAIN_S)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
