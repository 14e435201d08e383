"""The replay benchmark: run an engine over a folder of scenarios + truth files and score it the
way FORMAT.md section 4 does (FRR, MISS, EARLY, detection delay p50/p90, time to promote).

Both engines (the comparative judge and the seed's threshold-only matrix) run on the same files.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runofshow.app.replay.scenarios import Judge, ReplayResult, load_scenario, replay
from runofshow.errors import InputError, RunOfShowError

JUDGES: tuple[Judge, ...] = ("comparative", "threshold")


@dataclass(frozen=True)
class Truth:
    name: str
    label: str  # good | bad
    onset_t: float | None
    kind: str = ""


@dataclass(frozen=True)
class Outcome:
    """One scenario replayed by one engine, scored."""

    name: str
    label: str
    kind: str
    verdict: str  # promoted | rolled_back | held | error
    rollback_t: float | None
    delay_ticks: float | None  # bad and detected
    early: bool
    time_to_promote_s: float | None  # good and not rolled back; inf when held
    seconds: float
    error: str | None = None
    holds: int = 0
    nodata_holds: int = 0  # of the holds, those for missing canary data (NoData is never a pass)
    nominal_s: float | None = None  # time to promote without a single hold: the last tick + interval

    @property
    def false_rollback(self) -> bool:
        return self.label == "good" and (self.rollback_t is not None or self.error is not None)

    @property
    def missed(self) -> bool:
        return self.label == "bad" and self.delay_ticks is None


def quantile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated quantile (numpy's default), None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    if xs[lo] == xs[hi]:
        return xs[lo]
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class Score:
    judge: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def good(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.label == "good"]

    @property
    def bad(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.label == "bad"]

    @property
    def frr(self) -> float | None:
        g = self.good
        return sum(o.false_rollback for o in g) / len(g) if g else None

    @property
    def miss(self) -> float | None:
        b = self.bad
        return sum(o.missed for o in b) / len(b) if b else None

    @property
    def early(self) -> int:
        return sum(o.early for o in self.bad)

    @property
    def delays(self) -> list[float]:
        return [o.delay_ticks for o in self.bad if o.delay_ticks is not None]

    @property
    def delay_p50(self) -> float | None:
        return quantile(self.delays, 0.5)

    @property
    def delay_p90(self) -> float | None:
        return quantile(self.delays, 0.9)

    @property
    def ttp_median_s(self) -> float | None:
        xs = [o.time_to_promote_s for o in self.good if o.time_to_promote_s is not None]
        return quantile(xs, 0.5)

    @property
    def held_good(self) -> int:
        return sum(1 for o in self.good if o.time_to_promote_s == math.inf)

    @property
    def mean_holds_good(self) -> float | None:
        """Holds per good run that was not rolled back (each costs a tick of time to promote)."""
        xs = [o.holds for o in self.good if o.time_to_promote_s is not None]
        return sum(xs) / len(xs) if xs else None

    @property
    def held_good_share(self) -> float | None:
        return self.held_good / len(self.good) if self.good else None

    @property
    def mean_nodata_holds_good(self) -> float | None:
        xs = [o.nodata_holds for o in self.good if o.time_to_promote_s is not None]
        return sum(xs) / len(xs) if xs else None

    @property
    def nominal_median_s(self) -> float | None:
        """The median time to promote of the same good runs had none of them held."""
        return quantile([o.nominal_s for o in self.good if o.nominal_s is not None], 0.5)

    @property
    def mean_seconds(self) -> float | None:
        xs = [o.seconds for o in self.outcomes]
        return sum(xs) / len(xs) if xs else None

    def score_line(self) -> str:
        return (
            f"score: FRR={_pct(self.frr)} MISS={_pct(self.miss)} "
            f"DELAY_P50={_num(self.delay_p50)} ticks"
        )

    def to_json(self) -> dict[str, Any]:
        ttp = self.ttp_median_s
        return {
            "judge": self.judge,
            "scenarios": len(self.outcomes), "good": len(self.good), "bad": len(self.bad),
            "frr": self.frr, "miss": self.miss, "early": self.early,
            "delay_p50_ticks": self.delay_p50, "delay_p90_ticks": self.delay_p90,
            "median_time_to_promote_s": None if ttp is None or math.isinf(ttp) else ttp,
            "nominal_time_to_promote_s": self.nominal_median_s,
            "held_good": self.held_good,
            "held_good_share": self.held_good_share,
            "mean_holds_good": self.mean_holds_good,
            "mean_nodata_holds_good": self.mean_nodata_holds_good,
            "mean_replay_s": self.mean_seconds,
            "score": self.score_line(),
            "false_rollbacks": [o.name for o in self.good if o.false_rollback],
            "missed": [o.name for o in self.bad if o.missed],
        }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:g}"


def read_truth(path: Path) -> Truth:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        label = d["label"]
        if label not in ("good", "bad"):
            raise ValueError(f"label {label!r}")
        onset = d.get("onset_t")
        onset_t = None if onset is None else float(onset)
        return Truth(str(d.get("name", path.stem)), label, onset_t, str(d.get("kind", "")))
    except (OSError, ValueError, KeyError, TypeError) as ex:
        raise InputError(f"{path.name}: truth file unreadable: {ex}") from None


def pairs_in(folder: Path) -> list[tuple[Path, Truth]]:
    """Scenario files with their truth files, sorted by name."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    out = []
    for p in sorted(folder.glob("*.json")):
        if p.name.endswith(".truth.json"):
            continue
        t = p.with_name(p.name[: -len(".json")] + ".truth.json")
        if t.exists():
            out.append((p, read_truth(t)))
    if not out:
        raise InputError(f"{folder}: no scenario + truth file pairs (NAME.json + NAME.truth.json)")
    return out


