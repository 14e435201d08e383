"""The run-of-show's success criteria, evaluated from facts: the checklist printed at the end.

Pure: the facts are gathered by whoever read the ledger and the evidence folder (see
`runofshow.reports.evidence`); this module only judges them. From the seed:

    Canary deployment successful if          First night successful if
      all 5 stages completed (1 -> 100 %)      24 h monitoring complete
      6/6 metrics PASS at each stage           SLO burn rate < 1.5
      0 rollbacks                              no degradation
      0 critical alerts                        user feedback neutral/positive (`runofshow feedback`)
      war-room log complete
      evidence files collected (50+)

A fact that is unknown (None) fails its criterion: missing data is not success. User feedback is
pending while nobody has given any, failed on any negative; a checklist whose only criteria not met
are pending says PENDING, not SUCCESS (`verdict`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StageGates:
    """Gates at the end of one stage: how many passed out of how many (None: never judged)."""

    stage: int  # 1-based
    passing: int | None
    gates: int


@dataclass(frozen=True)
class RunFacts:
    stages_planned: int
    stages_completed: int
    stage_gates: tuple[StageGates, ...] = ()
    rollbacks: int = 0
    critical_alerts: tuple[str, ...] = ()
    war_room_lines: int = 0
    war_room_missing: tuple[str, ...] = ()  # expected lines that are not in the log
    evidence_files: int | None = None
    first_night_h: float = 24.0
    first_night_done_h: float | None = None  # hours of first-night monitoring completed
    burn_rate_24h: float | None = None
    burn_rate_24h_max: float = 1.5
    degradations: tuple[str, ...] = field(default_factory=tuple)
    min_evidence_files: int = 50
    #: every piece of user feedback given (positive, neutral, negative); None or (): none yet (pending)
    user_feedback: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Criterion:
    name: str
    passed: bool
    detail: str
    pending: bool = False  # not judged yet (it may still pass); `passed` is False meanwhile


FEEDBACK = ("positive", "neutral", "negative")
FEEDBACK_CRITERION = "User feedback neutral/positive"


def _some(items: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(items[:n])
    return shown + (f" (+{len(items) - n} more)" if len(items) > n else "")


def _stages(f: RunFacts) -> Criterion:
    name = f"All {f.stages_planned} stages completed"
    ok = f.stages_planned > 0 and f.stages_completed >= f.stages_planned
    return Criterion(name, ok, f"{f.stages_completed}/{f.stages_planned} stages completed")


def _gates(f: RunFacts) -> Criterion:
    total = max((s.gates for s in f.stage_gates), default=0)
    name = f"{total}/{total} metrics PASS at each stage" if total else "All metrics PASS at each stage"
    judged = {s.stage: s for s in f.stage_gates}
    short: list[str] = []
    for n in range(1, f.stages_planned + 1):
        s = judged.get(n)
        if s is None or s.passing is None:
            short.append(f"stage {n}: not judged")
        elif s.passing < s.gates:
            short.append(f"stage {n}: {s.passing}/{s.gates}")
    if short:
        return Criterion(name, False, _some(short))
    return Criterion(name, f.stages_planned > 0, f"{f.stages_planned} stages, every gate passing")


def _rollbacks(f: RunFacts) -> Criterion:
    return Criterion("0 rollbacks", f.rollbacks == 0, f"{f.rollbacks} rollback(s)")


def _alerts(f: RunFacts) -> Criterion:
    n = len(f.critical_alerts)
    detail = f"{n} critical alert(s)" + (f": {_some(f.critical_alerts)}" if n else "")
    return Criterion("0 critical alerts", n == 0, detail)


def _war_room(f: RunFacts) -> Criterion:
    if f.war_room_missing:
        return Criterion("War-room log complete", False, f"missing: {_some(f.war_room_missing)}")
    ok = f.war_room_lines > 0
    return Criterion("War-room log complete", ok, f"{f.war_room_lines} line(s)" if ok else "log is empty")


def _evidence(f: RunFacts) -> Criterion:
    name = f"Evidence files collected ({f.min_evidence_files}+)"
    if f.evidence_files is None:
        return Criterion(name, False, "not counted")
    return Criterion(name, f.evidence_files >= f.min_evidence_files, f"{f.evidence_files} files")


def _first_night(f: RunFacts) -> Criterion:
    name = f"{f.first_night_h:g}h monitoring complete"
    done = f.first_night_done_h
    if done is None:
        return Criterion(name, False, "first night not started")
    return Criterion(name, done >= f.first_night_h, f"{done:.1f} h of {f.first_night_h:g} h")


def _burn(f: RunFacts) -> Criterion:
    name = f"SLO burn rate < {f.burn_rate_24h_max:g}"
    if f.burn_rate_24h is None:
        return Criterion(name, False, "no 24 h burn rate measured")
    ok = f.burn_rate_24h < f.burn_rate_24h_max
    return Criterion(name, ok, f"24 h burn rate {f.burn_rate_24h:.2f}x")


def _degradation(f: RunFacts) -> Criterion:
    if f.degradations:
        return Criterion("No degradation", False, _some(f.degradations))
    return Criterion("No degradation", True, "no hold, rollback or burn alert after promotion")


def judge_user_feedback(given: Sequence[str]) -> Criterion:
    """The criterion "User feedback neutral/positive": pending while none was given, failed on any
    negative."""
    counts = {kind: sum(1 for g in given if g == kind) for kind in FEEDBACK}
    unknown = [g for g in given if g not in FEEDBACK]
    if unknown:
        return Criterion(FEEDBACK_CRITERION, False, f"unknown feedback: {_some(unknown)}")
    if not given:
        return Criterion(FEEDBACK_CRITERION, False, "pending: no feedback yet", pending=True)
    detail = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    return Criterion(FEEDBACK_CRITERION, counts["negative"] == 0, detail)


def evaluate(facts: RunFacts) -> tuple[Criterion, ...]:
    """Every criterion, in the seed's order: the canary's six, then the first night's four (the last,
    user feedback, pending until some is given)."""
    judged = tuple(
        judge(facts)
        for judge in (_stages, _gates, _rollbacks, _alerts, _war_room, _evidence, _first_night, _burn,
                      _degradation)
    )
    return (*judged, judge_user_feedback(facts.user_feedback or ()))


def all_passed(criteria: Sequence[Criterion]) -> bool:
    return bool(criteria) and all(c.passed for c in criteria)


def verdict(criteria: Sequence[Criterion]) -> str:
    """SUCCESS when every criterion passed; PENDING when the only ones not passed are still pending
    (no user feedback yet); NOT MET otherwise."""
    if all_passed(criteria):
        return "SUCCESS"
    if criteria and all(c.passed or c.pending for c in criteria):
        return "PENDING"
    return "NOT MET"


def render(criteria: Sequence[Criterion]) -> str:
    """The checklist as text: one `[x]` / `[ ]` line per criterion and a final score."""
    lines = [f"[{'x' if c.passed else '~' if c.pending else ' '}] {c.name}: {c.detail}" for c in criteria]
    passed = sum(1 for c in criteria if c.passed)
    lines.append(f"{passed}/{len(criteria)} criteria met: {verdict(criteria)}")
    return "\n".join(lines) + "\n"


__all__ = ["FEEDBACK", "FEEDBACK_CRITERION", "Criterion", "RunFacts", "StageGates", "all_passed", "evaluate",
           "judge_user_feedback", "render", "verdict"]
