"""What the bootstrap wires into a run: the seed's notifications and Grafana annotations (real
channels that hang or fail: tests/integration/test_notification_channels.py), the T-10 preflight that
keeps T0 shut, and the runner noticing another process's events while it waits on a real clock."""

from __future__ import annotations

import threading
import time
from typing import Any

from runofshow.adapters.memory import (
    FakeClock,
    InMemoryLedger,
    InMemoryRouter,
    RecordingAnnotator,
    RecordingNotifier,
    ScriptedMetrics,
)
from runofshow.app.bootstrap import RunOptions, start_run
from runofshow.app.run.clock import CompressedClock
from runofshow.app.run.events import EventKind, RunStatus
from runofshow.app.warroom import commander as warroom
from runofshow.domain.plan import Plan
from runofshow.domain.tick import TrackSample
from tests.helpers import passing_t10_handlers

GOOD = {"http_p95_ms": 142, "http_5xx_pct": 0.05, "ws_lag_s": 8, "idempotency_conflict_pct": 0.1,
        "csp_violations": 3, "pgbouncer_pool_util_pct": 40}


def run_on_fakes(plan: Plan | None = None, script: list[Any] | None = None, **overrides: Any) -> tuple[Any, Any]:
    good = TrackSample(values=GOOD, requests=5000)
    ledger = overrides.pop("ledger", None) or InMemoryLedger()
    handlers = {**passing_t10_handlers(), **overrides.pop("step_handlers", {})}
    world, runner = start_run(plan or Plan(), RunOptions(check_windows=False), environ={}, ledger=ledger,
                              clock=overrides.pop("clock", None) or FakeClock(), router=InMemoryRouter(),
                              metrics=ScriptedMetrics(script or [(good, good)]), alerts=None,
                              step_handlers=handlers, **overrides)
    return world, runner


def kinds(runner: Any, kind: EventKind) -> list[dict[str, Any]]:
    return [dict(e.payload) for e in runner.ports.ledger.events(runner.state.run_id) if e.kind == kind.value]


# --------------------------------------------------------------------------- notifications


def test_the_seeds_messages_go_out_and_grafana_marks_every_transition() -> None:
    notifier, annotator = RecordingNotifier(), RecordingAnnotator()
    _, runner = run_on_fakes(notifier=notifier, annotator=annotator)
    assert runner.run() is RunStatus.PROMOTED
    events = [e for e, _, _ in notifier.sent]
    assert events[:2] == ["preflight", "stage"] and events.count("stage") == 5
    assert events.count("checkin") == 23 and events[-1] == "stable"
    texts = notifier.texts
    assert "Preflight 9/9 ✅, Blast radius FAIL ❌" in texts  # the probe is not configured in this plan
    assert "✅ Canary complete (1→100%), entering 24h monitoring" in texts
    assert texts[-1] == "✅ v1.4.0 stable (24h)"  # no freeze was managed, so none is said lifted
    assert any(t.startswith("🌙 v1.4.0 first night check-in 3/24h: 6/6 PASS, burn 1h=0.50x") for t in texts)
    marked = [text for _, text, tags in annotator.annotations]
    assert len(marked) == 6 and marked[0] == "▶️ v1.4.0 canary: Stage 1 (1%) start"
    assert all(tags[:2] == ("runofshow", "v1.4.0") for _, _, tags in annotator.annotations)


def test_a_rollback_is_announced_and_annotated_and_the_freeze_message_needs_a_freeze() -> None:
    good = TrackSample(values=GOOD, requests=5000)
    bad = TrackSample(values={**GOOD, "http_5xx_pct": 6.0}, requests=5000)
    notifier, annotator = RecordingNotifier(), RecordingAnnotator()
    _, runner = run_on_fakes(script=[(good, good)] * 20 + [(good, bad)], notifier=notifier, annotator=annotator)
    assert runner.run() is RunStatus.ROLLED_BACK
    assert "freeze_open" not in [e for e, _, _ in notifier.sent]
    [rollback] = [text for event, text, _ in notifier.sent if event == "rollback"]
    assert rollback.startswith("🚨 v1.4.0 canary ROLLED BACK at Stage 2 (5%), canary traffic 0%: http_5xx_pct")
    assert annotator.annotations[-1][1] == rollback


