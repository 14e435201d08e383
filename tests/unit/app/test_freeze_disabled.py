"""A run without a repository (issue 10 item 8): `freeze: {enabled: false}` in the plan, or
--no-freeze, skips the T-30 freeze and its close-out. Both are in the ledger as skipped, the war-room
log says so, no pull request is touched, and the freeze evidence files say "freeze: skipped"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runofshow.adapters.memory import (
    FakeClock,
    InMemoryLedger,
    InMemoryRouter,
    RecordingNotifier,
    ScriptedMetrics,
)
from runofshow.app.bootstrap import RunOptions, start_run
from runofshow.app.run.events import EventKind, RunStatus
from runofshow.app.run.minutes import line
from runofshow.domain.plan import Plan
from runofshow.domain.tick import TrackSample
from runofshow.reports.evidence_render import RunView, war_room_log
from runofshow.reports.evidence_steps import step_files
from tests.helpers import passing_t10_handlers
from tests.unit.app.test_runner_wiring import GOOD


class UntouchablePullRequests:
    """A pull-request host that fails the test on any use."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the pull-request host was used ({name}) with the freeze disabled")


def whole_run(plan: Plan, options: RunOptions, notifier: RecordingNotifier) -> Any:
    good = TrackSample(values=GOOD, requests=5000)
    _, runner = start_run(plan, options, environ={}, ledger=InMemoryLedger(), clock=FakeClock(),
                          router=InMemoryRouter(), metrics=ScriptedMetrics([(good, good)]), alerts=None,
                          step_handlers=passing_t10_handlers(), pull_requests=UntouchablePullRequests(),
                          notifier=notifier)
    runner.run()
    return runner


@pytest.mark.parametrize(("plan", "options", "reason"), [
    (Plan.model_validate({"freeze": {"enabled": False}}), RunOptions(check_windows=False),
     "freeze disabled in the plan"),
    (Plan(), RunOptions(check_windows=False, no_freeze=True), "freeze disabled (--no-freeze)"),
])
def test_a_whole_run_with_the_freeze_disabled_skips_it_and_says_so(
    plan: Plan, options: RunOptions, reason: str, tmp_path: Path,
) -> None:
    plan = plan.model_copy(update={"evidence_dir": str(tmp_path / "evidence")})
    notifier = RecordingNotifier()
    runner = whole_run(plan, options, notifier)
    assert runner.state.status is RunStatus.PROMOTED
    events = runner.ports.ledger.events(runner.state.run_id)
    done = {e.payload["kind"]: e.payload for e in events if e.kind == EventKind.STEP_COMPLETED.value}
    for kind in ("freeze_start", "close_out"):
        assert done[kind]["details"]["skipped"] == reason, done[kind]
        assert done[kind]["ok"] is True
    lines = [line(e.payload) for e in events if e.kind == EventKind.WAR_ROOM.value]
    assert f":-30 | Freeze window starts | skipped: {reason} | auto: Proceed" in lines, lines
    assert any(x.endswith(f"skipped: {reason}") or f"skipped: {reason} |" in x for x in lines[2:]), lines
    assert "freeze_open" not in [event for event, _, _ in notifier.sent]
    assert notifier.texts[-1] == "✅ v1.4.0 stable (24h)"  # not "freeze lifted"
    view = RunView.of(events, plan)
    files = step_files(view)
    for name in ("freeze_window_start.txt", "freeze_window_end.txt"):
        assert "freeze: skipped (disabled)" in files[name] and reason in files[name], files[name]
    assert f"skipped: {reason}" in war_room_log(view)


def test_with_the_freeze_enabled_the_repository_is_used() -> None:
    """The same run with the freeze on does reach the pull-request host (so the test above can fail)."""
    runner = whole_run(Plan(), RunOptions(check_windows=False), RecordingNotifier())
    assert runner.state.status is RunStatus.HALTED
    assert "the pull-request host was used" in (runner.state.end_reason or "")
