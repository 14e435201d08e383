"""The preflight probes on their fakes (and the freeze record file). Against a loopback HTTP server
and /bin/sh: tests/integration/test_preflight_probes.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runofshow.adapters.freeze_file import JsonFreezeStore
from runofshow.adapters.memory_steps import ScriptedCommands, ScriptedHttp
from runofshow.app.run.steps import StepContext
from runofshow.app.steps.preflight import (
    CheckError,
    NotConfigured,
    Override,
    PreflightContext,
    PreflightReport,
)
from runofshow.app.steps.probes import (
    alert_rules_probe,
    freeze_probe,
    http_fetch,
    shell_command,
    step_handler,
)
from runofshow.domain.freeze import FreezeRecord
from runofshow.domain.plan import Plan, Preflight
from runofshow.domain.timeline import StepKind, schedule
from runofshow.ports import CommandResult, HttpAnswer


def test_http_fetch_asks_with_the_plan_timeout_and_keeps_the_message():
    http = ScriptedHttp({"http://a.test/x": HttpAnswer(204)})
    assert http_fetch(http, 1.5)("HEAD", "http://a.test/x").status == 204
    assert http.asked == [("HEAD", "http://a.test/x", 1.5)]
    with pytest.raises(CheckError, match=r"^b\.test: ConnectError"):
        http_fetch(http, 1.5)("GET", "http://b.test/y")


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
    from runofshow.domain.connections import WebJsonSettings as WebJsonSource

    with pytest.raises(NotConfigured, match="metrics_source is web_json"):
        alert_rules_probe(Plan(metrics_source=WebJsonSource()), {}, lambda p, e: Rules())()


def test_alert_rules_unwired_fail_closed():
    with pytest.raises(NotConfigured, match="not wired"):
        alert_rules_probe(Plan(), {}, None)()