def score_one(result: ReplayResult | None, truth: Truth, interval_s: float, seconds: float,
              error: str | None = None, nominal_s: float | None = None) -> Outcome:
    """FORMAT.md section 4 for one scenario."""
    if result is None:
        return Outcome(truth.name, truth.label, truth.kind, "error", None, None, False, None, seconds, error)
    rb = next((d.t_s for d in result.decisions if d.action.value == "rollback"), None)
    if rb is None and result.verdict == "rolled_back":
        rb = result.rollback_t
    delay: float | None = None
    early = False
    ttp: float | None = None
    if truth.label == "bad" and rb is not None and truth.onset_t is not None:
        if rb >= truth.onset_t:
            delay = (rb - truth.onset_t) / interval_s
        else:
            early = True
    holds = sum(1 for d in result.decisions if d.action.value == "hold")
    nodata = sum(
        1 for d in result.decisions
        if d.action.value == "hold" and any(v.verdict.value == "NODATA" for v in d.verdicts)
        and not any(v.verdict.value in ("TREND", "SUSPECT") for v in d.verdicts)
    )
    if truth.label == "good" and rb is None and result.decisions:
        last = result.decisions[-1]
        if result.verdict == "held" or last.action.value == "hold":
            ttp = math.inf
        else:
            ttp = last.t_s + interval_s + interval_s * holds
    return Outcome(
        truth.name, truth.label, truth.kind, result.verdict, rb, delay, early, ttp, seconds, holds=holds,
        nodata_holds=nodata, nominal_s=nominal_s,
    )


def run(folder: Path, judges: Iterable[Judge] = JUDGES) -> list[Score]:
    """Every scenario in `folder`, by every judge."""
    items = pairs_in(folder)
    scores = []
    for judge in judges:
        score = Score(judge)
        for path, truth in items:
            start = time.perf_counter()
            try:
                sc = load_scenario(path, judge)
                res = replay(sc)
                nominal = sc.ticks[-1].t_s + sc.interval_s
                score.outcomes.append(
                    score_one(res, truth, sc.interval_s, time.perf_counter() - start, nominal_s=nominal)
                )
            except RunOfShowError as ex:
                score.outcomes.append(score_one(None, truth, 60.0, time.perf_counter() - start, str(ex)))
        scores.append(score)
    return scores
