"""The preflight probes, on the real tools (a loopback HTTP server, /bin/sh, the freeze record file)
and on their fakes."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runofshow.adapters.freeze_file import JsonFreezeStore
from runofshow.adapters.http_probe import HttpxProbe
from runofshow.adapters.local_process import LocalCommandRunner
from runofshow.adapters.memory_steps import ScriptedCommands, ScriptedHttp
from runofshow.app.bootstrap import preflight_tools
from runofshow.app.run.steps import StepContext
from runofshow.app.steps.preflight import (
    CheckError,
    NotConfigured,
    Override,
    PreflightContext,
    PreflightReport,
    run_preflight,
)
from runofshow.app.steps.probes import (
    PreflightWiring,
    alert_rules_probe,
    freeze_probe,
    http_fetch,
    notifier_probe,
    shell_command,
    step_handler,
)
from runofshow.domain.freeze import FreezeRecord
from runofshow.domain.plan import MemoryRouter, Notifications, Plan, Preflight, PrometheusSource
from runofshow.domain.timeline import StepKind, schedule
from runofshow.ports import CommandResult, HttpAnswer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        routes = {"/ok": (200, b"fine"), "/gone": (404, b"no_service"), "/hook": (400, b"invalid_payload"),
                  "/big": (200, b"x" * 200_000), "/boom": (503, b"down")}
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, body = routes.get(self.path, (404, b""))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    thread.join()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_http_fetch_follows_redirects_and_reads_at_most_64_kib(server):
    fetch = http_fetch(HttpxProbe(), 2.0)
    assert fetch("GET", f"{server}/redirect").text == "fine"
    assert fetch("GET", f"{server}/gone").status == 404
    big = fetch("GET", f"{server}/big")
    assert big.status == 200 and len(big.text) == 64 * 1024


def test_http_fetch_turns_transport_errors_into_one_line():
    url = f"http://127.0.0.1:{closed_port()}/x"
    with pytest.raises(CheckError, match=r"^127\.0\.0\.1:\d+: ConnectError"):
        http_fetch(HttpxProbe(), 1.0)("GET", url)


def test_http_fetch_asks_with_the_plan_timeout_and_keeps_the_message():
    http = ScriptedHttp({"http://a.test/x": HttpAnswer(204)})
    assert http_fetch(http, 1.5)("HEAD", "http://a.test/x").status == 204
    assert http.asked == [("HEAD", "http://a.test/x", 1.5)]
    with pytest.raises(CheckError, match=r"^b\.test: ConnectError"):
        http_fetch(http, 1.5)("GET", "http://b.test/y")


def test_shell_command_output_failure_and_timeout():
    shell_command_ = shell_command(LocalCommandRunner())
    assert shell_command_("echo 2026-12-05T01:30:00Z | cat", 5) == "2026-12-05T01:30:00Z\n"
    with pytest.raises(CheckError, match="backup command exited 3: nope"):
        shell_command_("echo nope >&2; exit 3", 5)
    started = time.monotonic()
    with pytest.raises(CheckError, match="timed out after 0.3 s"):
        shell_command_("sleep 5 | cat", 0.3)  # the pipeline's children are killed too
    assert time.monotonic() - started < 3


def test_shell_command_reads_the_runners_result():
    runner = ScriptedCommands({
        "ok": CommandResult(0, "2026-12-05T01:30:00Z\n"), "quiet": CommandResult(1, "", "  \n"),
        "out-only": CommandResult(2, "first line\nsecond\n"), "slow": CommandResult(None, "partial"),
    })
    run = shell_command(runner)
    assert run("ok", 5) == "2026-12-05T01:30:00Z\n" and runner.ran == [(("/bin/sh", "-c", "ok"), 5)]
    with pytest.raises(CheckError, match="^backup command exited 1: no output$"):
        run("quiet", 5)
    with pytest.raises(CheckError, match="^backup command exited 2: first line$"):
        run("out-only", 5)
    with pytest.raises(CheckError, match="^backup command timed out after 2.5 s$"):
        run("slow", 2.5)
    with pytest.raises(CheckError, match="^cannot run the backup command: .*missing"):
        run("missing", 5)


def test_freeze_probe_reads_the_freeze_record(tmp_path):
    store = JsonFreezeStore(tmp_path)
    probe = freeze_probe(store)
    ok, detail = probe()
    assert not ok and "no freeze record" in detail and "runofshow freeze start" in detail
    assert str(tmp_path / "freeze_state.json") in detail
    rec = FreezeRecord(repo="acme/spark", release="v1.4.0", label="hold-for-canary",
                       started_at="2026-12-05T03:30:00Z", status="active", labelled=[4, 7],
                       active_at="2026-12-05T03:30:05Z")
    store.save(rec)
    assert probe() == (True, "active on acme/spark since 2026-12-05T03:30:05Z, 2 PR(s) labelled "
                             "'hold-for-canary'")
    rec.status, rec.ended_at = "ended", "2026-12-06T05:00:00Z"
    store.save(rec)
    assert probe() == (False, "the freeze of acme/spark ended at 2026-12-06T05:00:00Z")


def test_notifier_probe_hides_the_secret_and_judges_the_status(server):
    plan = Plan(notifications=Notifications(webhook_url=f"{server}/hook"))
    env = {"SLACK_WEBHOOK_URL": f"{server}/gone/T000/B000/secret"}
    ok, detail = notifier_probe(plan, env, http_fetch(HttpxProbe(), 2.0))()
    assert not ok
    host = server.removeprefix("http://")
    assert detail == f"slack {host}: HTTP 404 (not usable); webhook {host}: HTTP 400"
    assert "secret" not in detail
    ok, detail = notifier_probe(plan, {}, http_fetch(HttpxProbe(), 2.0))()
    assert ok and detail == f"webhook {host}: HTTP 400"
    with pytest.raises(NotConfigured, match=r"not configured: set \$SLACK_WEBHOOK_URL or notifications"):
        notifier_probe(Plan(), {}, http_fetch(HttpxProbe(), 2.0))()


def test_wiring_with_nothing_listening_fails_checks_without_crashing(tmp_path, server):
    port = closed_port()
    plan = Plan(
        traffic_router=MemoryRouter(),
        metrics_source=PrometheusSource(url=f"http://127.0.0.1:{port}", timeout_s=0.5, retries=0),
        preflight=Preflight(artifact_url=f"{server}/ok", canary_health_url=f"{server}/boom",
                            backup_check_command="date -u +%Y-%m-%dT%H:%M:%SZ", timeout_s=2),
    )
    with PreflightWiring(plan, tmp_path, preflight_tools(environ={})) as wiring:
        report = run_preflight(wiring.context)
    results = {r.name: r for r in report.results}
    assert len(results) == 9
    assert results["artifact"].passed and results["traffic_router"].passed and results["backup"].passed
    assert results["schema_window"].passed
    assert not results["canary_health"].passed and results["canary_health"].detail.endswith("HTTP 503")
    assert not results["metrics"].passed and "MetricsUnavailableError" in results["metrics"].detail
    assert not results["alert_rules"].passed
    assert not results["freeze"].passed and not results["notifier"].passed
    assert report.score == "4/9"


def _step_context(plan: Plan, evidence: str) -> StepContext:
    steps = schedule(plan)
    index = next(i for i, s in enumerate(steps) if s.kind is StepKind.PREFLIGHT)
    return StepContext(plan=plan, run_id="r1", index=index, step=steps[index], t_s=-600.0,
                       at=datetime(2026, 12, 5, 3, 50, tzinfo=UTC), evidence_dir=evidence)


def test_step_handler_halts_before_t0_unless_9_of_9_or_overridden(tmp_path):
    def build(ctx):
        return PreflightContext(plan=ctx.plan, now=lambda: ctx.at)  # nothing wired: 1/9

    ctx = _step_context(Plan(), str(tmp_path))
    outcome = step_handler(build)(ctx)
    assert not outcome.ok and outcome.halt is not None
    assert outcome.halt.startswith("preflight 1/9: failed artifact")
    assert (tmp_path / "preflight.txt").read_text().startswith("PREFLIGHT spark-trading v1.4.0")
    assert PreflightReport.from_json(outcome.details).score == "1/9"

    overridden = step_handler(build, Override("ic-on-call", "dry run, nothing to check"))(ctx)
    assert overridden.halt is None and not overridden.ok
    assert overridden.details["override"] == {"by": "ic-on-call", "reason": "dry run, nothing to check"}
    assert "Override: ic-on-call: dry run, nothing to check" in (tmp_path / "preflight.txt").read_text()


class Rules:
    def __init__(self, found=(), missing=(), unhealthy=()):
        self.found, self.missing, self.unhealthy = tuple(found), tuple(missing), tuple(unhealthy)

    @property
    def ok(self):
        return bool(self.found) and not self.missing and not self.unhealthy


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (Rules(found=["CanaryHighErrorRate", "CanaryLatency"]),
         (True, "2 rule(s) loaded: CanaryHighErrorRate, CanaryLatency")),
        (Rules(found=["A"], missing=["CanaryLatency"]), (False, "not loaded: CanaryLatency")),
        (Rules(found=["A"], unhealthy=["A: bad query"]), (False, "unhealthy: A: bad query")),
        (Rules(), (False, 'no alerting rule with auto_rollback="true" is loaded')),
    ],
)
def test_alert_rules_probe(rules, expected):
    seen = []

    def check(plan, environ):
        seen.append((plan.preflight.alert_rules, dict(environ)))
        return rules

    plan = Plan(preflight=Preflight(alert_rules=("CanaryHighErrorRate",)))
    assert alert_rules_probe(plan, {"X": "1"}, check)() == expected
    assert seen == [(("CanaryHighErrorRate",), {"X": "1"})]


def test_alert_rules_need_prometheus():
    from runofshow.domain.plan import WebJsonSource

    with pytest.raises(NotConfigured, match="metrics_source is web_json"):
        alert_rules_probe(Plan(metrics_source=WebJsonSource()), {}, lambda p, e: Rules())()


def test_alert_rules_unwired_fail_closed():
    with pytest.raises(NotConfigured, match="not wired"):
        alert_rules_probe(Plan(), {}, None)()
