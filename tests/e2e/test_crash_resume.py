"""Crash and resume: SIGKILL a fast `runofshow run` at random points and resume it to the right end.

The world outlives the runner processes, as it does in production: the local proxy (the traffic
router) and a JSON metrics endpoint run in this test process; the runner is a real
`runofshow run` / `runofshow resume` subprocess with a real SQLite ledger. Each run is killed
three times at random moments (12 kill points in all, seeded) and resumed after each kill; at the
end its history must be whole: every stage started and completed exactly once and in order (up to
a rollback), every intent with one outcome, the hash chain verifying, the router at the right
weight.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from runofshow.adapters.local_proxy import LocalProxy

pytestmark = pytest.mark.e2e

SEED = int(os.environ.get("RUNOFSHOW_CRASH_SEED", "20261205"))
SPEED = 200.0
KILLS_PER_RUN = 3
HEALTHY = {"http_p95_ms": 150.0, "http_5xx_pct": 0.2, "ws_lag_s": 3.0, "idempotency_conflict_pct": 0.1,
           "csp_violations": 1.0, "pgbouncer_pool_util_pct": 40.0}
LOOPBACK = "127.0.0.1"
#: this plan has no artifact, health, backup or notification to check at T-10: the IC opens T0
OVERRIDE = ("--override-preflight", "crash drill: nothing to check at T-10", "--as", "ic-on-call")


class MetricsEndpoint:
    """GET /metrics -> {"baseline": {...}, "canary": {...}}, each track's requests following the
    proxy's weight. With `bad_from_weight`, the canary answers 6 % 5xx from that weight on."""

    def __init__(self, proxy: LocalProxy, bad_from_weight: float | None = None) -> None:
        self.proxy, self.bad_from_weight = proxy, bad_from_weight
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = json.dumps(owner.document()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server.server_address[1]}/metrics"

    def document(self) -> dict[str, Any]:
        w = self.proxy.weight / 100

        def track(share: float, bad: bool) -> dict[str, Any]:
            values: dict[str, Any] = dict(HEALTHY, csp_violations=HEALTHY["csp_violations"] * share,
                                          requests=3000 * share)
            if bad:
                values["http_5xx_pct"] = 6.0
            return values

        bad = self.bad_from_weight is not None and self.proxy.weight >= self.bad_from_weight
        return {"baseline": track(1 - w, False), "canary": track(w, bad)}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_plan(path: Path, proxy: LocalProxy, metrics_url: str) -> Path:
    endpoint = {
        name: {"baseline": {"url": metrics_url, "path": f"baseline.{name}"},
               "canary": {"url": metrics_url, "path": f"canary.{name}"}}
        for name in [*HEALTHY, "requests"]
    }
    plan = {
        "traffic_router": {"kind": "local_proxy", "listen": proxy.url.removeprefix("http://")},
        "metrics_source": {"kind": "web_json", "timeout_s": 2, "metrics": endpoint},
        "alert_source": {"poll_prometheus": False},
        "stages": [{"weight": w, "hold_min": 3} for w in (1, 5, 25, 50, 100)],
        "timeline": {"freeze_at_min": -3, "war_room_at_min": -2, "preflight_at_min": -1,
                     "first_night_h": 0.5, "checkin_every_min": 10},
        "evidence_dir": str(path.parent / "evidence"),
    }
    path.write_text(yaml.safe_dump(plan))
    return path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "runofshow.cli.main", *args]


