"""Team mode's figures (issue 13), each on a fresh PostgreSQL database at 127.0.0.1:5432:

1. takeover: a run driven by one of two `runofshow worker` processes (lease TTL 3 s); the owner
   is SIGKILLed, the time until another worker's claim is committed is measured in the database;
   20 kills, p50/p95 (goal: p95 <= TTL + 2 s);
2. supervision: 1,000 runs driven at once by one worker (in its own process) with in-memory
   routers and metrics, 15 s ticks at wall speed: CPU share of one core and resident memory over a
   steady window, and the worst tick lateness (goals <= 20 %, <= 500 MiB, <= 1 s);
3. ledger appends on PostgreSQL, fenced (the conditional INSERT that checks the epoch) and
   unfenced, in alternating blocks on one run each: appends/s, the ratio, and this process's CPU
   per append (what a worker pays for each event it records).

    python bench/team.py [--only takeover|supervision|appends] [--runs 1000] [--kills 20]

The takeover part borrows the e2e tests' local proxy and metrics endpoint (tests/e2e).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from sqlalchemy import create_engine, text  # noqa: E402
from tests.helpers import fresh_postgres_database  # noqa: E402

from runofshow.adapters.lease_sql import SqlLeases  # noqa: E402
from runofshow.adapters.ledger_sql import SqlLedger  # noqa: E402
from runofshow.ports import RunRecord  # noqa: E402

TTL_S = 3.0
HEALTHY = {"http_p95_ms": 150.0, "http_5xx_pct": 0.2, "ws_lag_s": 3.0, "idempotency_conflict_pct": 0.1,
           "csp_violations": 1.0, "pgbouncer_pool_util_pct": 40.0}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "runofshow.cli.main", *args]


# --------------------------------------------------------------------------- 1. takeover


def takeover(kills: int) -> dict[str, Any]:
    from tests.e2e.test_crash_resume import OVERRIDE, MetricsEndpoint, write_plan
    from tests.e2e.test_team_workers import RecordingProxy

    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{os.environ.get('PYTHONPATH', '')}"}
    times: list[float] = []
    with fresh_postgres_database() as url, tempfile.TemporaryDirectory() as tmp:
        proxy = RecordingProxy().start()
        metrics = MetricsEndpoint(proxy)
        plan = write_plan(Path(tmp) / "plan.yaml", proxy, metrics.url)
        procs: dict[str, subprocess.Popen[bytes]] = {}
        n = 0

        def spawn() -> None:
            nonlocal n
            name = f"w{n}"
            n += 1
            with (Path(tmp) / f"{name}.log").open("ab") as log:
                procs[name] = subprocess.Popen(cli("worker", "--state", url, "--name", name, "--lease-ttl",
                                                   f"{TTL_S:g}"), stdout=log, stderr=subprocess.STDOUT,
                                               env=env, cwd=tmp)

        engine = create_engine(url)

        def owner() -> tuple[str | None, int]:
            with engine.connect() as conn:
                row = conn.execute(text("SELECT owner, epoch FROM leases WHERE status = 'running'")).first()
            return (None, 0) if row is None else (row.owner, row.epoch)

        try:
            def submit() -> None:
                subprocess.run(cli("submit", str(plan), "--state", url, "--speed", "5", "--no-window-check",
                                   *OVERRIDE), check=True, capture_output=True, env=env)

            submit()
            spawn()
            spawn()
            while len(times) < kills:
                deadline = time.monotonic() + 60
                who, epoch = owner()
                while who is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                    who, epoch = owner()
                    with engine.connect() as conn:
                        left = conn.execute(text("SELECT count(*) FROM leases WHERE status <> 'done'")
                                            ).scalar()
                        if left == 0:
                            submit()  # the run ended: another one to hand around
                if who is None or who not in procs:
                    raise RuntimeError("no worker drives the run")
                time.sleep(0.5)  # let it drive a moment
                killed_at = time.monotonic()
                procs[who].send_signal(signal.SIGKILL)
                procs[who].wait(10)
                del procs[who]
                spawn()  # two workers again
                while time.monotonic() - killed_at < 60:
                    now_owner, now_epoch = owner()
                    if now_epoch > epoch and now_owner is not None:
                        times.append(time.monotonic() - killed_at)
                        break
                    time.sleep(0.02)
                else:
                    raise RuntimeError("no takeover within 60 s")
                print(f"  kill {len(times):2d}: {who} -> taken over in {times[-1]:.2f} s", flush=True)
        finally:
            for p in procs.values():
                p.kill()
                p.wait(10)
            engine.dispose()
            metrics.close()
            proxy.stop()
    return {"ttl_s": TTL_S, "kills": len(times), "p50_s": statistics.median(times), "p95_s": pct(times, 95),
            "max_s": max(times), "goal_p95_s": TTL_S + 2.0}


# --------------------------------------------------------------------------- 2. supervision


class HealthyMetrics:
    """Both tracks healthy, 3000 requests a tick split by nothing in particular: one shared source."""

    def observe(self, at: datetime, window_s: float) -> Any:
        from runofshow.domain.tick import TrackSample

        return (TrackSample(dict(HEALTHY), requests=2970.0), TrackSample(dict(HEALTHY), requests=30.0))


def supervise_child(url: str, runs: int) -> None:
    """In the child process: one worker driving every run (in-memory router per run)."""
    from runofshow.app.team.worker import Worker, WorkerSettings

    ledger = SqlLedger(url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker = Worker(WorkerSettings(name="bench", state_url=url, max_runs=runs, lease_ttl_s=15.0, poll_s=0.2),
                    ledger, SqlLeases(ledger), say=lambda line: None, metrics=HealthyMetrics(),
                    phase_speeds={"stages": 1.0})
    worker.serve(stop)


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def supervision(runs: int, window_s: float) -> dict[str, Any]:
    import yaml

    from runofshow.app.plan_file import load_plan
    from runofshow.app.steps.preflight import Override
    from runofshow.app.team.submit import Submission, submit

    with fresh_postgres_database() as url, tempfile.TemporaryDirectory() as tmp:
        plan_file = Path(tmp) / "plan.yaml"
        plan_file.write_text(yaml.safe_dump({
            "traffic_router": {"kind": "memory"},
            "metrics_source": {"kind": "web_json", "metrics": {
                name: {"baseline": {"url": "http://127.0.0.1:9/m", "path": f"b.{name}"},
                       "canary": {"url": "http://127.0.0.1:9/m", "path": f"c.{name}"}}
                for name in [*HEALTHY, "requests"]}},
            "alert_source": {"poll_prometheus": False},
            "stages": [{"weight": w, "hold_min": 60} for w in (1, 5, 25, 50, 100)],
            "decision": {"tick_interval_s": 15},
            "timeline": {"freeze_at_min": -3, "war_room_at_min": -2, "preflight_at_min": -1,
                         "first_night_h": 0.5, "checkin_every_min": 10},
            "evidence_dir": str(Path(tmp) / "evidence"),
        }))
        plan = load_plan(plan_file)
        with SqlLedger(url) as ledger:
            leases = SqlLeases(ledger)
            for _ in range(runs):
                submit(plan, leases, Submission(speed=60.0, check_windows=False,
                                                override=Override("ic-on-call", "supervision bench")))
        child = subprocess.Popen([sys.executable, __file__, "--child", url, "--runs", str(runs)], cwd=tmp)
        engine = create_engine(url)
        try:
            started = time.monotonic()
            while True:  # ramp-up: every run claimed, started, and in its first stage
                with engine.connect() as conn:
                    in_stage = conn.execute(text("SELECT count(*) FROM runs WHERE stage IS NOT NULL")
                                            ).scalar()
                    settled = conn.execute(text(  # in a stage, or ended (halted: say so below)
                        "SELECT count(*) FROM runs WHERE stage IS NOT NULL OR status IN "
                        "('halted', 'rolled_back', 'promoted')")).scalar()
                if settled == runs or time.monotonic() - started > 900:
                    break
                if child.poll() is not None:
                    raise RuntimeError("the worker died")
                time.sleep(1)
            ramp_s = time.monotonic() - started
            time.sleep(15)  # the first tick of every stage
            cpu0, t0, wall0 = _proc_cpu_s(child.pid), time.monotonic(), datetime.now(UTC)
            rss = [_proc_rss_mib(child.pid)]
            while time.monotonic() - t0 < window_s:
                time.sleep(2)
                rss.append(_proc_rss_mib(child.pid))
            cpu_share = (_proc_cpu_s(child.pid) - cpu0) / (time.monotonic() - t0)
            with engine.connect() as conn:
                ended = dict(conn.execute(text("SELECT status, count(*) FROM runs GROUP BY status")).all())
                takeovers = conn.execute(text("SELECT count(*) FROM events WHERE kind = 'takeover'")).scalar()
                rows = conn.execute(text(
                    "SELECT run_id, kind, payload, at >= :w0 AS measured FROM events "
                    "WHERE kind IN ('decision', 'step_started') ORDER BY run_id, seq"), {"w0": wall0}).all()
        finally:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(120)
            except subprocess.TimeoutExpired:
                child.kill()
            engine.dispose()
    late: list[float] = []  # ticks in the steady window only (not the ramp-up's)
    last: dict[str, float] = {}
    for run_id, kind, payload, measured in rows:
        p = json.loads(payload) if isinstance(payload, str) else payload
        if kind == "step_started" and p.get("kind") == "stage":
            last[run_id] = float(p.get("t_s", 0.0))
        elif kind == "decision" and p.get("trigger") == "tick" and run_id in last:
            t_s = float(p["t_s"])
            if measured:
                late.append(max(0.0, t_s - last[run_id] - 15.0))
            last[run_id] = t_s
    return {"runs": runs, "in_stage": in_stage, "statuses": ended, "takeovers": takeovers,
            "ramp_up_s": ramp_s,
            "window_s": window_s,
            "cpu_share_one_core": cpu_share, "rss_max_mib": max(rss), "ticks": len(late),
            "worst_lateness_s": max(late) if late else None,
            "p95_lateness_s": pct(late, 95) if late else None,
            "goals": {"cpu_share": 0.20, "rss_mib": 500, "lateness_s": 1.0}}


# --------------------------------------------------------------------------- 3. appends


def appends(n: int, blocks: int = 8) -> dict[str, Any]:
    at = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    spent = {"fenced": 0.0, "unfenced": 0.0}
    cpu = {"fenced": 0.0, "unfenced": 0.0}  # this process's CPU (driver and SQLAlchemy, not the server's)
    with fresh_postgres_database() as url, SqlLedger(url) as ledger:
        leases = SqlLeases(ledger)
        for rid in ("fenced", "unfenced"):
            leases.submit(RunRecord(run_id=rid, release="bench", version="v1", status="queued", stage=None,
                                    weight=None, started_at=at, plan={}), {})
        lease = leases.claim("bench", 600, run_id="fenced")
        assert lease is not None
        fenced = leases.fenced(lease)
        per = n // blocks
        for b in range(blocks):  # alternating blocks, side by side on one connection pool
            for which in (("fenced", "unfenced") if b % 2 == 0 else ("unfenced", "fenced")):
                start, cpu0 = time.perf_counter(), time.process_time()
                for i in range(per):
                    payload = {"i": i, "block": b, "metrics": HEALTHY}
                    if which == "fenced":
                        fenced.append("fenced", "tick", payload, at)
                    else:
                        ledger.append("unfenced", "tick", payload, at)
                spent[which] += time.perf_counter() - start
                cpu[which] += time.process_time() - cpu0
        assert ledger.verify_chain("fenced") == [] and ledger.verify_chain("unfenced") == []
    rate = {k: per * blocks / v for k, v in spent.items()}
    return {"appends_each": per * blocks, "fenced_per_s": rate["fenced"], "unfenced_per_s": rate["unfenced"],
            "fenced_over_unfenced": rate["fenced"] / rate["unfenced"],
            "fenced_cpu_us": 1e6 * cpu["fenced"] / (per * blocks),
            "unfenced_cpu_us": 1e6 * cpu["unfenced"] / (per * blocks)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["takeover", "supervision", "appends"])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--appends", type=int, default=4000)
    ap.add_argument("--child")
    a = ap.parse_args()
    if a.child:
        supervise_child(a.child, a.runs)
        return 0
    out: dict[str, Any] = {}
    if a.only in (None, "appends"):
        r = out["appends"] = appends(a.appends)
        print(f"ledger appends on PostgreSQL: fenced {r['fenced_per_s']:.0f}/s, unfenced "
              f"{r['unfenced_per_s']:.0f}/s, ratio {r['fenced_over_unfenced']:.2f} "
              f"({r['appends_each']} each); client CPU per append: fenced {r['fenced_cpu_us']:.0f} us, "
              f"unfenced {r['unfenced_cpu_us']:.0f} us", flush=True)
    if a.only in (None, "takeover"):
        r = out["takeover"] = takeover(a.kills)
        print(f"takeover after SIGKILL (TTL {r['ttl_s']:g} s, {r['kills']} kills): p50 {r['p50_s']:.2f} s, "
              f"p95 {r['p95_s']:.2f} s, max {r['max_s']:.2f} s (goal p95 <= {r['goal_p95_s']:g} s)",
              flush=True)
    if a.only in (None, "supervision"):
        r = out["supervision"] = supervision(a.runs, a.window)
        print(f"supervision, {r['runs']} runs in one worker, 15 s ticks: "
              f"CPU {100 * r['cpu_share_one_core']:.1f} % of one core, RSS max {r['rss_max_mib']:.0f} MiB, "
              f"worst tick lateness "
              f"{r['worst_lateness_s']} s (p95 {r['p95_lateness_s']}) over {r['ticks']} ticks; "
              f"ramp-up {r['ramp_up_s']:.0f} s (goals 20 %, 500 MiB, 1 s); statuses {r['statuses']}, "
              f"{r['takeovers']} takeover(s)", flush=True)
    print(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
