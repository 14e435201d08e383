"""Replay: a recorded scenario (FORMAT.md) -> ticks -> `decide` for every prefix -> verdict.

The engine is the live runner's (`runofshow.domain.decide.decide`); nothing here is replay-only
logic except turning the file into the engine's part of a plan (`ReplayPlan`) and Ticks. The
decision at tick i sees `ticks[0..i]` and the alerts with `t <= ticks[i].t` only, because `decide`
receives exactly that prefix.

A malformed scenario raises ScenarioError with one line: `FILE: field.path: problem`. A `null`
value or a `null` track is NoData (valid); a *missing* track key is malformed. Negative counts
and requests are counter glitches (data), not malformed input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from runofshow.domain.decide import decide
from runofshow.domain.rules import AUTO_ROLLBACK_LABELS, DecisionRules, Gate, GateKind, Stage, default_gates
from runofshow.domain.tick import Action, Alert, Decision, Tick, TrackSample
from runofshow.errors import ScenarioError

Judge = Literal["comparative", "threshold"]
LAST_STAGE_HOLD_MIN = 30.0
TRACKS = ("baseline", "canary")


@dataclass(frozen=True)
class AutoRollbackAlerts:
    """A replay's alert source: the plan's default `alert_source.match_labels`."""

    match_labels: Mapping[str, str] = field(default_factory=lambda: dict(AUTO_ROLLBACK_LABELS))


@dataclass(frozen=True)
class ReplayPlan:
    """What the engine reads of a plan (`runofshow.domain.rules.EnginePlan`), all a replay has: a
    whole `Plan` would build the models of every section of it (issue 11: `replay` start-up)."""

    stages: tuple[Stage, ...]
    gates: dict[str, Gate]
    decision: DecisionRules
    alert_source: AutoRollbackAlerts = field(default_factory=AutoRollbackAlerts)


@dataclass(frozen=True)
class Scenario:
    name: str
    source: str
    interval_s: float
    plan: ReplayPlan
    ticks: tuple[Tick, ...]


@dataclass(frozen=True)
class ReplayResult:
    verdict: Literal["promoted", "rolled_back", "held"]
    rollback_t: float | None
    decisions: tuple[Decision, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "rollback_t": _num(self.rollback_t),
            "decisions": [
                {"t": _num(d.t_s), "decision": d.action.value, "reasons": list(d.reasons),
                 "sentence": d.sentence}
                for d in self.decisions
            ],
        }


def _num(x: float | None) -> float | int | None:
    if x is None:
        return None
    return int(x) if float(x).is_integer() else x


# --------------------------------------------------------------------------- validation helpers


class _Bad(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _number(v: Any, path: str) -> float:
    if not _is_num(v):
        raise _Bad(path, f"expected a number, got {_kind(v)}")
    if not math.isfinite(v):
        raise _Bad(path, "expected a finite number")
    return float(v)


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "a list", dict: "an object"}
    return names.get(type(v), type(v).__name__)


def _obj(v: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(v, dict):
        raise _Bad(path, f"expected an object, got {_kind(v)}")
    return v


def _list(v: Any, path: str) -> Sequence[Any]:
    if not isinstance(v, list):
        raise _Bad(path, f"expected a list, got {_kind(v)}")
    return v


def _req(o: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in o:
        raise _Bad(f"{path}.{key}" if path else key, "missing")
    return o[key]


# --------------------------------------------------------------------------- parsing


def load_scenario(path: Path | str, judge: Judge = "comparative") -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as ex:
        raise ScenarioError(f"{p}: (file): cannot read: {ex.strerror or ex}") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as ex:
        where = f"line {ex.lineno}" if isinstance(ex, json.JSONDecodeError) else "(file)"
        msg = ex.msg if isinstance(ex, json.JSONDecodeError) else "not UTF-8"
        raise ScenarioError(f"{p}: {where}: not valid JSON ({msg})") from None
    return parse_scenario(data, str(p), judge)


def parse_scenario(data: Any, source: str = "scenario.json", judge: Judge = "comparative") -> Scenario:
    """Validate a decoded scenario; raises ScenarioError `source: field.path: problem`."""
    try:
        return _parse(data, source, judge)
    except _Bad as bad:
        raise ScenarioError(f"{source}: {bad.path}: {bad.problem}") from None


def _parse(data: Any, source: str, judge: Judge) -> Scenario:
    top = _obj(data, "(top level)")
    name = top.get("name", Path(source).stem)
    if not isinstance(name, str):
        raise _Bad("name", f"expected a string, got {_kind(name)}")
    interval = _number(_req(top, "interval_s", ""), "interval_s")
    if interval <= 0:
        raise _Bad("interval_s", "must be more than 0")
    gates = _gates(_obj(_req(top, "gates", ""), "gates"), interval)
    stages = _stages(_list(_req(top, "stages", ""), "stages"), interval)
    alerts = _alerts(_list(top.get("alerts") or [], "alerts"))
    ticks_raw = _list(_req(top, "ticks", ""), "ticks")
    if not ticks_raw:
        raise _Bad("ticks", "no ticks")
    weights = [s.weight for s in stages]
    ticks: list[Tick] = []
    prev_t: float | None = None
    for i, raw in enumerate(ticks_raw):
        path = f"ticks[{i}]"
        o = _obj(raw, path)
        t = _number(_req(o, "t", path), f"{path}.t")
        if prev_t is not None and t <= prev_t:
            raise _Bad(f"{path}.t", f"ticks out of order ({t:g} after {prev_t:g})")
        prev_t = t
        w = _number(_req(o, "weight", path), f"{path}.weight")
        if w < 0:
            raise _Bad(f"{path}.weight", f"must not be negative ({w:g})")
        if w not in weights:
            known = ", ".join(f"{x:g}" for x in weights)
            raise _Bad(f"{path}.weight", f"{w:g} is not a stage weight ({known})")
        tracks = [_track(_req(o, side, path), f"{path}.{side}", gates) for side in TRACKS]
        visible = tuple(a for a in alerts if a.fired_t_s <= t)
        ticks.append(Tick(t, w, weights.index(w), tracks[0], tracks[1], visible))
    plan_stages = list(stages)
    if plan_stages[-1].weight != 100:
        plan_stages.append(Stage(weight=100, hold_min=LAST_STAGE_HOLD_MIN))
    rules = DecisionRules(tick_interval_s=interval, judge=judge)
    plan = ReplayPlan(stages=tuple(plan_stages), gates=gates, decision=rules)
    return Scenario(name, source, interval, plan, tuple(ticks))


def _gates(o: Mapping[str, Any], interval: float) -> dict[str, Gate]:
    """The scenario's gates. A rate's denominator (`requests`, or `denominators`) is a count in the
    tick (FORMAT.md), however long the percentage's own range (`window_s`)."""
    known = default_gates()
    if not o:
        raise _Bad("gates", "no gates")
    out: dict[str, Gate] = {}
    for name, spec in o.items():
        path = f"gates.{name}"
        if name not in known:
            raise _Bad(path, f"unknown metric (known: {', '.join(known)})")
        limit = _number(_req(_obj(spec, path), "max", path), f"{path}.max")
        update: dict[str, Any] = {"threshold": limit}
        if spec.get("window_s") is not None:  # optional: seconds each reading covers
            window = _number(spec["window_s"], f"{path}.window_s")
            if window <= 0:
                raise _Bad(f"{path}.window_s", "must be more than 0")
            update["window_s"] = window
            if known[name].kind is GateKind.RATE:
                update["denominator_window_s"] = interval
        out[name] = known[name].model_copy(update=update)
    return out