def start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait_for_line(log: Path, marker: str, after: int = 0, timeout: float = 30.0) -> str | None:
    """The first line of the log (from byte `after`) containing `marker`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_bytes()[after:].decode(errors="replace").splitlines():
            if marker in line:
                return line
        time.sleep(0.02)
    return None


def events(state: str, run_id: str) -> list[dict[str, Any]]:
    out = subprocess.run(cli("events", run_id, "--state", state, "--json"), capture_output=True, text=True,
                         check=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


def crash_and_resume(
    tmp: Path, rng: random.Random, bad_from_weight: float | None, within_s: float,
) -> tuple[int, list[dict[str, Any]], float, int]:
    """Run, kill at KILLS_PER_RUN random moments (each within `within_s` of the last start), resume
    after each kill, and wait for the end: (exit code, events, router weight, kills)."""
    proxy = LocalProxy("http://127.0.0.1:9", "http://127.0.0.1:9", host=LOOPBACK, port=0).start()
    endpoint = MetricsEndpoint(proxy, bad_from_weight)
    try:
        plan = write_plan(tmp / "plan.yaml", proxy, endpoint.url)
        state = f"sqlite:///{tmp / 'runofshow.db'}"
        log = tmp / "runner.log"
        proc = start(cli("run", str(plan), "--state", state, "--speed", f"{SPEED:g}", "--no-window-check",
                         *OVERRIDE), log)
        started = wait_for_line(log, " started; resume with")  # run_started is committed
        assert started is not None, log.read_text()
        run_id = started.split()[1]
        kills = 0
        for _ in range(KILLS_PER_RUN):
            time.sleep(rng.uniform(0.0, within_s))
            if proc.poll() is not None:
                break  # it finished before this kill point
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            kills += 1
            mark = log.stat().st_size
            proc = start(cli("resume", run_id, "--state", state), log)
            # the next kill point is counted from when the resumed runner has read the world back
            assert wait_for_line(log, "| Resumed (", after=mark) or proc.poll() is not None, log.read_text()
        code = proc.wait(120)
        status = json.loads(subprocess.run(cli("status", run_id, "--state", state, "--json"),
                                           capture_output=True, text=True, check=True).stdout)
        assert status["chain_ok"] is True and status["ended"] and status["exit_code"] == code
        assert status["resumes"] == kills
        return code, events(state, run_id), proxy.weight, kills
    finally:
        endpoint.close()
        proxy.stop()


def check_history(evs: list[dict[str, Any]], kills: int) -> list[int]:
    """Stages started, after checking the history is whole."""
    kinds = Counter(e["kind"] for e in evs)
    assert [e["seq"] for e in evs] == list(range(1, len(evs) + 1))
    for a, b in zip(evs, evs[1:], strict=False):
        assert b["prev_hash"] == a["hash"]
    started = [e["payload"]["stage"] for e in evs
               if e["kind"] == "step_started" and e["payload"]["kind"] == "stage"]
    completed = [e["payload"]["stage"] for e in evs
                 if e["kind"] == "step_completed" and e["payload"]["kind"] == "stage"]
    assert started == list(range(len(started))), started  # in order, none repeated, none skipped
    assert completed == started[: len(completed)]
    steps = Counter(e["payload"]["index"] for e in evs if e["kind"] == "step_completed")
    assert set(steps.values()) <= {1}
    intents = [e["payload"]["id"] for e in evs if e["kind"] == "weight_intent"]
    outcomes = [e["payload"]["id"] for e in evs if e["kind"] == "weight_outcome"]
    assert sorted(intents) == sorted(outcomes) and len(set(outcomes)) == len(outcomes)
    times = [e["payload"]["t_s"] for e in evs if e["kind"] == "decision"]
    assert times == sorted(times)
    assert kinds["resumed"] == kills and kinds["run_started"] == 1 and kinds["run_ended"] == 1
    return started


FULL_S = (3 + 15 + 30) * 60 / SPEED  # wall seconds: T-3 .. T+15 min, then a 30 min first night


@pytest.mark.parametrize("case", range(4))
def test_a_killed_healthy_run_resumes_to_promotion(tmp_path: Path, case: int) -> None:
    """4 runs x 3 kills: 12 kill points, each resumed."""
    rng = random.Random(SEED + case)
    code, evs, weight, kills = crash_and_resume(tmp_path, rng, None, within_s=FULL_S / 5)
    assert code == 0, evs[-3:]
    assert kills == KILLS_PER_RUN
    assert check_history(evs, kills) == [0, 1, 2, 3, 4]
    assert evs[-1]["payload"]["status"] == "promoted" and weight == 100


def test_a_killed_run_that_must_roll_back_resumes_to_the_rollback(tmp_path: Path) -> None:
    rng = random.Random(SEED + 99)
    rollback_s = (3 + 6) * 60 / SPEED  # stage 3 (25 %) starts at T+6 min
    code, evs, weight, kills = crash_and_resume(tmp_path, rng, 25, within_s=rollback_s / KILLS_PER_RUN)
    assert code == 3, evs[-3:]
    assert check_history(evs, kills) == [0, 1, 2]
    assert evs[-1]["payload"]["status"] == "rolled_back" and weight == 0
    assert sum(e["kind"] == "rollback_started" for e in evs) == 1
