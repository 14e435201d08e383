"""Refused webhook calls go into the ledger through the runner, rate-limited so that a flood cannot
fill it: at most one `webhook_refused` event per address per 10 s, every refusal counted."""

from __future__ import annotations

import threading
from datetime import timedelta

from runofshow.adapters.memory import FakeClock, InMemoryLedger
from runofshow.app.run import event_types as et
from runofshow.app.run.events import EventKind, RunStatus
from runofshow.app.run.refusals import MAX_SOURCES, OTHER_SOURCES, RefusalLog
from runofshow.ports import WebhookRefusal
from tests.unit.app.test_runner import world


def refused(ledger: InMemoryLedger, run_id: str) -> list[dict]:
    return [dict(e.payload) for e in ledger.events(run_id) if e.kind == EventKind.WEBHOOK_REFUSED.value]


def refusal(clock: FakeClock, source: str = "10.0.0.7", reason: str = "wrong bearer token") -> WebhookRefusal:
    return WebhookRefusal(at=clock.now(), source=source, reason=reason, path="/alerts")


def test_a_flood_from_one_address_is_one_event_per_10_s_and_every_refusal_is_counted() -> None:
    clock, ledger = FakeClock(), InMemoryLedger()
    runner, _ = world(ledger=ledger, clock=clock)
    log = runner.refusals
    for _ in range(60):  # a minute of 50 refused calls a second, the runner looking every second
        for _ in range(50):
            log.take(refusal(clock))
        log.record_due()
        clock.advance(1)
    clock.advance(10)
    log.record_due()
    events = refused(ledger, runner.state.run_id)
    assert len(events) == 7  # at 0, 10, 20, 30, 40, 50 s and the rest after the flood
    assert sum(1 + e["suppressed"] for e in events) == 60 * 50
    assert events[0]["suppressed"] == 49 and runner.state.webhook_refusals == 3000


def test_many_addresses_are_bounded_too() -> None:
    clock, ledger = FakeClock(), InMemoryLedger()
    runner, _ = world(ledger=ledger, clock=clock)
    for i in range(1000):
        runner.refusals.take(refusal(clock, source=f"10.0.{i // 250}.{i % 250}"))
    runner.refusals.record_due()
    events = refused(ledger, runner.state.run_id)
    assert len(events) == MAX_SOURCES + 1 and events[-1]["source"] == OTHER_SOURCES
    assert events[-1]["suppressed"] == 1000 - MAX_SOURCES - 1
    assert runner.state.webhook_refusals == 1000


def test_only_a_due_refusal_wakes_the_runner() -> None:
    clock, ledger = FakeClock(), InMemoryLedger()
    runner, _ = world(ledger=ledger, clock=clock)
    wake = threading.Event()
    log = RefusalLog(runner.recorder, clock, wake=wake)
    log.take(refusal(clock))
    assert wake.is_set()
    wake.clear()
    log.take(refusal(clock))
    assert not wake.is_set()  # the flood's next calls wait for the first event's window
    log.record_due()
    log.take(refusal(clock))
    assert not wake.is_set()
    log.take(refusal(clock, source="10.0.0.8"))
    assert wake.is_set()


def test_a_running_run_records_a_refusal_at_once_with_its_war_room_line() -> None:
    clock, ledger = FakeClock(), InMemoryLedger()
    runner, _ = world(ledger=ledger, clock=clock)
    at = runner.state.t0_at + timedelta(minutes=5, seconds=30)  # between two ticks of stage 1
    clock.call_at(at, lambda: runner.refusals.take(refusal(clock, reason="no bearer token")))
    assert runner.run() is RunStatus.PROMOTED
    rid = runner.state.run_id
    (event,) = refused(ledger, rid)
    assert event["t_s"] == 5 * 60 + 30 and event["source"] == "10.0.0.7" and event["suppressed"] == 0
    assert event["refused_at"] == clock.to_wall(at).isoformat()
    lines = [e.payload["text"] for e in ledger.events(rid) if e.kind == EventKind.WAR_ROOM.value]
    assert "Webhook call refused from 10.0.0.7: no bearer token" in lines
    assert ledger.verify_chain(rid) == []
    row = next(e for e in ledger.events(rid) if e.kind == EventKind.WEBHOOK_REFUSED.value)
    typed = et.parse(row)
    assert isinstance(typed, et.WebhookRefused) and typed.to_payload() == dict(row.payload)
    assert (typed.source, typed.reason, typed.suppressed) == ("10.0.0.7", "no bearer token", 0)
