"""`runofshow feedback` against a SQLite ledger: the `user_feedback` events and the first night's
"user feedback neutral/positive" criterion judged from them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runofshow.adapters.ledger_sql import SqlLedger
from runofshow.adapters.memory import InMemoryLedger
from runofshow.app.warroom.feedback import USER_FEEDBACK, feedback_criterion, give_feedback
from runofshow.errors import InputError
from runofshow.ports import RunRecord
from tests.unit.cli.test_warroom_cli import cli, events, started  # noqa: F401 - `started`: the fixture


@pytest.fixture
def run(request: pytest.FixtureRequest) -> tuple[str, str, Path]:
    """A run that has started and whose runner is not running (test_warroom_cli's `started`)."""
    return request.getfixturevalue("started")


def test_feedback_is_recorded_and_judged(run: tuple[str, str, Path], capsys: Any) -> None:
    url, rid, _ = run
    code, out, err = cli(["feedback", rid, "positive", "--as", "carol", "--state", url], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith(f"{rid}: user feedback #") and lines[0].endswith(" positive by carol")
    assert lines[1] == "User feedback neutral/positive: met (1 positive)"
    code, out, _ = cli(["feedback", rid, "Neutral", "--note", "  login   felt slower ", "--as", "dave",
                        "--state", url], capsys)
    assert code == 0 and out.splitlines()[0].endswith("neutral by dave: login felt slower")
    code, out, _ = cli(["feedback", rid, "negative", "--note", "orders failed", "--as", "erin", "--state", url],
                       capsys)
    assert code == 0
    assert out.splitlines()[1] == "User feedback neutral/positive: NOT MET (1 positive, 1 neutral, 1 negative)"
    given = [e for e in events(url, rid) if e["kind"] == USER_FEEDBACK]
    assert [(e["sentiment"], e["by"], e["note"]) for e in given] == [
        ("positive", "carol", ""), ("neutral", "dave", "login felt slower"), ("negative", "erin", "orders failed")]
    assert all(isinstance(e["t_s"], float) for e in given)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["great"], "SENTIMENT: 'great' is not one of positive, neutral, negative"),
        (["positive", "--as", " "], "--as: say who is giving the feedback"),
    ],
)
def test_bad_feedback_is_exit_2(run: tuple[str, str, Path], capsys: Any, argv: list[str], message: str) -> None:
    url, rid, _ = run
    if "--as" not in argv:
        argv = [*argv, "--as", "carol"]
    code, out, err = cli(["feedback", rid, *argv, "--state", url], capsys)
    assert code == 2 and err.strip() == message and out == ""
    assert not [e for e in events(url, rid) if e["kind"] == USER_FEEDBACK]


def test_feedback_on_an_unknown_run_is_exit_2(run: tuple[str, str, Path], capsys: Any) -> None:
    url, _, _ = run
    code, _, err = cli(["feedback", "no-such-run", "positive", "--as", "carol", "--state", url], capsys)
    assert code == 2 and "no run 'no-such-run'" in err


def test_a_run_that_never_started_takes_no_feedback() -> None:
    ledger = InMemoryLedger()
    at = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
    ledger.create_run(RunRecord("r1", "spark-trading", "v1.4.0", "created", None, None, at))
    with pytest.raises(InputError, match="never started"):
        give_feedback("r1", "positive", note="", by="carol", ledger=ledger, now=lambda: at)


def test_no_feedback_is_pending(run: tuple[str, str, Path]) -> None:
    url, rid, _ = run
    ledger = SqlLedger(url)
    try:
        verdict = feedback_criterion(ledger.events(rid))
    finally:
        ledger.close()
    assert verdict.pending and not verdict.passed and verdict.detail == "pending: no feedback yet"