def _stages(items: Sequence[Any], interval: float) -> list[Stage]:
    if not items:
        raise _Bad("stages", "no stages")
    out: list[Stage] = []
    for i, raw in enumerate(items):
        path = f"stages[{i}]"
        o = _obj(raw, path)
        w = _number(_req(o, "weight", path), f"{path}.weight")
        a = _number(_req(o, "from_t", path), f"{path}.from_t")
        b = _number(_req(o, "to_t", path), f"{path}.to_t")
        if not 0 < w <= 100:
            raise _Bad(f"{path}.weight", f"must be between 0 and 100, not {w:g}")
        if b < a:
            raise _Bad(f"{path}.to_t", f"ends before it starts ({b:g} < {a:g})")
        if out and w <= out[-1].weight:
            raise _Bad(f"{path}.weight", f"weights must increase ({out[-1].weight:g} then {w:g})")
        out.append(Stage(weight=w, hold_min=(b - a + interval) / 60))
    return out


def _alerts(items: Sequence[Any]) -> list[Alert]:
    out: list[Alert] = []
    for i, raw in enumerate(items):
        path = f"alerts[{i}]"
        o = _obj(raw, path)
        t = _number(_req(o, "t", path), f"{path}.t")
        name = _req(o, "name", path)
        if not isinstance(name, str):
            raise _Bad(f"{path}.name", f"expected a string, got {_kind(name)}")
        labels = _obj(o.get("labels") or {}, f"{path}.labels")
        for k, v in labels.items():
            if not isinstance(v, str):
                raise _Bad(f"{path}.labels.{k}", f"expected a string, got {_kind(v)}")
        out.append(Alert(name=name, labels=dict(labels), fired_t_s=t))
    return out


def _track(raw: Any, path: str, gates: Mapping[str, Gate]) -> TrackSample | None:
    if raw is None:
        return None
    o = _obj(raw, path)
    values: dict[str, float | None] = {}
    denominators: dict[str, float | None] = {}
    for key, v in o.items():
        if key == "denominators":  # optional: what a rate divides by when it is not requests
            for metric, n in _obj(v, f"{path}.{key}").items():
                if metric not in gates:
                    raise _Bad(f"{path}.{key}.{metric}", "unknown metric")
                denominators[metric] = None if n is None else _number(n, f"{path}.{key}.{metric}")
            continue
        if key != "requests" and key not in gates:
            raise _Bad(f"{path}.{key}", "unknown metric")
        if v is not None:
            v = _number(v, f"{path}.{key}")
        values[key] = v
    requests = values.pop("requests", None)
    return TrackSample(values={k: values.get(k) for k in gates}, requests=requests, denominators=denominators)


# --------------------------------------------------------------------------- replay


def replay(scenario: Scenario, *, stop_at_rollback: bool = True) -> ReplayResult:
    """`decide` on every prefix of the ticks, in order."""
    decisions: list[Decision] = []
    ticks = scenario.ticks
    for i in range(len(ticks)):
        d = decide(scenario.plan, ticks[: i + 1])
        decisions.append(d)
        if d.action is Action.ROLLBACK and stop_at_rollback:
            break
    return summarise(decisions)


def summarise(decisions: Sequence[Decision]) -> ReplayResult:
    rollback_t = next((d.t_s for d in decisions if d.action is Action.ROLLBACK), None)
    if rollback_t is not None:
        verdict: Literal["promoted", "rolled_back", "held"] = "rolled_back"
    elif decisions and decisions[-1].action is Action.HOLD:
        verdict = "held"
    else:
        verdict = "promoted"
    return ReplayResult(verdict, rollback_t, tuple(decisions))


def replay_file(path: Path | str, judge: Judge = "comparative") -> ReplayResult:
    return replay(load_scenario(path, judge))
