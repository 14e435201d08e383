"""An alert's rollback says what happened on its war-room line: no gate was judged in that instant,
so the line names the alert and shows the last judged values with their age, never `0/6 PASS`."""

from __future__ import annotations

from datetime import timedelta

from runofshow.adapters.memory import FakeClock, InMemoryLedger, StaticAlerts
from runofshow.app.run import minutes
from runofshow.app.run.events import EventKind, RunStatus
from runofshow.domain.tick import Alert
from tests.unit.app.test_runner import world

ALERT = Alert("SparkCanary5xx", {"alertname": "SparkCanary5xx", "auto_rollback": "true"})


def war_room(ledger: InMemoryLedger, run_id: str) -> list[str]:
    return [minutes.line(e.payload) for e in ledger.events(run_id) if e.kind == EventKind.WAR_ROOM.value]


def rollback_line(lines: list[str]) -> str:
    return next(x for x in lines if "ROLLBACK (" in x)


def test_a_webhook_alert_rollback_names_the_alert_and_the_age_of_the_last_judged_gates() -> None:
    ledger, clock, alerts = InMemoryLedger(), FakeClock(), StaticAlerts()
    runner, _ = world(ledger=ledger, clock=clock, alerts=alerts)

    def webhook() -> None:
        alerts.fire(ALERT)
        runner.alert_arrived(ALERT)

    clock.call_at(runner.state.t0_at + timedelta(minutes=20, seconds=12), webhook)  # last tick at 20:00
    assert runner.run() is RunStatus.ROLLED_BACK
    line = rollback_line(war_room(ledger, runner.state.run_id))
    assert line.startswith(":20 | Stage 2 (5%) ROLLBACK (alert): alert SparkCanary5xx (auto_rollback) -> rollback | p95=")
    assert line.endswith(" | 6/6 PASS, last judged 12 s ago | auto: Rollback")
    assert "0/6" not in line


def test_a_polled_alert_at_a_tick_says_so_too() -> None:
    ledger, clock, alerts = InMemoryLedger(), FakeClock(), StaticAlerts()
    runner, _ = world(ledger=ledger, clock=clock, alerts=alerts)
    clock.call_at(runner.state.t0_at + timedelta(minutes=20, seconds=7), lambda: alerts.fire(ALERT))
    assert runner.run() is RunStatus.ROLLED_BACK
    line = rollback_line(war_room(ledger, runner.state.run_id))
    assert "ROLLBACK (decision): alert SparkCanary5xx (auto_rollback) -> rollback" in line
    assert line.endswith(" | 6/6 PASS, last judged 60 s ago | auto: Rollback")


def test_an_alert_before_any_gate_was_judged_shows_no_gates() -> None:
    ledger, clock, alerts = InMemoryLedger(), FakeClock(), StaticAlerts()
    runner, _ = world(ledger=ledger, clock=clock, alerts=alerts)

    def webhook() -> None:
        alerts.fire(ALERT)
        runner.alert_arrived(ALERT)

    clock.call_at(runner.state.t0_at + timedelta(seconds=30), webhook)  # the first tick is at 1:00
    assert runner.run() is RunStatus.ROLLED_BACK
    line = rollback_line(war_room(ledger, runner.state.run_id))
    assert line == ":00 | Stage 1 (1%) ROLLBACK (alert): alert SparkCanary5xx (auto_rollback) -> rollback | auto: Rollback"


def test_the_line_parts() -> None:
    assert minutes.alert_rollback("A", ["auto_rollback"]) == "alert A (auto_rollback) -> rollback"
    assert minutes.alert_rollback("A", []) == "alert A -> rollback"
    assert minutes.judged_ago(12.4) == "last judged 12 s ago"
    assert minutes.judged_ago(300) == "last judged 5 min ago"


def test_runofshow_events_says_no_gate_was_judged_for_an_alerts_decision() -> None:
    from runofshow.cli.views import event_summary

    ledger, clock, alerts = InMemoryLedger(), FakeClock(), StaticAlerts()
    runner, _ = world(ledger=ledger, clock=clock, alerts=alerts)
    clock.call_at(runner.state.t0_at + timedelta(minutes=20, seconds=7), lambda: alerts.fire(ALERT))
    runner.run()
    decisions = [e for e in ledger.events(runner.state.run_id) if e.kind == EventKind.DECISION.value]
    assert event_summary(decisions[-1]).startswith("tick at 5%: rollback no gate judged - alert SparkCanary5xx")
    assert "6/6 PASS" in event_summary(decisions[-2])
