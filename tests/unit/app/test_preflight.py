"""Preflight: nine named checks with fakes; each failing alone; raising checks; preflight.txt."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from runofshow.adapters.memory import InMemoryRouter
from runofshow.app.steps.preflight import (
    CHECKS,
    CheckError,
    HttpAnswer,
    Override,
    PreflightContext,
    PreflightReport,
    parse_backup_time,
    run_preflight,
)
from runofshow.domain.freeze import FreezeRules
from runofshow.domain.plan import Plan, Preflight
from runofshow.domain.tick import TrackSample
from runofshow.errors import MetricsUnavailableError

NOW = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
BASE = "http://127.0.0.1:8099"
NAMES = ["artifact", "canary_health", "metrics", "alert_rules", "traffic_router", "backup", "schema_window",
         "freeze", "notifier"]


def plan(**preflight) -> Plan:
    pf = {"artifact_url": f"{BASE}/releases/v1.4.0.tgz", "canary_health_url": f"{BASE}/health",
          "backup_check_url": f"{BASE}/backup", **preflight}
    return Plan(preflight=Preflight(**pf))


class FakeHttp:
    def __init__(self, answers: dict[str, HttpAnswer]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str]] = []

    def __call__(self, method: str, url: str) -> HttpAnswer:
        self.calls.append((method, url))
        answer = self.answers.get(f"{method} {url}") or self.answers.get(url)
        if answer is None:
            raise CheckError(f"{url}: ConnectError: refused")
        return answer


class FakeMetrics:
    def __init__(self, baseline: TrackSample | None, canary: TrackSample | None) -> None:
        self.baseline, self.canary = baseline, canary

    def observe(self, at, window_s):
        return self.baseline, self.canary


def sample(**drop) -> TrackSample:
    values = {name: 1.0 for name in Plan().gates}
    values.update(drop)
    return TrackSample(values=values, requests=100)


def http(**changes: HttpAnswer) -> FakeHttp:
    answers = {
        f"{BASE}/releases/v1.4.0.tgz": HttpAnswer(200),
        f"{BASE}/health": HttpAnswer(200, '{"status": "ok"}'),
        f"{BASE}/backup": HttpAnswer(200, (NOW - timedelta(hours=2)).isoformat()),
    }
    answers.update({f"{BASE}/{k.replace('_', '/')}": v for k, v in changes.items()})
    return FakeHttp(answers)


def context(p: Plan | None = None, **over) -> PreflightContext:
    base = PreflightContext(
        plan=p or plan(), now=lambda: NOW, http=http(), metrics=FakeMetrics(sample(), sample()),
        alert_rules=lambda: (True, "2 rule(s) loaded: CanaryHighErrorRate, CanaryLatency"),
        router=InMemoryRouter(0.0), run_command=lambda cmd, t: NOW.isoformat() + "\n",
        schema_window=lambda at: (True, "outside market hours 09:30-18:00 Europe/Istanbul"),
        freeze_active=lambda: (True, "active on acme/spark since 2026-12-05T03:30:00Z"),
        notifier=lambda: (True, "slack hooks.slack.com: HTTP 400"),
    )
    return replace(base, **over)


def ticking():
    counter = itertools.count()
    return lambda: next(counter) * 0.25


def test_all_nine_pass_with_fakes_in_the_seeds_order():
    report = run_preflight(context(), timer=ticking())
    assert [r.name for r in report.results] == NAMES == list(CHECKS)
    assert report.score == "9/9" and report.passed and report.summary() == "9/9"
    assert report.failed == () and report.may_open_t0
    assert all(r.duration_s == 0.25 for r in report.results)
    details = {r.name: r.detail for r in report.results}
    assert details["artifact"] == f"{BASE}/releases/v1.4.0.tgz: HTTP 200"
    assert details["canary_health"] == f"{BASE}/health: HTTP 200, status 'ok'"
    assert details["metrics"] == "6/6 gate queries answered with data"
    assert details["traffic_router"] == "local_proxy: reachable, canary at 0 %"
    assert details["backup"] == f"last backup 2026-12-05T02:00:00Z, 2h 00m old ({BASE}/backup)"
    assert details["schema_window"] == "no schema change scheduled"


FAILURES = {
    "artifact": lambda: {"http": FakeHttp({
        f"{BASE}/releases/v1.4.0.tgz": HttpAnswer(404), f"{BASE}/health": HttpAnswer(200),
        f"{BASE}/backup": HttpAnswer(200, NOW.isoformat())})},
    "canary_health": lambda: {"http": FakeHttp({
        f"{BASE}/releases/v1.4.0.tgz": HttpAnswer(200), f"{BASE}/health": HttpAnswer(503, "down"),
        f"{BASE}/backup": HttpAnswer(200, NOW.isoformat())})},
    "metrics": lambda: {"metrics": FakeMetrics(None, sample())},
    "alert_rules": lambda: {"alert_rules": lambda: (False, "not loaded: CanaryHighErrorRate")},
    "traffic_router": lambda: {"router": InMemoryRouter(5.0)},
    "backup": lambda: {"http": FakeHttp({
        f"{BASE}/releases/v1.4.0.tgz": HttpAnswer(200), f"{BASE}/health": HttpAnswer(200),
        f"{BASE}/backup": HttpAnswer(200, (NOW - timedelta(hours=30)).isoformat())})},
    "schema_window": lambda: {"plan": plan(schema_change_at="2026-12-07T11:00:00+03:00"),
                              "schema_window": lambda at: (False, "inside market hours 09:30-18:00")},
    "freeze": lambda: {"freeze_active": lambda: (False, "no freeze record")},
    "notifier": lambda: {"notifier": lambda: (False, "slack hooks.slack.com: HTTP 404 (not usable)")},
}


@pytest.mark.parametrize("name", NAMES)
def test_each_check_failing_alone_gives_8_of_9_naming_it(name):
    report = run_preflight(context(**FAILURES[name]()))
    assert report.score == "8/9" and not report.passed and not report.may_open_t0
    assert report.failed == (name,)
    assert report.summary() == f"8/9: failed {name}"


def test_failure_details():
    def detail(name):
        return next(r.detail for r in run_preflight(context(**FAILURES[name]())).results if r.name == name)

    assert detail("artifact") == f"{BASE}/releases/v1.4.0.tgz: HTTP 404"
    assert detail("metrics") == ("no baseline data for 6/6 gates: http_p95_ms, http_5xx_pct, ws_lag_s, "
                                 "idempotency_conflict_pct, csp_violations, pgbouncer_pool_util_pct")
    assert detail("traffic_router") == "local_proxy: canary at 5 %, expected 0 %"
    assert detail("backup").startswith("last backup 2026-12-03T22:00:00Z is 30h 00m old, more than 24 h")
    assert detail("schema_window") == ("schema change at 2026-12-07T11:00:00+03:00 is inside market hours: "
                                       "inside market hours 09:30-18:00")


def test_a_raising_check_is_a_failure_with_its_one_line_message():
    def boom():
        raise RuntimeError("boom\nsecond line")

    class Down:
        def observe(self, at, window_s):
            raise MetricsUnavailableError("prometheus http://127.0.0.1:9090: connection refused")

    report = run_preflight(context(freeze_active=boom, metrics=Down()))
    assert report.score == "7/9" and report.failed == ("metrics", "freeze")
    details = {r.name: r.detail for r in report.results}
    assert details["freeze"] == "RuntimeError: boom"
    assert details["metrics"] == ("MetricsUnavailableError: prometheus http://127.0.0.1:9090: "
                                  "connection refused")


def test_unconfigured_checks_fail_closed():
    report = run_preflight(PreflightContext(plan=Plan(), now=lambda: NOW))
    details = {r.name: r.detail for r in report.results}
    assert report.score == "1/9"  # only "no schema change scheduled" passes
    assert details["artifact"] == "not configured: set preflight.artifact_url"
    assert details["backup"] == "not configured: set preflight.backup_check_command or backup_check_url"
    assert details["traffic_router"] == "not configured: no traffic router"


def test_canary_without_data_at_0_percent_is_reported_not_failed():
    quiet_canary = sample(http_p95_ms=None, csp_violations=None)
    report = run_preflight(context(metrics=FakeMetrics(sample(), quiet_canary)))
    r = next(r for r in report.results if r.name == "metrics")
    assert r.passed and r.detail == "6/6 gate queries answered with data; canary no data for 2 (0 % traffic)"
    report = run_preflight(context(metrics=FakeMetrics(sample(ws_lag_s=float("nan")), sample())))
    r = next(r for r in report.results if r.name == "metrics")
    assert not r.passed and r.detail == "no baseline data for 1/6 gates: ws_lag_s"


def test_health_body_saying_down_fails():
    h = http()
    h.answers[f"{BASE}/health"] = HttpAnswer(200, '{"status": "DOWN"}')
    r = next(r for r in run_preflight(context(http=h)).results if r.name == "canary_health")
    assert not r.passed and r.detail == f"{BASE}/health: HTTP 200 but status 'DOWN'"


def test_artifact_falls_back_to_get_when_head_is_not_allowed():
    h = http()
    h.answers[f"HEAD {BASE}/releases/v1.4.0.tgz"] = HttpAnswer(405)
    r = next(r for r in run_preflight(context(http=h)).results if r.name == "artifact")
    assert r.passed
    assert [c for c in h.calls if "releases" in c[1]] == [("HEAD", f"{BASE}/releases/v1.4.0.tgz"),
                                                          ("GET", f"{BASE}/releases/v1.4.0.tgz")]


def test_backup_by_command_wins_over_url_and_uses_the_plan_timeout():
    seen = []

    def run(cmd, timeout):
        seen.append((cmd, timeout))
        return "pgbackrest: last full backup\n2026-12-05T01:30:00+00:00\n"

    p = plan(backup_check_command="pgbackrest info --output=text", timeout_s=3)
    r = next(r for r in run_preflight(context(p, run_command=run)).results if r.name == "backup")
    assert r.passed and r.detail == "last backup 2026-12-05T01:30:00Z, 2h 30m old (command)"
    assert seen == [("pgbackrest info --output=text", 3)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05T01:30:00Z", "2026-12-05T01:30:00+00:00"),
        ('{"last_backup_at": "2026-12-05T04:30:00+03:00"}', "2026-12-05T04:30:00+03:00"),
        ('"2026-12-05T01:30:00Z"', "2026-12-05T01:30:00+00:00"),
    ],
)
def test_parse_backup_time(text, expected):
    assert parse_backup_time(text).isoformat() == expected


@pytest.mark.parametrize(("text", "match"), [
    ("", "no time"), ("2026-12-05T01:30:00", "no UTC offset"), ("yesterday", "not an ISO 8601"),
    ('{"x": 1}', "JSON has none"),
])
def test_parse_backup_time_refuses(text, match):
    with pytest.raises(ValueError, match=match):
        parse_backup_time(text)


def test_backup_in_the_future_fails():
    h = http(backup=HttpAnswer(200, (NOW + timedelta(hours=1)).isoformat()))
    r = next(r for r in run_preflight(context(http=h)).results if r.name == "backup")
    assert not r.passed and "in the future" in r.detail


def test_preflight_txt(tmp_path):
    report = run_preflight(context(freeze_active=lambda: (False, "no freeze record")), timer=ticking())
    path = report.write(tmp_path / "evidence")
    text = path.read_text(encoding="utf-8")
    assert path.name == "preflight.txt"
    lines = text.splitlines()
    assert lines[:5] == ["PREFLIGHT spark-trading v1.4.0", "==============================",
                         "Timestamp: 2026-12-05T04:00:00Z", "Score: 8/9", ""]
    assert lines[5] == (f"1. [PASS] artifact        release artifact reachable: {BASE}/releases/v1.4.0.tgz: "
                        "HTTP 200 (0.250 s)")
    assert "8. [FAIL] freeze          change freeze active: no freeze record (0.250 s)" in lines
    assert "Result: 8/9 ❌ (failed: freeze)" in lines
    assert lines[-1] == "T0 may open: no"
    assert [p.name for p in path.parent.iterdir()] == ["preflight.txt"]  # no temporary file left


def test_override_needs_a_reason_and_is_recorded():
    report = run_preflight(context(freeze_active=lambda: (False, "no freeze record")), timer=ticking())
    with pytest.raises(ValueError):
        report.with_override("ic-on-call", "  ")
    over = report.with_override("ic-on-call", "freeze managed by hand in #spark-deploys")
    assert over.may_open_t0 and not over.passed
    assert over.override == Override("ic-on-call", "freeze managed by hand in #spark-deploys")
    assert "Override: ic-on-call: freeze managed by hand in #spark-deploys" in over.render()
    again = PreflightReport.from_json(over.to_json())
    assert again == over


@pytest.mark.parametrize(("when", "detail"), [
    ("tomorrow", "preflight.schema_change_at 'tomorrow' is not an ISO 8601 time"),
    ("2026-12-07T11:00:00", "preflight.schema_change_at '2026-12-07T11:00:00' has no UTC offset"),
])
def test_a_schema_change_time_that_cannot_be_read_fails(when, detail):
    report = run_preflight(context(plan(schema_change_at=when)))
    r = next(r for r in report.results if r.name == "schema_window")
    assert not r.passed and r.detail == detail


def test_with_the_freeze_disabled_the_freeze_check_passes_without_a_record():
    """A run without a repository (freeze: {enabled: false}) is not kept from T0 by a freeze it
    never started."""
    off = plan().model_copy(update={"freeze": FreezeRules(enabled=False)})
    report = run_preflight(context(off, freeze_active=lambda: (False, "no freeze record")))
    assert report.score == "9/9"
    details = {r.name: r.detail for r in report.results}
    assert details["freeze"].startswith("skipped: freeze disabled")
