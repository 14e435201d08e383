"""`runofshow demo` end to end: real sample services, proxy, load, Prometheus and Alertmanager.

A healthy canary is promoted (exit 0) through the whole T-30 .. T+24h; each injected fault makes
the run roll back by itself (exit 3) at or after the stage it was injected in. Prometheus and
Alertmanager must be on PATH (scripts/install-services.sh): a missing binary fails, never skips.
One run uses the web JSON source instead, to cover the fallback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def demo(out: Path, *args: str, timeout: float = 280) -> tuple[int, str, list[dict[str, Any]]]:
    proc = subprocess.run([sys.executable, "-m", "runofshow.cli.main", "demo", "--out", str(out), *args],
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    state = f"sqlite:///{out / 'runofshow.db'}"
    runs = subprocess.run([sys.executable, "-m", "runofshow.cli.main", "runs", "--state", state, "--json"],
                          capture_output=True, text=True, check=True)
    run_id = json.loads(runs.stdout)[-1]["run_id"]
    events = subprocess.run([sys.executable, "-m", "runofshow.cli.main", "events", run_id, "--state", state,
                             "--json"], capture_output=True, text=True, check=True)
    return proc.returncode, proc.stdout + proc.stderr, [json.loads(x) for x in events.stdout.splitlines()]


def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in events if e["kind"] == kind]


@pytest.fixture(scope="module", autouse=True)
def _binaries() -> None:
    for name in ("prometheus", "prometheus-alertmanager"):
        assert shutil.which(name), f"{name} is not on PATH: run scripts/install-services.sh"


def test_a_healthy_canary_is_promoted(tmp_path: Path) -> None:
    code, out, events = demo(tmp_path)
    assert code == 0, out[-3000:]
    assert "Prometheus" in out
    stages = [p["stage"] for p in of(events, "step_completed") if p["kind"] == "stage"]
    assert stages == [0, 1, 2, 3, 4]
    assert [p["kind"] for p in of(events, "step_completed")][-2:] == ["first_night", "close_out"]
    assert of(events, "run_ended")[0]["status"] == "promoted"
    assert not of(events, "rollback_started")
    assert (tmp_path / "plan.yaml").is_file() and (tmp_path / "prometheus" / "prometheus.log").is_file()


@pytest.mark.parametrize("fault", ["errors", "latency", "leak", "alert"])
def test_an_injected_fault_rolls_back_by_itself(tmp_path: Path, fault: str) -> None:
    code, out, events = demo(tmp_path, "--fault", fault)
    assert code == 3, out[-3000:]
    rollback = of(events, "rollback_started")
    assert len(rollback) == 1 and rollback[0]["stage"] >= 2  # injected when stage 3 (25 %) starts
    zero = [p for p in of(events, "weight_outcome") if p["weight"] == 0]
    assert zero and zero[-1]["read_back"] == 0
    ended = of(events, "run_ended")[0]
    assert ended["status"] == "rolled_back" and ended["weight"] == 0
    if fault in ("errors", "alert"):  # Alertmanager's webhook, not the next tick
        assert rollback[0]["trigger"] in ("alert", "decision")
        assert of(events, "alert_received") or rollback[0]["trigger"] == "decision"


def test_without_prometheus_the_web_json_source_and_the_services_alert_roll_back(tmp_path: Path) -> None:
    code, out, events = demo(tmp_path, "--fault", "alert", "--no-prometheus")
    assert code == 3, out[-3000:]
    assert "web JSON source" in out
    assert of(events, "rollback_started")[0]["reasons"][0].startswith("alert CanaryCrashLooping")
