"""The war-room minute: the one formatter of a war-room line, used live and when evidence is rebuilt.

The seed's signal-only format, "Observation -> Metric -> Decision":

    :15 | Stage 1 (1%) complete | p95=142ms 5xx=0.2% ws=8s idemp=0.1% csp=3 | 6/6 PASS | auto: Proceed

    :MM            minutes since T0 (plan time): :-30 at T-30, :00 at T0, :15, :90, :1500 in the night
    observation    what happened ("Stage 1 (1%) complete", "First night check-in 3/24h")
    metrics        the canary's gate values the war-room way (trailing zeros dropped)
    gates          "6/6 PASS"
    decision       who decided, and what: "auto: Proceed" when the runner's decision engine (or
                   the timeline) decided, "IC <name>: Rollback" when an incident commander did.
                   The seed writes "IC: Proceed" for every line because in its world a person
                   decides each one; here the engine decides most of them and the log says so,
                   so an auditor can tell the machine's calls from the commander's.

The runner records each line as a `war_room` event whose payload carries these parts
(`war_room_payload`); `line(payload)` renders it. `runofshow run` prints the same lines, the
runner writes `evidence/warroom_log.txt` from them as it goes, and `runofshow evidence build`
rebuilds the file from the ledger with the same function. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runofshow.domain.plan import Plan

AUTO = "auto"


def num(value: float, places: int) -> str:
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def value_text(value: float | None, unit: str) -> str:
    """142ms, 0.2%, 8s, 3: the war-room way, trailing zeros dropped; n/a for no data."""
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value:.0f}ms"
    if unit == "%":
        return f"{num(value, 2)}%"
    if unit == "s":
        return f"{num(value, 1)}s"
    return num(value, 2)


def metrics_text(plan: Plan, values: Mapping[str, float | None] | None) -> str:
    """`p95=142ms 5xx=0.2% ws=8s idemp=0.1% csp=3 pool=40%` in the plan's gate order."""
    if values is None:
        return "no data"
    return " ".join(f"{gate.short or name}={value_text(values.get(name), gate.unit)}"
                    for name, gate in plan.gates.items() if name in values)


def minute(t_s: float | None) -> str:
    """`:15` for 15 minutes after T0, `:-30` before it, `:00` at T0 (plan time, rounded)."""
    if t_s is None:
        return ":??"
    m = round(float(t_s) / 60)
    return f":{m:02d}" if m >= 0 else f":-{-m:02d}"


def decided_by(by: str | None) -> str:
    """Who decided: `auto` when nobody is named, else as given (`IC alice`, `operator`)."""
    return " ".join(by.split()) if by and by.strip() else AUTO


def ic(name: str) -> str:
    """How an incident commander signs a war-room line: `IC alice`."""
    return f"IC {' '.join(name.split())}"


def alert_rollback(name: str, matched: Iterable[str]) -> str:
    """What an alert did: `alert SparkCanary5xx (auto_rollback) -> rollback` (the labels it matched)."""
    keys = ", ".join(matched)
    return f"alert {name} ({keys}) -> rollback" if keys else f"alert {name} -> rollback"


def judged_ago(age_s: float) -> str:
    """How old the last judged gate values are: `last judged 12 s ago`, `last judged 3 min ago`."""
    age = max(0.0, age_s)
    return f"last judged {age:.0f} s ago" if age < 120 else f"last judged {num(age / 60, 1)} min ago"


def war_room_payload(
    observation: str, *, metrics: str | None = None, gates: str | None = None, decision: str | None = None,
    by: str | None = AUTO, label: str = "",
) -> dict[str, Any]:
    """A `war_room` event's payload: the parts, plus `text` (the line without its minute)."""
    parts: dict[str, Any] = {
        "observation": " ".join(observation.split()), "metrics": metrics, "gates": gates,
        "decision": decision, "by": decided_by(by) if decision else None, "label": label,
    }
    parts["text"] = text(parts)
    return parts


def text(payload: Mapping[str, Any]) -> str:
    """The line after its minute: observation | metrics | gates | by: decision."""
    if not payload.get("observation"):
        return " ".join(str(payload.get("text", "")).split())
    parts = [str(payload["observation"])]
    parts += [str(payload[k]) for k in ("metrics", "gates") if payload.get(k)]
    if payload.get("decision"):
        parts.append(f"{decided_by(payload.get('by'))}: {payload['decision']}")
    return " | ".join(parts)


def line(payload: Mapping[str, Any]) -> str:
    """The whole war-room line of a `war_room` event payload: `:15 | ...`."""
    return f"{minute(payload.get('t_s'))} | {text(payload)}"


__all__ = ["AUTO", "alert_rollback", "decided_by", "ic", "judged_ago", "line", "metrics_text", "minute",
           "num", "text", "value_text", "war_room_payload"]
