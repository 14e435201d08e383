from __future__ import annotations

import json
import math
import shutil
from importlib import resources
from pathlib import Path

import pytest

from runofshow.app.replay.bench import Score, Truth, pairs_in, quantile, run, score_one
from runofshow.app.replay.scenarios import summarise
from runofshow.domain.tick import Action, Decision
from runofshow.errors import InputError
from tests.helpers import run_cli as cli

EXAMPLES = Path(str(resources.files("runofshow").joinpath("examples")))


def decisions(*acts: str, start: float = 0) -> list[Decision]:
    return [Decision(start + 60 * i, Action(a), ()) for i, a in enumerate(acts)]


GOOD = Truth("g", "good", None)
BAD = Truth("b", "bad", 120.0)


def test_delay_is_in_ticks_from_onset():
    o = score_one(summarise(decisions("proceed", "proceed", "hold", "hold", "rollback")), BAD, 60, 0.01)
    assert o.rollback_t == 240 and o.delay_ticks == 2 and not o.early and not o.missed


def test_rollback_on_the_onset_tick_has_delay_0_and_before_it_is_early():
    assert score_one(summarise(decisions("proceed", "proceed", "rollback")), BAD, 60, 0).delay_ticks == 0
    o = score_one(summarise(decisions("proceed", "rollback")), BAD, 60, 0)
    assert o.early and o.missed and o.delay_ticks is None


def test_time_to_promote_counts_every_hold():
    o = score_one(summarise(decisions("proceed", "hold", "proceed", "hold", "proceed")), GOOD, 60, 0)
    assert o.time_to_promote_s == 240 + 60 + 2 * 60
    held = score_one(summarise(decisions("proceed", "hold")), GOOD, 60, 0)
    assert held.verdict == "held" and held.time_to_promote_s == math.inf
    rb = score_one(summarise(decisions("proceed", "rollback")), GOOD, 60, 0)
    assert rb.false_rollback and rb.time_to_promote_s is None


def test_errors_count_against_the_engine():
    assert score_one(None, GOOD, 60, 0, "boom").false_rollback
    assert score_one(None, BAD, 60, 0, "boom").missed


def test_quantile_matches_numpy_linear():
    assert quantile([], 0.5) is None
    assert quantile([3], 0.9) == 3
    assert quantile([1, 2, 3, 4], 0.5) == 2.5
    assert quantile([0, 10], 0.9) == pytest.approx(9)


def test_score_rates():
    s = Score("comparative", [
        score_one(summarise(decisions("proceed", "rollback")), GOOD, 60, 0),
        score_one(summarise(decisions("proceed", "proceed")), GOOD, 60, 0),
        score_one(summarise(decisions("proceed", "proceed", "proceed", "rollback")), BAD, 60, 0),
        score_one(summarise(decisions("proceed", "proceed")), BAD, 60, 0),
    ])
    assert s.frr == 0.5 and s.miss == 0.5 and s.delay_p50 == 1 and s.early == 0
    assert s.score_line() == "score: FRR=50.0% MISS=50.0% DELAY_P50=1 ticks"


def test_bench_on_the_examples_puts_the_engines_side_by_side():
    comparative, threshold = run(EXAMPLES)
    assert comparative.judge == "comparative" and threshold.judge == "threshold"
    assert comparative.frr == 0 and comparative.miss == 0 and comparative.early == 0
    assert comparative.delay_p50 is not None and comparative.delay_p50 <= 2
    assert threshold.frr is not None and threshold.frr > comparative.frr
    assert comparative.mean_seconds is not None and comparative.mean_seconds < 0.5


def test_a_folder_without_pairs_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="no scenario"):
        pairs_in(tmp_path)
    with pytest.raises(InputError, match="not a folder"):
        pairs_in(tmp_path / "nope")
    shutil.copy(EXAMPLES / "ex-001.json", tmp_path)
    (tmp_path / "ex-001.truth.json").write_text("{}")
    with pytest.raises(InputError, match="truth file unreadable"):
        pairs_in(tmp_path)


def test_a_malformed_scenario_counts_as_an_error(tmp_path):
    shutil.copy(EXAMPLES / "ex-001.truth.json", tmp_path)
    (tmp_path / "ex-001.json").write_text("{}")
    comparative, _ = run(tmp_path)
    assert comparative.frr == 1.0 and comparative.outcomes[0].error


def test_cli_bench(capsys):
    code, out, _ = cli(["bench", str(EXAMPLES)], capsys)
    assert code == 0
    assert "comparative: score: FRR=0.0% MISS=0.0% DELAY_P50=" in out
    assert "false rollbacks (FRR)" in out and "threshold" in out
    code, out, _ = cli(["bench", str(EXAMPLES), "--json"], capsys)
    data = json.loads(out)
    assert set(data) == {"comparative", "threshold"}
    assert data["comparative"]["frr"] == 0.0 and data["comparative"]["score"].startswith("score: FRR=")


def test_the_table_says_tick_or_ticks():
    from runofshow.cli.replay_cmd import _ticks

    assert [_ticks(x) for x in (None, 1.0, 2.0, 6.3)] == ["n/a", "1 tick", "2 ticks", "6.3 ticks"]
