"""The blast-radius probe against a loopback aiohttp server with known delays (1-2 s runs). Latencies
are checked from below (a probe cannot measure less than the server's delay); how fast it is, is
measured by `make bench` (bench/blast_vs_hey_wrk.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web

from runofshow.adapters.load_generator import AiohttpLoadGenerator
from runofshow.app.steps.blast import BlastResult, probe, render_evidence
from runofshow.errors import EvidenceError
from runofshow.loopback import free_port
from tests.unit.app.test_blast import fixed_now


class LoopbackServer:
    """aiohttp on 127.0.0.1 in its own thread and event loop.

    /ok?d=S      answers 200 after S seconds
    /flaky       every 4th request answers 500
    /status/N    answers N
    /hang        never answers in time
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.hits = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _ok(self, request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("d", "0")))
        return web.Response(text="ok")

    async def _flaky(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(status=500 if self.hits % 4 == 0 else 200, text="x")

    async def _status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="x")

    async def _hang(self, request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="late")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/ok", self._ok)
        app.router.add_get("/flaky", self._flaky)
        app.router.add_get("/status/{code}", self._status)
        app.router.add_get("/hang", self._hang)
        self.runner = web.AppRunner(app, shutdown_timeout=0.2, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    def start(self) -> LoopbackServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    async def _shutdown(self) -> None:
        await self.runner.cleanup()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:  # handlers still sleeping in /hang
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    s = LoopbackServer().start()
    yield s
    s.stop()


def run(url: str, seconds: float = 1.0, rate: float = 50, concurrency: int = 20, **kw) -> BlastResult:
    kw.setdefault("evidence_dir", None)
    kw.setdefault("load", AiohttpLoadGenerator())
    return probe(url, "v1.4.0", seconds, rate, concurrency, now=fixed_now, **kw)


def test_every_request_is_sent_and_p95_reflects_the_delay(server):
    r = run(server.url("/ok?d=0.05"), seconds=1.5, rate=80)
    assert r.requests == 120 and r.succeeded == 120 and r.failed == 0
    assert 0.05 <= r.p50_s <= r.p95_s <= r.p99_s <= r.max_s
    assert r.success_pct == 100 and r.passed()


def test_failures_are_counted_by_kind(server):
    server.hits = 0
    r = run(server.url("/flaky"), seconds=1.0, rate=40)
    assert r.requests == 40
    assert r.failures == {"HTTP 500": 10} and r.succeeded == 30
    assert r.success_pct == 75 and not r.passed()
    assert any("success 75.00 %" in reason for reason in r.reasons())


def test_connection_refused_fails_every_request():
    r = run(f"http://127.0.0.1:{free_port()}/", seconds=0.5, rate=20)  # nobody listens there
    assert r.succeeded == 0 and r.failed == r.requests == 10
    assert list(r.failures) == ["ClientConnectorError"]
    assert not r.passed()


def test_a_slow_server_fails_the_verdict(server):
    r = run(server.url("/ok?d=0.6"), seconds=1.0, rate=20, concurrency=50)
    assert r.success_pct == 100
    assert r.p95_s >= 0.6
    assert not r.passed(95, 0.5)
    assert r.reasons(95, 0.5) == [f"p95 {r.p95_s:.3f} s is not below 0.5 s"]
    assert r.passed(95, 1.0)  # the criteria are configurable


def test_latency_counts_from_the_intended_send_time(server):
    # One slot, 0.1 s per answer, 20 req/s asked: the server keeps up with 10/s only, so
    # requests queue; latency from the intended time grows to ~1 s while service time stays 0.1 s.
    r = run(server.url("/ok?d=0.1"), seconds=1.0, rate=20, concurrency=1)
    assert r.succeeded == 20
    assert 0.09 <= r.service_p95_s < r.p95_s
    assert r.p95_s > 0.8
    assert r.achieved_rate < 12


def test_hanging_requests_time_out(server):
    r = run(server.url("/hang"), seconds=0.5, rate=10, concurrency=5, timeout_s=0.3)
    assert r.succeeded == 0 and r.failures == {"timeout": 5}  # none waited for the 30 s answer
    assert r.max_s >= 0.3


def test_unfinished_requests_are_cut_off_and_counted(server):
    # One slot and a 0.3 s timeout: the first request times out, the queued ones never get a slot
    # before the run's deadline (last send + timeout) and are cancelled.
    r = run(server.url("/hang"), seconds=0.5, rate=20, concurrency=1, timeout_s=0.3)
    assert r.requests == 10 and r.succeeded == 0
    assert r.failures.get("unfinished", 0) >= 5
    assert sum(r.failures.values()) == 10


def test_progress_reaches_the_planned_count(server):
    seen: list[tuple[int, int]] = []
    run(server.url("/ok"), seconds=0.5, rate=40, on_progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (20, 20)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_evidence_file(server, tmp_path):
    r = run(server.url("/ok?d=0.01"), seconds=0.5, rate=20, evidence_dir=tmp_path)
    assert r.evidence_path == tmp_path / "micro_blast_v1.4.0_20241024T101500Z.log"
    text = r.evidence_path.read_text(encoding="utf-8")
    assert text == render_evidence(r)
    for line in ("MICRO BLAST RADIUS TEST", "Timestamp: 2024-10-24T10:15:00Z", "Version: v1.4.0",
                 f"URL: {server.url('/ok?d=0.01')}", "Requests: 10 planned, 10 succeeded, 0 failed",
                 "Success: 100.00 %", "Criteria: success > 95 %, p95 < 0.5 s", "Result: PASS"):
        assert line in text
    assert "p95: 0.0" in text
    assert [p.name for p in tmp_path.iterdir()] == [r.evidence_path.name]  # no temp file left
    again = run(server.url("/status/503"), seconds=0.2, rate=10, evidence_dir=tmp_path)
    assert again.evidence_path is not None and again.evidence_path.name.endswith("-2.log")
    failed = again.evidence_path.read_text(encoding="utf-8")
    assert "Result: FAIL" in failed and "Failures: HTTP 503: 2" in failed
    assert r.evidence_path.read_text(encoding="utf-8") == text  # the first one is untouched


def test_unwritable_evidence_is_an_evidence_error(server, tmp_path):
    blocker = tmp_path / "evidence"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(EvidenceError, match="cannot write"):
        run(server.url("/ok"), seconds=0.2, rate=10, evidence_dir=blocker)
