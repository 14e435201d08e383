"""`runofshow demo` serves the war room on the web beside the run: the printed URL answers, and the
printed IC token writes to the run's ledger while it goes on."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_demo_serves_the_war_room_with_an_ic_token(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "runofshow.cli.main", "demo", "--out", str(tmp_path),
                             "--no-prometheus", "--speed", "120", "--night-speed", "36000"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        found = None
        deadline = time.monotonic() + 120
        while found is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            found = re.search(r"war room: (http://\S+)/runs/(\S+) \(log in as (\S+), IC, with the demo token (ros_\S+)\)",
                              line)
        assert found is not None, "the demo printed no war-room URL"
        base, run_id, ic, token = found.groups()
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/api/runs/{run_id}", timeout=10).status_code == 401  # reading needs a login
        run = httpx.get(f"{base}/api/runs/{run_id}", timeout=10, headers=auth).json()
        assert run["run_id"] == run_id
        r = httpx.post(f"{base}/api/runs/{run_id}/notes", json={"text": "seen from the web"}, timeout=10,
                       headers=auth)
        assert r.status_code == 201 and r.json()["payload"]["identity"]["name"] == ic
        page = httpx.get(f"{base}/runs/{run_id}", timeout=10, headers=auth).text
        assert "ros_" not in page  # the token is never shown
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, out[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
