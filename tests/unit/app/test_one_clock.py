"""One clock for every event: under `--speed N` an alert's `fired_t_s` is plan seconds since T0 (like
every tick's `t_s`), computed from the wall instant the source gave through the run clock's
wall -> plan mapping; the wall instant is kept beside it as `fired_at`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runofshow.adapters.alertmanager import AlertmanagerWebhook
from runofshow.adapters.memory import FakeClock, InMemoryLedger, InMemoryRouter
from runofshow.app.bootstrap import RunOptions, start_run
from runofshow.app.run.clock import CompressedClock, SystemClock
from runofshow.app.run.events import EventKind, RunStatus
from runofshow.app.run.state import fold
from runofshow.domain.connections import WebJsonSettings
from runofshow.domain.plan import Plan
from tests.helpers import passing_t10_handlers
from tests.unit.app.test_runner import TrafficMetrics

LABELS = {"alertname": "SparkCanary5xx", "auto_rollback": "true", "track": "canary"}


def test_to_plan_is_the_inverse_of_to_wall() -> None:
    wall = FakeClock()
    clock = CompressedClock(60, wall=wall)
    wall.advance(7)
    at = clock.now()
    assert clock.to_wall(at) == wall.now() and clock.to_plan(wall.now()) == at
    assert clock.to_plan(wall.now() + timedelta(seconds=2)) == at + timedelta(minutes=2)
    clock.set_speed(3600)
    assert clock.to_plan(clock.to_wall(at + timedelta(hours=5))) == at + timedelta(hours=5)
    instant = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    assert SystemClock().to_plan(instant) == instant == FakeClock().to_plan(instant)


@pytest.mark.parametrize("speed", [60, 1])
def test_a_webhook_alert_between_two_ticks_is_timed_between_them(speed: float) -> None:
    wall = FakeClock()
    clock = CompressedClock(speed, wall=wall) if speed != 1 else wall
    ledger, router = InMemoryLedger(), InMemoryRouter()
    metrics = TrafficMetrics(router, clock)  # type: ignore[arg-type]
    hook = AlertmanagerWebhook(token="t", match_labels={"auto_rollback": "true"})
    _, runner = start_run(Plan(metrics_source=WebJsonSettings()), RunOptions(check_windows=False),
                          environ={}, ledger=ledger, clock=clock, router=router, metrics=metrics,
                          alerts=hook, step_handlers=passing_t10_handlers())
    metrics.t0 = runner.state.t0_at
    hook.t0_at = clock.to_wall(runner.state.t0_at)  # what the run's world tells the receiver
    hook.on_alert = runner.alert_arrived
    fired_plan = runner.state.t0_at + timedelta(minutes=20, seconds=7)  # ticks at 20:00 and 21:00

    def webhook() -> None:  # Alertmanager's POST, with the alert's start in wall time
        hook.receive({"alerts": [{"status": "firing", "labels": LABELS,
                                  "startsAt": wall.now().isoformat().replace("+00:00", "Z")}]})

    wall.call_at(clock.to_wall(fired_plan), webhook)
    assert runner.run() is RunStatus.ROLLED_BACK

    events = ledger.events(runner.state.run_id)
    received = next(e.payload for e in events if e.kind == EventKind.ALERT_RECEIVED.value)
    ticks = [e.payload for e in events if e.kind == EventKind.DECISION.value]
    before = [t["t_s"] for t in ticks if t["trigger"] == "tick"][-1]
    alert_tick = ticks[-1]
    assert alert_tick["trigger"] == "alert"
    fired = received["alerts"][0]
    assert before <= fired["fired_t_s"] <= alert_tick["t_s"] <= before + 60
    assert fired["fired_t_s"] == pytest.approx(20 * 60 + 7, abs=1e-3)
    assert alert_tick["inputs"]["alerts"][0]["fired_t_s"] == pytest.approx(20 * 60 + 7, abs=1e-3)
    assert datetime.fromisoformat(fired["fired_at"]) == pytest.approx(clock.to_wall(fired_plan),
                                                                      abs=timedelta(milliseconds=1))
    # the typed reader gives the same alert back
    state = fold(events)
    assert state.history[-1].alerts[0].fired_at is not None
    assert state.history[-1].alerts[0].fired_t_s == pytest.approx(20 * 60 + 7, abs=1e-3)
