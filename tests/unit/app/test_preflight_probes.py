"""The real preflight probes that need no server: a freeze record, a refused connection, the alert
rules check and the T-10 step handler. Against a server and /bin/sh:
tests/integration/test_preflight_probes.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runofshow.app.run.steps import StepContext
from runofshow.app.steps.freeze import FreezeRecord, FreezeStore
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
    step_handler,
)
from runofshow.domain.plan import Plan, Preflight
from runofshow.domain.timeline import StepKind, schedule
from runofshow.loopback import free_port


def test_http_fetch_turns_transport_errors_into_one_line():
    url = f"http://127.0.0.1:{free_port()}/x"
    with pytest.raises(CheckError, match=r"^127\.0\.0\.1:\d+: ConnectError"):
        http_fetch(1.0)("GET", url)


def test_freeze_probe_reads_the_freeze_record(tmp_path):
    probe = freeze_probe(tmp_path)
    ok, detail = probe()
    assert not ok and "no freeze record" in detail and "runofshow freeze start" in detail
    store = FreezeStore(tmp_path)
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
    from runofshow.domain.connections import WebJsonSettings

    with pytest.raises(NotConfigured, match="metrics_source is web_json"):
        alert_rules_probe(Plan(metrics_source=WebJsonSettings()), {}, lambda p, e: Rules())()