def test_failing_channels_are_recorded_and_the_run_goes_on() -> None:
    _, runner = run_on_fakes(notifier=RecordingNotifier(fail=3), annotator=RecordingAnnotator(fail=1))
    assert runner.run() is RunStatus.PROMOTED
    failed = kinds(runner, EventKind.NOTIFY_FAILED)
    assert [(f["channel"], f["event"]) for f in failed] == [
        ("notifier", "preflight"), ("notifier", "stage"), ("annotator", "stage"), ("notifier", "stage")]


# --------------------------------------------------------------------------- T-10


def test_without_9_of_9_t0_never_opens() -> None:
    """The real preflight, wired by the bootstrap: the default plan has nothing to check against."""
    ledger, router = InMemoryLedger(), InMemoryRouter()
    good = TrackSample(values=GOOD, requests=5000)
    world, runner = start_run(Plan(evidence_dir="/nonexistent/evidence"), RunOptions(check_windows=False),
                              environ={}, ledger=ledger, clock=FakeClock(), router=router, alerts=None,
                              metrics=ScriptedMetrics([(good, good)]), notifier=None, annotator=None,
                              step_handlers={})
    with world:
        assert runner.run() is RunStatus.HALTED
    ended = kinds(runner, EventKind.RUN_ENDED)[0]
    assert ended["status"] == "halted" and ended["reason"].startswith("preflight ")
    assert "fix them, or the incident commander overrides with a reason" in ended["reason"]
    assert router.sets == [] and router.current_weight() == 0
    assert not [p for p in kinds(runner, EventKind.STEP_STARTED) if p["kind"] == "stage"]


# --------------------------------------------------------------------------- other processes


def test_the_runner_sees_another_processes_decision_within_its_poll_interval() -> None:
    """A real (compressed) clock: the runner waits on the wall clock and polls the ledger."""
    ledger = InMemoryLedger()
    clock = CompressedClock(3000)  # a 60 s tick is 20 ms of wall time
    world, runner = run_on_fakes(ledger=ledger, clock=clock, notifier=None, annotator=None)
    assert runner.ports.ledger_poll_s == 0.25
    rid = runner.state.run_id
    seen: list[bool] = []

    def decide_when_stage_2_runs() -> None:
        while not [e for e in ledger.events(rid) if e.kind == "step_started" and e.payload.get("stage") == 1]:
            time.sleep(0.01)
        warroom.ic_decide(rid, "rollback", by="ic-on-call", reason="drill", ledger=ledger,
                          router=lambda plan: runner.ports.router)
        seen.append(True)

    other = threading.Thread(target=decide_when_stage_2_runs, daemon=True)
    other.start()
    with world:
        status = runner.run()
    assert status is RunStatus.ROLLED_BACK and runner.ports.router.current_weight() == 0
    assert seen  # the decision was made while the run went on, and the run noticed it
    assert [p["trigger"] for p in kinds(runner, EventKind.ROLLBACK_STARTED)] == ["ic"]


def test_an_ic_override_opens_t0_and_the_war_room_says_who(tmp_path: Any) -> None:
    from runofshow.app.steps.preflight import Override
    from runofshow.reports.evidence_render import RunView, war_room_lines

    dead = {"url": "http://127.0.0.1:9/metrics", "path": "x"}
    plan = Plan.model_validate({
        "war_room": {"incident_commanders": ["alice"]}, "evidence_dir": str(tmp_path),
        "metrics_source": {"kind": "web_json", "timeout_s": 1, "metrics": {
            name: {"baseline": dead, "canary": dead} for name in (*GOOD, "requests")}},
    })
    good = TrackSample(values=GOOD, requests=5000)
    world, runner = start_run(plan, RunOptions(check_windows=False, preflight_override=Override("ALICE", "drill")),
                              environ={}, ledger=InMemoryLedger(), clock=FakeClock(), router=InMemoryRouter(),
                              metrics=ScriptedMetrics([(good, good)]), alerts=None, notifier=None, annotator=None)
    with world:
        assert runner.run() is RunStatus.PROMOTED
    assert runner.state.started["preflight_override"] == {"by": "alice", "reason": "drill"}
    lines = war_room_lines(RunView.of(runner.ports.ledger.events(runner.state.run_id)))
    [line] = [ln for ln in lines if "| Preflight FAILED |" in ln]
    assert line.startswith(":-10 | Preflight FAILED | 1/9 PASS, failed: artifact") and \
        line.endswith("(overridden by IC alice: drill) | IC alice: Proceed")
    assert "Override: alice: drill" in (tmp_path / "preflight.txt").read_text()
