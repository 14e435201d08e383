"""The decision's one sentence is stored with the decision and shown where people read; a rate's own
denominator survives the ledger (issue 11)."""

from __future__ import annotations

from runofshow.adapters.memory import FakeClock, InMemoryLedger, InMemoryRouter
from runofshow.app.run import event_types as et
from runofshow.app.run.event_parts import clean_sample, sample_from_json, sample_json
from runofshow.app.run.events import (
    EventKind,
    Phase,
    RunStatus,
    Trigger,
    decision_payload,
    tick_from_decision,
)
from runofshow.app.run.state import fold
from runofshow.cli.views import event_summary, status_view
from runofshow.domain.tick import Action, Decision, Tick, TrackSample
from runofshow.reports.evidence_render import RunView, stage_metrics_json, stage_summary
from runofshow.reports.html import decision_rows
from runofshow.reports.report_data import rollback
from tests.unit.app.test_runner import TrafficMetrics, kinds, world

IDEM = "idempotency_conflict_pct"


def test_a_rate_gates_own_denominator_survives_the_ledger() -> None:
    sample = TrackSample({IDEM: 0.5, "http_5xx_pct": 0.1}, 2000.0, {IDEM: 400.0})
    back = sample_from_json(sample_json(sample))
    assert back is not None and back.denominator(IDEM) == 400.0 and back.denominator("http_5xx_pct") == 2000.0
    assert clean_sample(sample) == sample
    tick = Tick(60.0, 5.0, 1, sample, sample)
    d = Decision(60.0, Action.PROCEED, ("ok",), sentence="proceed at 5 %: all six gates within limits")
    payload = decision_payload(tick, d, label="T+01", phase=Phase.STAGE, trigger=Trigger.TICK, window_s=60,
                               query_window_s=60, gates=6, holds=0)
    rebuilt = tick_from_decision(payload)
    assert rebuilt.canary is not None and rebuilt.canary.denominator(IDEM) == 400.0
    assert payload["sentence"] == "proceed at 5 %: all six gates within limits"


def test_older_payloads_without_sentence_or_denominators_still_parse() -> None:
    old = {"t_s": 60.0, "action": "hold", "reasons": ["x: holding"], "weight": 5.0, "stage": 0,
           "inputs": {"canary": {"values": {IDEM: 0.2}, "requests": 100}, "baseline": None, "alerts": []}}
    e = et.DecisionMade.from_payload(old)
    assert e.sentence is None
    assert e.canary is not None and e.canary.denominators == {} and e.canary.denominator(IDEM) == 100
    assert "sentence" not in e.to_payload()
    assert "denominators" not in (e.to_payload()["inputs"]["canary"])
    assert et.WarRoom.from_payload({"observation": "x", "text": "x"}).why is None


def test_a_rollback_carries_its_sentence_to_the_ledger_status_warroom_report_and_evidence() -> None:
    ledger, router, clock = InMemoryLedger(), InMemoryRouter(), FakeClock()
    metrics = TrafficMetrics(router, clock)
    metrics.canary_changes.append((35 * 60, {"http_5xx_pct": 6.0}))
    runner, _ = world(ledger=ledger, router=router, clock=clock, metrics=metrics)
    assert runner.run() is RunStatus.ROLLED_BACK
    rid = runner.state.run_id
    decisions = kinds(ledger, rid, EventKind.DECISION)
    assert all(d.get("sentence") for d in decisions)
    last = decisions[-1]
    assert last["action"] == "rollback" and last["sentence"].startswith("rollback at 25 %: canary 5xx")
    # the war-room line's detail (the line itself is unchanged)
    lines = [et.WarRoom.from_payload(p) for p in kinds(ledger, rid, EventKind.WAR_ROOM)]
    rb_line = next(w for w in lines if "ROLLBACK" in w.observation)
    assert rb_line.why == last["sentence"] and last["sentence"] not in rb_line.text
    assert any(w.why and "complete" in w.observation for w in lines)  # a stage complete says why too
    # status
    events = ledger.events(rid)
    view = status_view(ledger.run(rid), fold(events), None)
    assert view["last_decision"]["action"] == "rollback" and view["last_decision"]["why"] == last["sentence"]
    said = event_summary(next(e for e in reversed(events) if e.kind == "decision"))
    assert said.endswith(" - " + last["sentence"].split(": ", 1)[1])  # `runofshow events`
    # report and evidence
    v = RunView.of(events)
    rb = rollback(v)
    assert rb is not None and rb.sentence == last["sentence"]
    assert decision_rows(v)[-1]["sentence"] == last["sentence"]
    assert f"Why: {last['sentence']}" in stage_summary(v, 2)
    assert last["sentence"] in stage_metrics_json(v, 2)
