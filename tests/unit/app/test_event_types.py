"""The typed events: one schema per kind, payloads that round-trip, a tolerant reader for old
ledgers, and the payload builders the runner calls (their payloads are what they always were)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runofshow.app.run import event_types as et
from runofshow.app.run import events as ev
from runofshow.domain.tick import Action, Alert, Decision, MetricVerdict, Tick, TrackSample, Verdict
from runofshow.domain.timeline import Step, StepKind
from runofshow.ports import LedgerEvent
from tests.fixtures.ledgers.make_fixtures import NAMES, read_events

AT = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
STAGE = Step(StepKind.STAGE, timedelta(minutes=15), "Stage 2 (5%)", "set 5 %", stage=1, weight=5.0)


def row(kind: str, payload: dict[str, Any], seq: int = 7) -> LedgerEvent:
    return LedgerEvent(run_id="r1", seq=seq, at=AT, kind=kind, payload=payload)


def test_every_event_kind_has_one_schema() -> None:
    assert set(et.SCHEMAS) == {k.value for k in ev.EventKind}
    assert all(cls.KIND == kind for kind, cls in et.SCHEMAS.items())


def _recorded() -> list[LedgerEvent]:
    return [e for name in NAMES for e in read_events(name)]


def test_recorded_payloads_round_trip() -> None:
    """Every event of the fixture ledgers (written before events were typed) reads and writes back
    to the same payload; intents gain only the origin their id told."""
    seen = set()
    for e in _recorded():
        typed = et.parse(e)
        assert (typed.seq, typed.at, typed.kind) == (e.seq, e.at, e.kind)
        expected = dict(e.payload)
        if e.kind == "weight_intent":
            assert "origin" not in expected
            expected["origin"] = "runner"
        assert typed.to_payload() == expected, e.kind
        seen.add(e.kind)
    assert seen == {k.value for k in ev.EventKind} - {"clock_changed", "alert_received", "notify_failed",
                                                    "user_feedback", "communications",
                                                    "webhook_refused", "takeover", "ic_handover"}  # newer than the fixtures


@pytest.mark.parametrize("cls", sorted(et.SCHEMAS.values(), key=lambda c: c.KIND), ids=lambda c: c.KIND)
def test_an_empty_payload_reads_as_the_defaults(cls: type[et.Event]) -> None:
    event = cls.from_payload({}, seq=3, at=AT)
    assert (event.seq, event.at, event.t_s) == (3, AT, None)
    assert type(event).from_payload(event.to_payload(), seq=3, at=AT) == event


def test_the_reader_is_tolerant() -> None:
    e = et.parse(row("hold_started", {"stage": "2", "n": None, "reasons": "one reason", "until_t_s": "bad",
                                      "color": "red", "t_s": 60}))
    assert isinstance(e, et.HoldStarted)
    assert (e.stage, e.n, e.reasons, e.until_t_s, e.t_s) == (2, 0, ("one reason",), None, 60.0)
    assert "color" not in e.to_payload()


def test_an_old_intent_gets_its_origin_from_its_id() -> None:
    runner = et.parse(row("weight_intent", {"id": "w3", "weight": 5, "reason": "stage", "stage": 1, "t_s": 1}))
    ic = et.parse(row("weight_intent", {"id": "ic12", "weight": 0, "reason": "rollback", "stage": 1, "t_s": 1}))
    recorded = et.parse(row("weight_intent", {"id": "ic12", "origin": "runner", "weight": 0}))
    assert isinstance(runner, et.WeightIntent) and isinstance(ic, et.WeightIntent)
    assert isinstance(recorded, et.WeightIntent)
    assert (runner.origin, runner.external, ic.origin, ic.external) == ("runner", False, "ic", True)
    assert (recorded.origin, recorded.external) == ("runner", False)  # a recorded origin wins


def test_an_unknown_kind_is_kept_as_it_was() -> None:
    e = et.parse(row("from_the_future", {"x": 1, "t_s": 5}))
    assert isinstance(e, et.OtherEvent)
    assert (e.kind, e.to_payload(), e.t_s) == ("from_the_future", {"x": 1, "t_s": 5}, 5.0)


def test_run_started_keeps_what_else_its_starter_recorded() -> None:
    payload = {"run_id": "r1", "t0_at": AT.isoformat(), "speed": 2.0, "demo": {"fault": "none"},
               "preflight_override": {"by": "alice"}}
    e = et.RunStarted.from_payload(payload)
    assert e.meta == {"demo": {"fault": "none"}, "preflight_override": {"by": "alice"}}
    assert e.to_payload()["demo"] == {"fault": "none"} and e.clock == {"speed": 2.0}


# --------------------------------------------------------------------------- the builders


def test_step_payloads() -> None:
    assert ev.step_payload(5, STAGE, 900.0) == {
        "index": 5, "kind": "stage", "label": "T+15", "title": "Stage 2 (5%)", "offset_s": 900.0, "stage": 1,
        "weight": 5.0, "t_s": 900.0}
    done = ev.step_payload(5, STAGE, 1800.0, ok=True, details={"ticks": 15}, ic_reason="fine", extra=1)
    assert done == {"index": 5, "kind": "stage", "label": "T+15", "title": "Stage 2 (5%)", "offset_s": 900.0,
                    "stage": 1, "weight": 5.0, "t_s": 1800.0, "ok": True, "details": {"ticks": 15},
                    "ic_reason": "fine", "extra": 1}
    typed = et.parse(row("step_completed", done))
    assert isinstance(typed, et.StepCompleted) and typed.step.kind == "stage" and typed.details == {"ticks": 15}


def test_intent_outcome_and_end_payloads() -> None:
    assert ev.intent_payload("w1", 5.0, "stage", 1, 900.0) == {
        "id": "w1", "weight": 5.0, "reason": "stage", "stage": 1, "t_s": 900.0, "origin": "runner"}
    assert ev.intent_payload("ic4", 0.0, "rollback", 1, 0.0)["origin"] == "ic"
    assert ev.outcome_payload("w1", 5.0, 5.0, 901.0, attempts=2) == {
        "id": "w1", "weight": 5.0, "read_back": 5.0, "ok": True, "attempts": 2, "error": None,
        "resolved_on": "act", "t_s": 901.0}
    assert ev.outcome_payload("w1", 5.0, None, 901.0, error="down")["ok"] is False
    assert ev.ended_payload(ev.RunStatus.ROLLED_BACK, 3, "5xx", 0.0, 2000.0) == {
        "status": "rolled_back", "exit_code": 3, "reason": "5xx", "weight": 0.0, "t_s": 2000.0}


def test_a_decision_payload_rebuilds_its_tick() -> None:
    tick = Tick(t_s=960.0, weight=5.0, stage=1, baseline=TrackSample({"http_5xx_pct": 0.2}, 2850.0),
                canary=TrackSample({"http_5xx_pct": float("nan")}, 150.0),
                alerts=(Alert("Slow", {"severity": "critical"}, 900.0),))
    decision = Decision(960.0, Action.HOLD, ("5xx suspect",), (
        MetricVerdict("http_5xx_pct", Verdict.SUSPECT, None, 0.2, "canary-only", 0.04, float("inf")),
        MetricVerdict("http_p95_ms", Verdict.PASS, 150.0, 140.0, "ok")), stage_complete=False, engine="e1")
    payload = ev.decision_payload(tick, decision, label="T+16", phase=ev.Phase.STAGE, trigger=ev.Trigger.TICK,
                                  window_s=60.0, query_window_s=60.0, gates=6, holds=0)
    assert payload["inputs"] == {
        "baseline": {"values": {"http_5xx_pct": 0.2}, "requests": 2850.0},
        "canary": {"values": {"http_5xx_pct": None}, "requests": 150.0},
        "alerts": [{"name": "Slow", "labels": {"severity": "critical"}, "fired_t_s": 900.0}]}
    assert payload["verdicts"] == [{"metric": "http_5xx_pct", "verdict": "SUSPECT", "canary": None,
                                    "baseline": 0.2, "reason": "canary-only", "p_value": 0.04, "effect": None},
                                   {"metric": "http_p95_ms", "verdict": "PASS", "canary": 150.0,
                                    "baseline": 140.0, "reason": "ok", "p_value": None, "effect": None}]
    assert {k: payload[k] for k in ("action", "reasons", "passing", "gates", "stage_complete", "engine",
                                    "holds", "source_error", "label", "phase", "trigger")} == {
        "action": "hold", "reasons": ["5xx suspect"], "passing": 1, "gates": 6, "stage_complete": False,
        "engine": "e1", "holds": 0, "source_error": None, "label": "T+16", "phase": "stage", "trigger": "tick"}
    assert "burn" not in payload and "first_night_watch" not in payload
    rebuilt = ev.tick_from_decision(payload)
    assert rebuilt == Tick(960.0, 5.0, 1, TrackSample({"http_5xx_pct": 0.2}, 2850.0),
                           TrackSample({"http_5xx_pct": None}, 150.0), tick.alerts)
    typed = et.parse(row("decision", {**payload, "burn": {"severity": "ok"}}))
    assert isinstance(typed, et.DecisionMade)
    assert typed.verdict("http_5xx_pct") is not None and typed.values("canary") == {"http_5xx_pct": None}
    assert typed.burn == {"severity": "ok"} and ev.tick_from_decision(typed) == rebuilt


def test_a_burn_record_reads_a_burn_verdict_as_the_ledger_keeps_it() -> None:
    from runofshow.app.run.event_parts import BurnRecord

    burn = {"severity": "ticket", "page": False, "ticket": True, "burn_rate_24h": 0.8, "burn_rate_24h_max": 1.5,
            "within_24h_max": True, "windows": {"1h": 7.0, "6h": None, "24h": 0.8}, "no_data": [], "source": "x"}
    record = BurnRecord(severity="ticket", burn_rate_24h=0.8, windows={"1h": 7.0, "6h": None, "24h": 0.8},
                        ticket=True)
    assert BurnRecord.from_json(burn) == record == BurnRecord.from_json({"burn": burn, "other": 1})
    assert BurnRecord.from_json({}) is None and BurnRecord.from_json(None) is None
    assert BurnRecord.from_json({"windows": "bad", "burn_rate_24h": "n/a"}) == BurnRecord()
    decision = et.parse(row("decision", {"t_s": 1.0, "burn": burn}))
    assert isinstance(decision, et.DecisionMade) and decision.burn_record == record
    assert decision.to_payload()["burn"] == burn  # the payload keeps the JSON as written
    night = et.parse(row("step_completed", {"kind": "first_night", "details": {"burn": burn}}))
    assert isinstance(night, et.StepCompleted) and night.burn_record == record
