"""The change freeze: start, end, status and the per-PR gate.

`start_freeze` labels every open PR `hold-for-canary` (the plan's `freeze.label`) and writes
`freeze_window_start.txt`; `end_freeze` removes the label only from the PRs this freeze labelled (a
label a person put on by hand stays) and writes `freeze_window_end.txt`. The freeze record -- which
PRs this freeze set out to label, which it labelled, which it released -- is a `FreezeRecord` in a
`FreezeStore` (`<evidence>/freeze_state.json`, `runofshow.adapters.freeze_file`, handed in by
`runofshow.app.bootstrap.freeze_store`), saved after every change, so a failure part-way leaves an
exact record and running `start` (or `end`) again finishes the job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from runofshow.domain.freeze import (
    ChangeClass,
    Classification,
    FreezeRecord,
    FreezeRules,
    PullRequest,
    classify,
)
from runofshow.domain.plan import Plan
from runofshow.domain.windows import evaluate_at
from runofshow.errors import InputError, PullRequestHostError
from runofshow.files import atomic_write_text
from runofshow.ports import FreezeStore, MarketCalendar, PullRequestHost

START_FILE = "freeze_window_start.txt"
END_FILE = "freeze_window_end.txt"
STATUS_CONTEXT = "runofshow/freeze-gate"

CLASS_TEXT = {
    ChangeClass.HOTFIX: "Hotfixes (critical bugs, security)",
    ChangeClass.CANARY_ROLLBACK: "Canary rollback",
    ChangeClass.MONITORING: "Monitoring/alert adjustments",
    ChangeClass.DOCUMENTATION: "Documentation-only PRs",
    ChangeClass.SCHEMA_MIGRATION: "Schema migrations",
    ChangeClass.FEATURE: "New features",
    ChangeClass.DEPENDENCY_UPDATE: "Dependency updates",
    ChangeClass.REFACTORING: "Refactoring",
}


def _ts(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _nums(numbers: Iterable[int]) -> str:
    ns = sorted(numbers)
    return ", ".join(f"#{n}" for n in ns) if ns else "none"


# --------------------------------------------------------------------------- start


@dataclass(frozen=True)
class FreezeResult:
    record: FreezeRecord
    newly_labelled: tuple[int, ...] = ()
    newly_released: tuple[int, ...] = ()
    evidence: Path | None = None
    note: str = ""


def _check_repo(rec: FreezeRecord, repo: str) -> None:
    if rec.repo != repo:
        raise InputError(f"--repo {repo}: the freeze record is for {rec.repo}; end that freeze first")


def start_freeze(
    host: PullRequestHost, rules: FreezeRules, release: str, evidence_dir: Path, now: datetime, *,
    store: FreezeStore,
) -> FreezeResult:
    """Label every open PR and write freeze_window_start.txt into `evidence_dir`. Running it again
    completes a part-way start, and labels PRs opened since."""
    rec = store.load()
    if rec is not None and rec.active:
        _check_repo(rec, host.repo)
        if rec.status == "ending":
            raise InputError(f"the freeze of {rec.repo} is part-way through ending; run `freeze end` again")
    else:
        rec = FreezeRecord(repo=host.repo, release=release, label=rules.label, started_at=_ts(now))
    label = rec.label
    prs = host.open_pull_requests()
    open_numbers = {p.number for p in prs}
    for pr in prs:
        if pr.number in rec.labelled or pr.number in rec.held_by_hand:
            continue
        if pr.has_label(label):
            rec.add("labelled" if pr.number in rec.to_label else "held_by_hand", [pr.number])
        else:
            rec.add("to_label", [pr.number])
    store.save(rec)  # intent before action
    newly: list[int] = []
    try:
        for n in sorted(set(rec.to_label) - set(rec.labelled)):
            if n not in open_numbers:
                continue  # closed since the intent was written
            after = host.add_label(n, label)
            if label.lower() not in (x.lower() for x in after):
                raise PullRequestHostError(f"#{n}: label '{label}' did not read back after adding it",
                                           adapter=type(host).__name__, target=host.repo)
            rec.add("labelled", [n])
            newly.append(n)
            store.save(rec)
    except PullRequestHostError as ex:
        rec.last_error = f"{_ts(now)} {ex}"
        store.save(rec)
        raise PullRequestHostError(
            f"freeze start stopped part-way ({len(rec.labelled)} labelled, "
            f"{len(set(rec.to_label) - set(rec.labelled))} to go; run it again to finish): {ex}",
            adapter=ex.adapter, target=ex.target,
        ) from ex
    was_active = rec.status == "active"
    rec.status, rec.last_error = "active", None
    rec.active_at = rec.active_at or _ts(now)
    store.save(rec)
    on_hold = sorted((set(rec.labelled) | set(rec.held_by_hand)) & open_numbers)
    path = Path(evidence_dir) / START_FILE
    atomic_write_text(path, start_text(rec, rules, on_hold))
    note = ""
    if was_active:
        note = "freeze already active" + (f"; held {_nums(newly)}, opened since" if newly else "")
    return FreezeResult(rec, tuple(newly), (), path, note)


def start_text(rec: FreezeRecord, rules: FreezeRules, on_hold: list[int]) -> str:
    held = sorted(set(on_hold) & set(rec.held_by_hand))
    mine = sorted(set(on_hold) - set(held))
    allowed = "\n".join(f"  • {CLASS_TEXT.get(c, c.value)}" for c in rules.allowed)
    blocked = "\n".join(f"  • {CLASS_TEXT.get(c, c.value)}" for c in rules.blocked)
    return (
        "FREEZE WINDOW START\n===================\n"
        f"Timestamp: {rec.started_at}\nRelease: {rec.release}\nRepository: {rec.repo}\n"
        f"Label: {rec.label}\n"
        f"PRs on hold: {len(on_hold)} ({_nums(on_hold)})\n"
        f"  labelled by this freeze: {len(mine)} ({_nums(mine)})\n"
        f"  already labelled by hand: {len(held)} ({_nums(held)})\n"
        "Next deployment window: After canary + 24h monitoring\n\n"
        f"Allowed changes during freeze:\n{allowed}\n\nBlocked during freeze:\n{blocked}\n"
    )


# --------------------------------------------------------------------------- end


def end_freeze(
    host: PullRequestHost, evidence_dir: Path, now: datetime, *, store: FreezeStore,
) -> FreezeResult:
    """Remove the label from the PRs this freeze labelled and write freeze_window_end.txt into
    `evidence_dir`. Idempotent: a second run after a complete end changes nothing."""
    rec = store.load()
    if rec is None:
        raise InputError(f"no freeze record in {store.location}: nothing to end")
    _check_repo(rec, host.repo)
    if rec.status == "ended":
        return FreezeResult(rec, note=f"freeze already ended at {rec.ended_at}")
    rec.status = "ending"
    store.save(rec)
    newly: list[int] = []
    done = set(rec.released) | set(rec.already_released)
    try:
        for n in rec.ours:
            if n in done:
                continue
            removed = host.remove_label(n, rec.label)
            if removed:
                rec.add("released", [n])
                newly.append(n)
            elif n in rec.labelled:
                rec.add("already_released", [n])
            else:  # meant to label, never confirmed, and the label is not there: nothing to release
                rec.to_label = [x for x in rec.to_label if x != n]
            store.save(rec)
    except PullRequestHostError as ex:
        rec.last_error = f"{_ts(now)} {ex}"
        store.save(rec)
        raise PullRequestHostError(
            f"freeze end stopped part-way ({len(rec.released)} released; run it again to finish): {ex}",
            adapter=ex.adapter, target=ex.target,
        ) from ex
    rec.status, rec.ended_at, rec.last_error = "ended", _ts(now), None
    store.save(rec)
    path = Path(evidence_dir) / END_FILE
    atomic_write_text(path, end_text(rec, now))
    return FreezeResult(rec, (), tuple(newly), path)


def _duration(start: str, end: datetime) -> str:
    minutes = int((end - datetime.fromisoformat(start)).total_seconds() // 60)
    return f"{minutes // 60}h {minutes % 60:02d}m"


def end_text(rec: FreezeRecord, now: datetime) -> str:
    return (
        "FREEZE WINDOW END\n=================\n"
        f"Timestamp: {rec.ended_at}\nRelease: {rec.release}\nRepository: {rec.repo}\n"
        f"Started: {rec.started_at}\nDuration: {_duration(rec.started_at, now)}\n"
        f"PRs released: {len(rec.released)} ({_nums(rec.released)})\n"
        f"Label already removed by someone else: {len(rec.already_released)} "
        f"({_nums(rec.already_released)})\n"
        f"Left on hold (labelled by hand): {len(rec.held_by_hand)} ({_nums(rec.held_by_hand)})\n"
        "Status: Normal operations resumed\n"
    )


# --------------------------------------------------------------------------- status


def freeze_status(
    store: FreezeStore, host: PullRequestHost | None = None, label: str = "hold-for-canary",
) -> dict[str, Any]:
    """The freeze record, and (with a host) the open PRs carrying the label now (the record's
    label, else `label`)."""
    rec = store.load()
    out: dict[str, Any] = {"record": store.location, "active": bool(rec and rec.active)}
    if rec is not None:
        if host is not None:
            _check_repo(rec, host.repo)
        out.update(asdict(rec))
        out["pending"] = sorted(set(rec.to_label) - set(rec.labelled))
    if host is not None:
        held = rec.label if rec else label
        out["on_hold_now"] = [p.number for p in host.open_pull_requests() if p.has_label(held)]
    return out


# --------------------------------------------------------------------------- the gate


FreezeMode = Literal["auto", "active", "inactive"]


@dataclass(frozen=True)
class GateResult:
    number: int
    classification: Classification
    freeze_active: bool
    freeze_source: str
    market_open: bool
    head_sha: str
    status_posted: bool = False

    @property
    def allowed(self) -> bool:
        return self.classification.allowed


def freeze_is_active(
    host: PullRequestHost, pr: PullRequest, label: str, store: FreezeStore, mode: FreezeMode,
) -> tuple[bool, str]:
    """Is a freeze on for this PR, and how we know.

    auto: the local freeze record for the host's repository is active, or the PR itself carries
    the freeze label (freeze start labels every open PR; in CI, where there is no record, the
    label is the signal). active / inactive: forced, e.g. from a repository variable.
    """
    if mode != "auto":
        return mode == "active", f"--freeze {mode}"
    rec = store.load()
    if rec is not None and rec.repo == host.repo and rec.active:
        return True, f"freeze record {store.location}"
    if pr.has_label(label):
        return True, f"#{pr.number} carries '{label}'"
    return False, f"no active freeze record and #{pr.number} is not labelled '{label}'"


def check_pull_request(
    host: PullRequestHost, plan: Plan, calendar: MarketCalendar, number: int, at: datetime,
    store: FreezeStore, *, mode: FreezeMode = "auto", post_status: bool = False,
    target_url: str | None = None,
) -> GateResult:
    """Classify PR `number` at `at`; with `post_status`, set a commit status on its head."""
    pr = host.pull_request(number)
    files = host.changed_files(number)
    active, source = freeze_is_active(host, pr, plan.freeze.label, store, mode)
    market_open = evaluate_at(at, plan.market, calendar.market_day).market_open
    c = classify(pr, files, plan.freeze, freeze_active=active, market_open=market_open)
    posted = False
    if post_status:
        if not pr.head_sha:
            raise PullRequestHostError(f"#{number} has no head commit to set a status on",
                                       adapter=type(host).__name__, target=host.repo)
        state = "success" if c.allowed else "failure"
        host.set_status(pr.head_sha, state, f"{'allowed' if c.allowed else 'blocked'}: {c.reason}",
                        STATUS_CONTEXT, target_url)
        posted = True
    return GateResult(number, c, active, source, market_open, pr.head_sha, posted)
