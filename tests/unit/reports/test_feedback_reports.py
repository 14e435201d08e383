"""User feedback (`runofshow feedback`) in what the reports say: the checklist's "User feedback
neutral/positive" (judged once anybody gave some: failed on any negative), the HTML report's
feedback section and the mini RCA."""

from __future__ import annotations

from datetime import UTC, datetime

from runofshow.adapters.memory import InMemoryLedger
from runofshow.app.warroom.feedback import give_feedback
from runofshow.reports.evidence import build_bundle
from runofshow.reports.html import render_report
from runofshow.reports.rca import rca_markdown
from tests.report_runs import run

FEEDBACK = "User feedback neutral/positive"


def with_feedback(*given: tuple[str, str, str]) -> list:
    ledger = InMemoryLedger()
    r = run(ledger=ledger)
    for sentiment, note, by in given:
        give_feedback(r.run_id, sentiment, note=note, by=by, ledger=ledger,
                      now=lambda: datetime(2026, 12, 6, 3, 0, tzinfo=UTC))
    return ledger.events(r.run_id)


def test_without_feedback_the_criterion_is_pending(tmp_path) -> None:
    events = with_feedback()
    text = (build_bundle(events, None, tmp_path).folder / "success_criteria.txt").read_text()
    assert f"[~] {FEEDBACK}: pending: no feedback yet" in text and text.rstrip().endswith("9/10 criteria met: PENDING")
    html = render_report(events, evidence_files=60)
    assert 'id="feedback"' not in html and "9/10 criteria met: PENDING" in html
    assert "User feedback:" not in rca_markdown(events)


def test_neutral_and_positive_feedback_meets_the_criterion_everywhere(tmp_path) -> None:
    events = with_feedback(("positive", "charts load faster", "carol"), ("neutral", "", "dave"))
    result = build_bundle(events, None, tmp_path)
    text = (result.folder / "success_criteria.txt").read_text()
    assert f"[x] {FEEDBACK}: " in text and text.rstrip().endswith("10/10 criteria met: SUCCESS")
    html = render_report(events, evidence_files=60)
    assert 'id="feedback"' in html and "positive by carol: charts load faster" in html
    assert "10/10 criteria met: SUCCESS" in html
    md = rca_markdown(events)
    assert "- User feedback: 1 positive, 1 neutral (" in md and "positive by carol: charts load faster" in md
    assert "negative feedback" not in md


def test_one_negative_piece_of_feedback_fails_the_first_night(tmp_path) -> None:
    events = with_feedback(("positive", "", "carol"), ("negative", "login is slow", "erin"))
    result = build_bundle(events, None, tmp_path)
    [criterion] = [c for c in result.criteria if c.name == FEEDBACK]
    assert not criterion.passed and not criterion.pending
    text = (result.folder / "success_criteria.txt").read_text()
    assert f"[ ] {FEEDBACK}: " in text and text.rstrip().endswith("9/10 criteria met: NOT MET")
    html = render_report(events, evidence_files=60)
    assert "9/10 criteria met: NOT MET" in html and "negative by erin: login is slow" in html
    md = rca_markdown(events)
    risks = md.split("## Remaining Risks")[1].splitlines()
    assert risks[1].startswith("1. Users gave negative feedback (") and "negative by erin: login is slow" in risks[1]
