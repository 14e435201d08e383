"""The war room on the web under load (`runofshow serve` in its own process, SQLite ledger):

1. Run page first load for a run with about 2,000 ledger events (goal <= 300 ms), and its figures.
2. Event appended -> received by 50 concurrent SSE clients (goal p95 <= 1 s).
3. The runner's write path (a ledger append, what every tick ends with) with and without the 50
   clients polling the same ledger: they should add no measurable delay.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.adapters.memory import FakeClock, InMemoryRouter, ScriptedMetrics, StaticAlerts
from runofshow.app.bootstrap import RunOptions, start_run
from runofshow.app.warroom.identity import create_token
from runofshow.domain.plan import Plan
from runofshow.domain.tick import TrackSample

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the stand-in T-minus steps of the report tests (no network)
BIN = Path(sys.executable).parent
CLIENTS = 50
COLD_RUNS = 5
HEALTHY = {
    "http_p95_ms": 150.0,
    "http_5xx_pct": 0.05,
    "ws_lag_s": 3.0,
    "idempotency_conflict_pct": 0.1,
    "csp_violations": 1.0,
    "pgbouncer_pool_util_pct": 40.0,
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stand_in_handlers() -> dict:  # type: ignore[type-arg]
    from tests.report_runs import stand_in_handlers as handlers

    return handlers()


def big_run(ledger: SqlLedger, folder: Path) -> str:
    """A whole promoted run ticking every 2.7 plan seconds: about 2,100 events."""
    plan = Plan.model_validate(
        {
            "traffic_router": {"kind": "memory"},
            "evidence_dir": str(folder / "evidence"),
            "decision": {"tick_interval_s": 2.7},
        }
    )
    sample = TrackSample(HEALTHY, requests=3000)
    metrics = ScriptedMetrics([(sample, sample)])
    _, runner = start_run(
        plan,
        RunOptions(check_windows=False),
        environ={},
        ledger=ledger,
        clock=FakeClock(),
        router=InMemoryRouter(),
        metrics=metrics,
        alerts=StaticAlerts(),
        notifier=None,
        annotator=None,
        step_handlers=stand_in_handlers(),
    )
    runner.run()
    return runner.state.run_id


def appends(ledger: SqlLedger, run_id: str, n: int) -> list[float]:
    took = []
    for i in range(n):
        started = time.perf_counter()
        ledger.append(
            run_id, "parking_lot", {"text": f"bench {i}", "by": "bench", "t_s": None}, datetime.now(UTC)
        )
        took.append(time.perf_counter() - started)
        time.sleep(0.02)
    return took


async def sse_client(
    url: str, last: int, want: int, got: dict[int, list[float]], ready: asyncio.Event, opened: list[int],
    auth: dict[str, str],
) -> None:
    async with (
        httpx.AsyncClient(timeout=60, headers=auth) as client,
        client.stream("GET", url, headers={"Accept": "text/event-stream", "Last-Event-ID": str(last)}) as r,
    ):
        opened.append(1)
        if len(opened) == CLIENTS:
            ready.set()
        seen = 0
        async for line in r.aiter_lines():
            if line.startswith("id: "):
                got.setdefault(int(line[4:]), []).append(time.time())
                seen += 1
                if seen >= want:
                    return


async def fan_out(
    base: str, ledger: SqlLedger, run_id: str, n: int, auth: dict[str, str]
) -> tuple[list[float], list[float]]:
    last = ledger.events(run_id)[-1].seq
    got: dict[int, list[float]] = {}
    ready, opened = asyncio.Event(), []
    url = f"{base}/api/runs/{run_id}/events"
    tasks = [asyncio.create_task(sse_client(url, last, n, got, ready, opened, auth)) for _ in range(CLIENTS)]
    await asyncio.wait_for(ready.wait(), 60)
    await asyncio.sleep(1.0)  # every stream is polling
    appended: dict[int, float] = {}
    took: list[float] = []

    def write() -> None:
        for _ in range(n):
            started = time.perf_counter()
            e = ledger.append(
                run_id, "parking_lot", {"text": "live", "by": "bench", "t_s": None}, datetime.now(UTC)
            )
            took.append(time.perf_counter() - started)
            appended[e.seq] = time.time()
            time.sleep(0.1)

    await asyncio.to_thread(write)
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    delays = [t - appended[seq] for seq, times in got.items() for t in times if seq in appended]
    return delays, took


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    """`runofshow serve` in a process of its own, once it answers /healthz."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(BIN / "runofshow"), "serve", "--state", url, "--listen", f"127.0.0.1:{port}"],
        env={**os.environ, "RUNOFSHOW_WEB_SECRET": "bench-" + "x" * 32},
    )
    for _ in range(150):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    return server, base


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cold_load(url: str, run_id: str, auth: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, server CPU seconds) of the run page's first request to a fresh server process.
    The CPU figure does not grow with other processes' load on the machine; the wall one does."""
    server, base = start_server(url)
    try:
        time.sleep(0.5)  # the server's own start-up is over
        cpu, started = cpu_s(server.pid), time.perf_counter()
        assert httpx.get(f"{base}/runs/{run_id}", headers=auth, timeout=30).status_code == 200
        return time.perf_counter() - started, cpu_s(server.pid) - cpu
    finally:
        server.terminate()
        server.wait(10)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'runofshow.db'}"
        ledger = SqlLedger(url)
        run_id = big_run(ledger, folder)
        n_events = len(ledger.events(run_id))
        token, _ = create_token(ledger, "bench", "observer")  # reading needs an identity
        auth = {"Authorization": f"Bearer {token}"}
        colds = [cold_load(url, run_id, auth) for _ in range(COLD_RUNS)]  # fresh processes
        walls, cpus = [w for w, _ in colds], [c for _, c in colds]
        server, base = start_server(url)
        try:
            page, figs = [], []
            with httpx.Client(timeout=30, headers=auth) as client:
                started = time.perf_counter()
                client.get(f"{base}/api/runs/{run_id}/figures")
                cold_figs = time.perf_counter() - started
                for _ in range(10):
                    started = time.perf_counter()
                    assert client.get(f"{base}/runs/{run_id}").status_code == 200
                    page.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    assert client.get(f"{base}/api/runs/{run_id}/figures").status_code == 200
                    figs.append(time.perf_counter() - started)
            firsts = ", ".join(f"{c * 1000:.0f}" for c in walls)
            print(
                f"run page first load, {n_events} events, from {COLD_RUNS} fresh server processes (each "
                f"reads, parses and folds every event): median {statistics.median(walls) * 1000:.0f} ms "
                f"({firsts} ms; goal <= 300 ms), server CPU median {statistics.median(cpus) * 1000:.0f} ms "
                f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs); "
                f"then p50 {statistics.median(page) * 1000:.0f} ms, p95 {pct(page, 95) * 1000:.0f} ms"
            )
            print(
                f"its 7 plotly charts' data: {cold_figs * 1000:.0f} ms the first time (plotly builds the "
                f"figures), then p50 {statistics.median(figs) * 1000:.0f} ms (kept per ledger seq)"
            )
            quiet = appends(ledger, run_id, 100)
            delays, busy = asyncio.run(fan_out(base, ledger, run_id, 30, auth))
            print(
                f"event appended -> received, {CLIENTS} SSE clients, {len(delays)} deliveries: "
                f"p50 {statistics.median(delays) * 1000:.0f} ms, p95 {pct(delays, 95) * 1000:.0f} ms "
                f"(goal p95 <= 1000 ms)"
            )
            print(
                f"runner's ledger append: p50 {statistics.median(quiet) * 1000:.1f} ms without clients, "
                f"{statistics.median(busy) * 1000:.1f} ms with {CLIENTS} SSE clients "
                f"(p95 {pct(quiet, 95) * 1000:.1f} / {pct(busy, 95) * 1000:.1f} ms)"
            )
        finally:
            server.terminate()
            server.wait(10)
            ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
