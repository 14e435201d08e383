"""Start-up time of the CLI next to `python -c pass`, in the same run (issue 11: `runofshow --help`
and `runofshow replay X --json` <= 0.3 s wall). Median of N runs each, interleaved, so that a busy
machine slows all of them alike; the ratio to `python -c pass` is the figure that travels.

The package's bytecode is compiled first (`compileall`, as pip does when it installs the wheel), so
the main rows time an installed CLI. The last row times `replay --json` from a copy of the package
without .pyc files and with PYTHONDONTWRITEBYTECODE=1: every start compiles runofshow's sources,
as an editable install does on a machine that sets that variable.

    python bench/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "src" / "runofshow" / "examples" / "ex-007.json"


def wall(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - start


def package_dir() -> Path:
    """The runofshow package the CLI runs (PYTHONPATH or the installed one)."""
    spec = importlib.util.find_spec("runofshow")
    if spec is None or spec.origin is None:
        raise SystemExit("runofshow is not importable")
    return Path(spec.origin).parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)
    py = sys.executable
    cli = [py, "-m", "runofshow.cli.main"]
    pkg = package_dir()
    compileall.compile_dir(pkg, quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(pkg, Path(tmp) / "runofshow", ignore=shutil.ignore_patterns("__pycache__"))
        cold = {**os.environ, "PYTHONPATH": tmp, "PYTHONDONTWRITEBYTECODE": "1"}
        cases: dict[str, tuple[list[str], dict[str, str] | None]] = {
            "python -c pass": ([py, "-c", "pass"], None),
            "runofshow --help": ([*cli, "--help"], None),
            "runofshow replay ex-007.json --json": ([*cli, "replay", str(EXAMPLE), "--json"], None),
            "  the same, no .pyc for runofshow": ([*cli, "replay", str(EXAMPLE), "--json"], cold),
        }
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.runs):
            for name, (cmd, env) in cases.items():
                times[name].append(wall(cmd, env))
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<38} {'median s':>9} {'min s':>7} {'x python -c pass':>17}")
    for name, xs in times.items():
        med = statistics.median(xs)
        print(f"{name:<38} {med:>9.3f} {min(xs):>7.3f} {med / base:>17.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
