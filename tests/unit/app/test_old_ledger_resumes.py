"""A run paused by the code before events were typed (tests/fixtures/ledgers/ic_and_resume, cut back
to its `paused` event) is resumed by today's code: it reads the world back, carries on from the
folded state without repeating a stage, promotes, and its evidence verifies."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.adapters.memory import FakeClock, InMemoryRouter, StaticAlerts
from runofshow.app.bootstrap import RunOptions, resume_run
from runofshow.app.run.event_types import Paused, StepStarted, parse_all
from runofshow.app.run.events import RunStatus
from runofshow.app.run.state import fold
from runofshow.reports.evidence import build_bundle
from tests.fixtures.ledgers.make_fixtures import HERE
from tests.report_runs import SplitTraffic, stand_in_handlers


def _paused_copy(tmp_path: Path) -> tuple[str, int]:
    """The fixture ledger as it stood when Ctrl-C paused it (a copy; the fixture stays as it is)."""
    copy = tmp_path / "old.sqlite"
    shutil.copyfile(HERE / "ic_and_resume.sqlite", copy)
    conn = sqlite3.connect(copy)
    (paused_seq,) = conn.execute("SELECT min(seq) FROM events WHERE kind = 'paused'").fetchone()
    conn.execute("DELETE FROM events WHERE seq > ?", (paused_seq,))
    conn.execute("UPDATE runs SET status = 'paused'")
    conn.commit()
    conn.close()
    return f"sqlite:///{copy}", paused_seq


def test_a_run_paused_by_the_old_code_resumes_and_promotes(tmp_path: Path) -> None:
    url, paused_seq = _paused_copy(tmp_path)
    with SqlLedger(url) as ledger:
        (record,) = ledger.runs()
        before = parse_all(ledger.events(record.run_id))
        paused = before[-1]
        assert isinstance(paused, Paused) and fold(ledger.events(record.run_id)).status is RunStatus.PAUSED
        stages_before = [e.stage for e in before if isinstance(e, StepStarted) and e.stage is not None]

        clock = FakeClock(paused.at)  # the second process starts where the first one stopped
        router = InMemoryRouter()
        router.set_weight(paused.weight or 0.0)  # the traffic as the paused run left it
        metrics = SplitTraffic(router, clock)
        _, runner = resume_run(
            record.run_id, RunOptions(check_windows=False), environ={}, ledger=ledger, clock=clock,
            router=router, metrics=metrics, alerts=StaticAlerts(), notifier=None, annotator=None,
            step_handlers=stand_in_handlers())
        metrics.t0 = runner.state.t0_at
        assert runner.run() is RunStatus.PROMOTED

        events = ledger.events(record.run_id)
        after = parse_all(events)[len(before):]
        assert after[0].kind == "resumed" and after[0].seq == paused_seq + 1
        started_again = [e.stage for e in after if isinstance(e, StepStarted) and e.stage is not None]
        assert not set(started_again) & set(stages_before[:-1])  # no finished stage is repeated
        assert router.current_weight() == 100

        out = tmp_path / "evidence"
        result = build_bundle(events, None, out)
        assert result.files and (out / "MANIFEST.sha256").is_file()
        assert "promoted" in (out / "warroom_log.txt").read_text().lower()
