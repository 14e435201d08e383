"""Start-up time of the CLI next to `python -c pass`, in the same run (issue 11: `runofshow --help`
and `runofshow replay X --json` <= 0.3 s wall). Median of N runs each, interleaved, so that a busy
machine slows all three alike; the ratio to `python -c pass` is the figure that travels.

    python bench/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "src" / "runofshow" / "examples" / "ex-007.json"


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)
    py = sys.executable
    cli = [py, "-m", "runofshow.cli.main"]
    cases = {
        "python -c pass": [py, "-c", "pass"],
        "runofshow --help": [*cli, "--help"],
        "runofshow replay ex-007.json --json": [*cli, "replay", str(EXAMPLE), "--json"],
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.runs):
        for name, cmd in cases.items():
            times[name].append(wall(cmd))
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<38} {'median s':>9} {'min s':>7} {'x python -c pass':>17}")
    for name, xs in times.items():
        med = statistics.median(xs)
        print(f"{name:<38} {med:>9.3f} {min(xs):>7.3f} {med / base:>17.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
