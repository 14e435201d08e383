"""The war-room minute: one formatter for the live log, `runofshow run`'s output and the rebuilt
evidence, in the seed's signal-only format."""

from __future__ import annotations

import re

import pytest

from runofshow.app.run import minutes
from runofshow.domain.plan import Plan
from runofshow.domain.rules import default_gates

#: minute since T0 | observation [| metrics] [| gates] [| who: Decision]
SEED_LINE = re.compile(r"^:-?\d{2,} \| [^|]+( \| [^|]+)*$")
DECISION_LINE = re.compile(r"^:-?\d{2,} \| [^|]+( \| [^|]+)* \| (auto|IC [^|:]+): [A-Z][a-z-]+$")


@pytest.mark.parametrize(("t_s", "text"), [
    (0, ":00"), (900, ":15"), (929, ":15"), (931, ":16"), (-1800, ":-30"), (-600, ":-10"), (5400, ":90"),
    (91_800, ":1530"), (None, ":??"),
])
def test_the_minute_is_minutes_since_t0(t_s: float | None, text: str) -> None:
    assert minutes.minute(t_s) == text


def test_the_seeds_example_line() -> None:
    plan = Plan(gates={k: v for k, v in default_gates().items() if k != "pgbouncer_pool_util_pct"})
    values = {"http_p95_ms": 142.0, "http_5xx_pct": 0.2, "ws_lag_s": 8.0, "idempotency_conflict_pct": 0.1,
              "csp_violations": 3.0}
    payload = minutes.war_room_payload("Stage 1 (1%) complete", metrics=minutes.metrics_text(plan, values),
                                       gates="6/6 PASS", decision="Proceed", label="T+15")
    line = minutes.line({**payload, "t_s": 900.0})
    assert line == ":15 | Stage 1 (1%) complete | p95=142ms 5xx=0.2% ws=8s idemp=0.1% csp=3 | 6/6 PASS | auto: Proceed"
    assert SEED_LINE.match(line) and DECISION_LINE.match(line)
    assert payload["text"] == line.split(" | ", 1)[1] and payload["by"] == "auto"


def test_who_decided_is_auto_or_the_named_commander() -> None:
    p = minutes.war_room_payload("Stage 3 (25%) ROLLBACK (ic): p95 climbing", decision="Rollback",
                                 by=minutes.ic("  alice  smith "))
    assert minutes.text(p) == "Stage 3 (25%) ROLLBACK (ic): p95 climbing | IC alice smith: Rollback"
    assert DECISION_LINE.match(minutes.line({**p, "t_s": 1920}))
    observation = minutes.war_room_payload("ROLLBACK complete,\nweight read back 0%")
    assert observation["by"] is None and minutes.text(observation) == "ROLLBACK complete, weight read back 0%"
    assert minutes.decided_by(None) == minutes.decided_by("  ") == "auto"


def test_an_old_event_with_text_only_still_renders() -> None:
    assert minutes.line({"text": "resumed (paused) | weight 5%", "t_s": 60}) == ":01 | resumed (paused) | weight 5%"


@pytest.mark.parametrize(("value", "unit", "text"), [
    (142.4, "ms", "142ms"), (0.2, "%", "0.2%"), (0.25, "%", "0.25%"), (8.0, "s", "8s"), (8.25, "s", "8.2s"),
    (3.0, "count", "3"), (None, "ms", "n/a"),
])
def test_values_the_war_room_way(value: float | None, unit: str, text: str) -> None:
    assert minutes.value_text(value, unit) == text
