"""The preflight probes on the real tools: a loopback HTTP server and /bin/sh."""

from __future__ import annotations

import time

import pytest

from runofshow.adapters.http_probe import HttpxProbe
from runofshow.adapters.local_process import LocalCommandRunner
from runofshow.app.bootstrap import preflight_tools
from runofshow.app.steps.preflight import (
    CheckError,
    NotConfigured,
    run_preflight,
)
from runofshow.app.steps.probes import (
    PreflightWiring,
    http_fetch,
    notifier_probe,
    shell_command,
)
from runofshow.domain.connections import MemoryRouterSettings as MemoryRouter
from runofshow.domain.connections import NotificationSettings as Notifications
from runofshow.domain.connections import PrometheusSettings as PrometheusSource
from runofshow.domain.plan import Plan, Preflight
from runofshow.loopback import free_port
from tests.helpers import probe_target


@pytest.fixture
def server():
    with probe_target() as stub:
        yield stub.url


def test_http_fetch_follows_redirects_and_reads_at_most_64_kib(server):
    fetch = http_fetch(HttpxProbe(), 2.0)
    assert fetch("GET", f"{server}/redirect").text == "fine"
    assert fetch("GET", f"{server}/gone").status == 404
    big = fetch("GET", f"{server}/big")
    assert big.status == 200 and len(big.text) == 64 * 1024


def test_http_fetch_turns_transport_errors_into_one_line():
    url = f"http://127.0.0.1:{free_port()}/x"
    with pytest.raises(CheckError, match=r"^127\.0\.0\.1:\d+: ConnectError"):
        http_fetch(HttpxProbe(), 1.0)("GET", url)


def test_shell_command_output_failure_and_timeout():
    shell_command_ = shell_command(LocalCommandRunner())
    assert shell_command_("echo 2026-12-05T01:30:00Z | cat", 5) == "2026-12-05T01:30:00Z\n"
    with pytest.raises(CheckError, match="backup command exited 3: nope"):
        shell_command_("echo nope >&2; exit 3", 5)
    started = time.monotonic()
    with pytest.raises(CheckError, match="timed out after 0.3 s"):
        shell_command_("sleep 5 | cat", 0.3)  # the pipeline's children are killed too
    assert time.monotonic() - started < 3


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
    port = free_port()
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
