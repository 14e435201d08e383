"""Real notification channels wired by the bootstrap: a webhook and a Grafana that hang or refuse
every message never hold a run back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from runofshow.app.run.events import EventKind, RunStatus
from runofshow.domain.plan import Plan
from runofshow.loopback import LOOPBACK
from tests.helpers import TrackedHTTPServer, wait_until
from tests.unit.app.test_runner_wiring import kinds, run_on_fakes


class Hook(BaseHTTPRequestHandler):
    """A webhook that hangs (path /hang) or refuses every message (/fail: 400), counting them."""

    hits: list[str] = []
    release = threading.Event()

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Hook.hits.append(json.loads(body).get("event", "annotation"))
        if self.path.startswith("/hang"):
            Hook.release.wait(30)
        self.send_response(400 if self.path.startswith("/fail") else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def hook() -> Iterator[str]:
    Hook.hits, Hook.release = [], threading.Event()
    # handler threads are joined at stop: a hung reply the client gave up on is written (to a closed
    # connection, which the server does not report) before the next test starts, not during it
    server = TrackedHTTPServer(Hook).start()
    yield f"http://{LOOPBACK}:{server.port}"
    Hook.release.set()
    server.stop()


@pytest.mark.parametrize("path", ["/hang", "/fail"])
def test_a_webhook_that_hangs_or_fails_never_holds_the_run_back(hook: str, path: str) -> None:
    plan = Plan.model_validate({"notifications": {"webhook_url": hook + path, "grafana_url": hook + path,
                                                  "slack_webhook_url_env": None}})
    world, runner = run_on_fakes(plan)  # a fake clock: the run itself never waits on the wall clock
    ended: list[RunStatus] = []

    def run() -> None:
        with world:
            ended.append(runner.run())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    # /hang holds every request until the test ends (each would time out after 10 s): a runner that
    # waited for a channel would still be at its first message
    wait_until(lambda: not thread.is_alive(), timeout=60, what="the run to end")
    assert ended == [RunStatus.PROMOTED] and not Hook.release.is_set()
    assert Hook.hits and set(Hook.hits) <= {"preflight", "stage", "checkin", "canary_complete", "annotation",
                                            "stable"}
    failed = kinds(runner, EventKind.NOTIFY_FAILED)
    if path == "/fail":  # the fan-out retried and gave up, or was still retrying at the end: recorded
        assert failed and {f["channel"] for f in failed} <= {"webhook", "grafana", "grafana#2"}
        assert all("HTTP 400" in f["error"] for f in failed)
    else:  # still hanging at the end: the ledger says what never went out
        assert failed and any(f["event"] == "undelivered" and "not delivered" in f["error"] for f in failed)
    assert runner.state.ended and kinds(runner, EventKind.RUN_ENDED)[0]["status"] == "promoted"
