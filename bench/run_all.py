"""`make bench`: every benchmark, printed figures side by side in one run.

1. Decision engine vs the seed's threshold-only matrix on the bundled examples and on a larger
   generated set (false rollbacks, missed regressions, early rollbacks, detection delay, time to
   promote, time per replay).
2. Alert-to-zero latency with real Prometheus and Alertmanager on loopback.
3. The blast-radius probe next to `hey` (achieved rate) and `wrk` (p95).
4. The war room on the web (`runofshow serve`): run page load, SSE delivery to 50 clients.
5. Team mode on PostgreSQL: takeover time over 20 kills, 1,000 runs in one worker, fenced appends.
6. Start-up: `runofshow --help` and `runofshow replay X --json` next to `python -c pass`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def step(title: str, argv: list[str]) -> int:
    print(f"\n=== {title} ===", flush=True)
    return subprocess.call(argv, cwd=ROOT)


def main() -> int:
    failures = 0
    examples = ROOT / "src" / "runofshow" / "examples"
    ros = str(BIN / "runofshow")
    failures += step("Decision engine on the 12 bundled examples", [ros, "bench", str(examples)]) != 0
    with tempfile.TemporaryDirectory() as tmp:
        gen = [sys.executable, "bench/generate.py", "--out", tmp, "--count", "500", "--seed", "7"]
        failures += step("Generate 500 scenarios (seed 7)", gen) != 0
        failures += step("Decision engine on 500 generated scenarios", [ros, "bench", tmp]) != 0
    alert = [sys.executable, "bench/alert_latency.py"]
    failures += step("Alert to weight 0 (real Prometheus + Alertmanager)", alert) != 0
    blast = [sys.executable, "bench/blast_vs_hey_wrk.py"]
    failures += step("Blast-radius probe vs hey and wrk", blast) != 0
    web = [sys.executable, "bench/web_war_room.py"]
    failures += step("The war room on the web: page load, SSE latency with 50 clients", web) != 0
    team = [sys.executable, "bench/team.py"]
    failures += step("Team mode: takeover, 1,000 runs in one worker, fenced appends (PostgreSQL)", team) != 0
    startup = [sys.executable, "bench/startup.py"]
    failures += step("Start-up: runofshow --help and replay --json next to python -c pass", startup) != 0
    print(f"\n{failures} benchmark step(s) failed" if failures else "\nall benchmarks ran")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
