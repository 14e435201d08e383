"""Freeze start / end / status / check against the in-memory PR host: labels only what it should,
removes only what it labelled, survives a failure part-way, and writes its evidence atomically."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time

import pytest

from runofshow.adapters.freeze_file import STATE_FILE, JsonFreezeStore
from runofshow.adapters.memory import FixedMarketCalendar, InMemoryPullRequestHost
from runofshow.app.steps.freeze import (
    END_FILE,
    START_FILE,
    check_pull_request,
    end_freeze,
    freeze_status,
    start_freeze,
)
from runofshow.domain.freeze import ChangeClass, PullRequest
from runofshow.domain.plan import Plan
from runofshow.errors import EvidenceError, InputError, PullRequestHostError

PLAN = Plan()
RULES = PLAN.freeze
LABEL = RULES.label
T_START = datetime(2026, 12, 5, 3, 30, tzinfo=UTC)
T_END = datetime(2026, 12, 6, 5, 45, tzinfo=UTC)
CAL = FixedMarketCalendar(early_closes={date(2026, 10, 28): time(12, 30)})


def host(**kw) -> InMemoryPullRequestHost:
    prs = [
        PullRequest(1, "feat: limit orders", ("feature",), "sha1"),
        PullRequest(2, "Bump httpx", (), "sha2"),
        PullRequest(3, "Waiting for legal", (LABEL,), "sha3"),  # held by hand before the freeze
        PullRequest(4, "hotfix: rounding", ("hotfix",), "sha4"),
        PullRequest(5, "old", (), "sha5", state="closed"),
    ]
    files = {1: ["src/limit.py"], 2: ["requirements.txt"], 3: ["src/x.py"], 4: ["src/round.py"],
             5: ["src/y.py"]}
    return InMemoryPullRequestHost("acme/spark-trading", prs, files, **kw)


def labelled(h: InMemoryPullRequestHost) -> list[int]:
    return sorted(n for n, p in h.prs.items() if p.has_label(LABEL))


def test_start_labels_every_open_pr_and_writes_evidence(tmp_path):
    h = host()
    res = start_freeze(h, RULES, "v1.4.0", tmp_path, T_START, store=JsonFreezeStore(tmp_path))
    assert labelled(h) == [1, 2, 3, 4]  # closed #5 untouched
    assert res.newly_labelled == (1, 2, 4)
    rec = res.record
    assert rec.status == "active" and rec.labelled == [1, 2, 4] and rec.held_by_hand == [3]
    text = (tmp_path / START_FILE).read_text()
    assert "FREEZE WINDOW START" in text and "Timestamp: 2026-12-05T03:30:00Z" in text
    assert "Release: v1.4.0" in text and "PRs on hold: 4 (#1, #2, #3, #4)" in text
    assert "already labelled by hand: 1 (#3)" in text
    assert "Hotfixes" in text and "Canary rollback" in text and "Documentation" in text
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert state["labelled"] == [1, 2, 4] and state["status"] == "active"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_start_is_idempotent_and_holds_prs_opened_since(tmp_path):
    h = host()
    start_freeze(h, RULES, "v1.4.0", tmp_path, T_START, store=JsonFreezeStore(tmp_path))
    adds = len(h.calls)
    again = start_freeze(h, RULES, "v1.4.0", tmp_path, T_START, store=JsonFreezeStore(tmp_path))
    assert len(h.calls) == adds and again.newly_labelled == ()
    assert "already active" in again.note
    h.prs[6] = PullRequest(6, "feat: new", (), "sha6")
    third = start_freeze(h, RULES, "v1.4.0", tmp_path, T_START, store=JsonFreezeStore(tmp_path))
    assert third.newly_labelled == (6,) and third.record.labelled == [1, 2, 4, 6]


def test_failure_part_way_leaves_a_record_and_a_rerun_completes(tmp_path):
    h = host(fail_adds_after=1)
    with pytest.raises(PullRequestHostError, match="part-way.*run it again"):
        start_freeze(h, RULES, "v1.4.0", tmp_path, T_START, store=JsonFreezeStore(tmp_path))
    rec = JsonFreezeStore(tmp_path).load()
    assert rec.status == "starting" and rec.labelled == [1] and rec.to_label == [1, 2, 4]
    assert rec.last_error and "adding" in rec.last_error
    assert not (tmp_path / START_FILE).exists()
    h.fail_adds_after = None
    res = start_freeze(h, RULES, "v1.9.9", tmp_path, T_END, store=JsonFreezeStore(tmp_path))  # release and start time stay the first's
    assert res.record.status == "active" and res.record.labelled == [1, 2, 4]
    assert res.newly_labelled == (2, 4) and res.record.release == "v1.4.0"
    assert res.record.started_at == "2026-12-05T03:30:00Z" and res.record.last_error is None
    assert labelled(h) == [1, 2, 3, 4]


def test_a_label_that_landed_before_the_crash_is_still_ours(tmp_path):
    h = host()
    store = JsonFreezeStore(tmp_path)
    start_freeze(h, RULES, "v1.4.0", tmp_path, T_START, store=JsonFreezeStore(tmp_path))
    rec = store.load()  # pretend the record was saved before #2's label was confirmed
    rec.labelled, rec.status = [1, 4], "starting"
    store.save(rec)
    res = start_freeze(h, RULES, "v1.4.0", tmp_path, T_START, store=JsonFreezeStore(tmp_path))
    assert res.record.labelled == [1, 2, 4] and res.record.held_by_hand == [3]


def test_end_removes_only_what_this_freeze_labelled(tmp_path):
    h = host()
    start_freeze(h, RULES, "v1.4.0", tmp_path, T_START, store=JsonFreezeStore(tmp_path))
    h.remove_label(4, LABEL)  # someone lifted #4 by hand during the freeze
    res = end_freeze(h, tmp_path, T_END, store=JsonFreezeStore(tmp_path))
    assert labelled(h) == [3]  # the hand label stays
    rec = res.record
    assert rec.status == "ended" and rec.released == [1, 2] and rec.already_released == [4]
    text = (tmp_path / END_FILE).read_text()
    assert "FREEZE WINDOW END" in text and "PRs released: 2 (#1, #2)" in text
    assert "Duration: 26h 15m" in text and "Left on hold (labelled by hand): 1 (#3)" in text
    removes = [c for c in h.calls if c[0] == "remove"]
    again = end_freeze(h, tmp_path, T_END, store=JsonFreezeStore(tmp_path))
    assert "already ended" in again.note and [c for c in h.calls if c[0] == "remove"] == removes


def test_end_failure_part_way_then_rerun(tmp_path):
    h = host()
    start_freeze(h, RULES, "v1.4.0", tmp_path, T_START, store=JsonFreezeStore(tmp_path))
    h.fail_removes_after = 1
    with pytest.raises(PullRequestHostError, match="end stopped part-way"):
        end_freeze(h, tmp_path, T_END, store=JsonFreezeStore(tmp_path))
    assert JsonFreezeStore(tmp_path).load().released == [1]
    with pytest.raises(InputError, match="part-way through ending"):
        start_freeze(h, RULES, "v1.4.0", tmp_path, T_END, store=JsonFreezeStore(tmp_path))
    h.fail_removes_after = None
    res = end_freeze(h, tmp_path, T_END, store=JsonFreezeStore(tmp_path))
    assert res.record.released == [1, 2, 4] and labelled(h) == [3]


def test_end_without_a_record_and_another_repo(tmp_path):
    with pytest.raises(InputError, match="nothing to end"):
        end_freeze(host(), tmp_path, T_END, store=JsonFreezeStore(tmp_path))
    start_freeze(host(), RULES, "v1.4.0", tmp_path, T_START, store=JsonFreezeStore(tmp_path))
    other = InMemoryPullRequestHost("acme/other")
    with pytest.raises(InputError, match="acme/spark-trading"):
        start_freeze(other, RULES, "v1.4.0", tmp_path, T_START, store=JsonFreezeStore(tmp_path))


def test_status_reads_the_record_and_the_labels_now(tmp_path):
    h = host()
    assert freeze_status(JsonFreezeStore(tmp_path)) == {"record": str(tmp_path / STATE_FILE), "active": False}
    assert freeze_status(JsonFreezeStore(tmp_path), h, LABEL)["on_hold_now"] == [3]
    start_freeze(h, RULES, "v1.4.0", tmp_path, T_START, store=JsonFreezeStore(tmp_path))
    st = freeze_status(JsonFreezeStore(tmp_path), h)
    assert st["active"] and st["labelled"] == [1, 2, 4] and st["pending"] == []
    assert st["on_hold_now"] == [1, 2, 3, 4]


def test_unreadable_record_is_an_evidence_error(tmp_path):
    (tmp_path / STATE_FILE).write_text("{not json")
    with pytest.raises(EvidenceError, match="unreadable freeze record"):
        freeze_status(JsonFreezeStore(tmp_path))


# --------------------------------------------------------------------------- the gate

OFF_HOURS = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)  # Saturday night
MARKET = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)  # Tuesday 12:00 Istanbul


def gate_host() -> InMemoryPullRequestHost:
    prs = [
        PullRequest(10, "hotfix: rounding", ("hotfix",), "h10"),
        PullRequest(11, "feat: limits", (), "h11"),
        PullRequest(12, "Add column", (), "h12"),
        PullRequest(13, "docs: runbook", (), "h13"),
    ]
    files = {10: ["src/round.py"], 11: ["src/limits.py"], 12: ["db/migrations/0042.sql"],
             13: ["docs/runbook.md"]}
    return InMemoryPullRequestHost("acme/spark-trading", prs, files)


@pytest.mark.parametrize(("number", "allowed", "cls"), [
    (10, True, ChangeClass.HOTFIX), (11, False, ChangeClass.FEATURE),
    (12, False, ChangeClass.SCHEMA_MIGRATION), (13, True, ChangeClass.DOCUMENTATION),
])
def test_gate_during_a_freeze(tmp_path, number, allowed, cls):
    h = gate_host()
    start_freeze(h, RULES, "v1.4.0", tmp_path, T_START, store=JsonFreezeStore(tmp_path))
    res = check_pull_request(h, PLAN, CAL, number, OFF_HOURS, JsonFreezeStore(tmp_path), post_status=True,
                             target_url="https://ci.example/run/1")
    assert res.allowed is allowed and res.classification.change_class is cls
    assert res.freeze_active and "freeze record" in res.freeze_source
    (status,) = h.statuses
    assert status["sha"] == f"h{number}" and status["context"] == "runofshow/freeze-gate"
    assert status["state"] == ("success" if allowed else "failure")
    assert status["target_url"] == "https://ci.example/run/1" and len(status["description"]) <= 140


def test_gate_without_a_freeze_blocks_only_migrations_in_market_hours(tmp_path):
    h = gate_host()
    assert check_pull_request(h, PLAN, CAL, 11, MARKET, JsonFreezeStore(tmp_path)).allowed
    assert check_pull_request(h, PLAN, CAL, 12, OFF_HOURS, JsonFreezeStore(tmp_path)).allowed
    res = check_pull_request(h, PLAN, CAL, 12, MARKET, JsonFreezeStore(tmp_path))
    assert not res.allowed and res.market_open and not res.freeze_active
    assert "market hours" in res.classification.reason and h.statuses == []


def test_gate_sees_a_freeze_from_the_prs_label_when_there_is_no_record(tmp_path):
    h = gate_host()
    h.add_label(11, LABEL)  # e.g. in CI: no local record, but freeze start labelled the PR
    res = check_pull_request(h, PLAN, CAL, 11, OFF_HOURS, JsonFreezeStore(tmp_path))
    assert res.freeze_active and not res.allowed and LABEL in res.freeze_source
    assert check_pull_request(h, PLAN, CAL, 10, OFF_HOURS, JsonFreezeStore(tmp_path)).allowed  # #10 is not held
    forced = check_pull_request(h, PLAN, CAL, 11, OFF_HOURS, JsonFreezeStore(tmp_path), mode="inactive")
    assert forced.allowed and not forced.freeze_active
    assert not check_pull_request(gate_host(), PLAN, CAL, 11, OFF_HOURS, JsonFreezeStore(tmp_path), mode="active").allowed


def test_an_ended_freeze_record_does_not_hold(tmp_path):
    h = gate_host()
    start_freeze(h, RULES, "v1.4.0", tmp_path, T_START, store=JsonFreezeStore(tmp_path))
    end_freeze(h, tmp_path, T_END, store=JsonFreezeStore(tmp_path))
    res = check_pull_request(h, PLAN, CAL, 11, OFF_HOURS, JsonFreezeStore(tmp_path))
    assert res.allowed and not res.freeze_active
