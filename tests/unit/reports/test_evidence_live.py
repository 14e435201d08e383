"""Evidence written while the run goes (runofshow.reports.evidence_live) and the close-out at the end
(runofshow.cli.closeout): the same renderers, the bundle that verifies, the checklist."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from runofshow.adapters.memory import FakeClock, InMemoryLedger, InMemoryRouter, ScriptedMetrics
from runofshow.app.bootstrap import RunOptions, start_run
from runofshow.app.run.events import RunStatus
from runofshow.app.warroom import commander as warroom
from runofshow.cli.closeout import both, finish
from runofshow.domain.plan import Plan
from runofshow.domain.tick import TrackSample
from runofshow.reports.evidence import MANIFEST, bundle_files, render_files, verify
from runofshow.reports.evidence_live import LiveEvidence, write_live
from tests.helpers import passing_t10_handlers

GOOD = {"http_p95_ms": 142, "http_5xx_pct": 0.05, "ws_lag_s": 8, "idempotency_conflict_pct": 0.1,
        "csp_violations": 3, "pgbouncer_pool_util_pct": 40}


def start(evidence: Path, on_event: Any, script: list[Any] | None = None) -> tuple[Any, Any, FakeClock]:
    clock, ledger = FakeClock(), InMemoryLedger()
    good = TrackSample(values=GOOD, requests=5000)
    world, runner = start_run(Plan(evidence_dir=str(evidence)), RunOptions(check_windows=False), environ={},
                              ledger=ledger, clock=clock, router=InMemoryRouter(), alerts=None,
                              metrics=ScriptedMetrics(script or [(good, good)]), notifier=None, annotator=None,
                              step_handlers=passing_t10_handlers(), on_event=on_event)
    return world, runner, clock


def test_the_war_room_log_is_written_as_the_run_goes(tmp_path: Path) -> None:
    live = LiveEvidence()  # the folder comes from the plan in run_started
    world, runner, clock = start(tmp_path / "evidence", live.on_event)
    log = tmp_path / "evidence" / "warroom_log.txt"
    seen: dict[str, str] = {}
    clock.call_at(runner.state.t0_at + timedelta(minutes=20), lambda: seen.update(t20=log.read_text()))
    with world:
        assert runner.run() is RunStatus.PROMOTED
    lines = seen["t20"].splitlines()
    assert lines[0].startswith("# War room v1.4.0 run ") and lines[-1].startswith(":15 | Stage 2 (5%) start")
    assert not any("Stage 3" in ln for ln in lines)
    final = render_files(runner.ports.ledger.events(runner.state.run_id))
    folder = tmp_path / "evidence"
    for name in ("warroom_log.txt", "canary_timeline.txt", "summary_stage_5.txt", "stage_3_metrics.csv",
                 "checkin_24.txt", "plan.json"):
        assert (folder / name).read_text() == final[name], name  # the very files the bundle rebuilds
    assert not live.errors


def test_a_hook_attached_late_reads_what_it_missed_from_the_ledger(tmp_path: Path) -> None:
    world, runner, _ = start(tmp_path / "unused", None)
    with world:
        runner.run()
    events = runner.ports.ledger.events(runner.state.run_id)
    live = LiveEvidence(tmp_path / "late").attach(runner.ports.ledger)
    live.on_event(events[-2])  # one late war-room line: the whole log from the ledger
    assert (tmp_path / "late" / "warroom_log.txt").read_text() == render_files(events)["warroom_log.txt"]
    broken = LiveEvidence(tmp_path / "late" / "warroom_log.txt")  # a file where a folder should be
    broken.on_event(events[0])
    assert broken.errors and "cannot write" in broken.errors[0]


def test_notes_and_decisions_from_elsewhere_refresh_the_files(tmp_path: Path) -> None:
    world, runner, _ = start(tmp_path / "evidence", None)
    with world:
        runner.run()
    rid, ledger = runner.state.run_id, runner.ports.ledger
    warroom.note(rid, "could be the DNS", by="dave", ledger=ledger)
    write_live(ledger.events(rid), tmp_path / "evidence", ["parking_lot"])
    assert "| dave | could be the DNS" in (tmp_path / "evidence" / "parking_lot.txt").read_text()


def test_the_end_of_a_run_builds_a_bundle_that_verifies(tmp_path: Path) -> None:
    said: list[str] = []
    live = LiveEvidence()
    world, runner, _ = start(tmp_path / "evidence", both(live.on_event, lambda e, s: 1 / 0))
    with world:
        assert runner.run() is RunStatus.PROMOTED
        result = finish(runner, say=said.append)
    assert result is not None
    folder = tmp_path / "evidence"
    assert verify(folder).ok and (folder / MANIFEST).is_file()
    names = {*bundle_files(folder), MANIFEST}  # snapshots/ counted file by file
    run_id = runner.state.run_id
    assert {f"report_{run_id}.html", "mini_rca_v1.4.0.md", "release_oneliner.txt"} <= names
    assert f"  ✅ Evidence files collected (50+): {len(names)} files" in said and said[-1] == "  9/10 met (see success_criteria.txt)"
    assert any(s.startswith("evidence: ") and f"runofshow evidence verify {folder}" in s for s in said)


def test_a_paused_run_is_not_closed_out(tmp_path: Path) -> None:
    world, runner, clock = start(tmp_path / "evidence", None)
    clock.call_at(runner.state.t0_at + timedelta(minutes=5), runner.interrupt)
    with world:
        assert runner.run() is RunStatus.PAUSED
    assert finish(runner, say=lambda s: None) is None and not (tmp_path / "evidence" / MANIFEST).exists()


def test_a_bundle_that_cannot_be_written_is_said_and_the_run_stands(tmp_path: Path) -> None:
    (tmp_path / "evidence").write_text("a file where the folder should be")
    said: list[str] = []
    world, runner, _ = start(tmp_path / "evidence", None)
    with world:
        assert runner.run() is RunStatus.PROMOTED
        assert finish(runner, say=said.append) is None
    assert said[-1].startswith(f"evidence: NOT built in {tmp_path / 'evidence'}: ")
    assert said[-1].endswith(f"runofshow evidence build {runner.state.run_id} --out {tmp_path / 'evidence'}")
