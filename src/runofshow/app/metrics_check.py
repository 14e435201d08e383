"""`runofshow validate --check-metrics`: run each gate's queries (and the request counts) once
against the plan's metrics source and say which return nothing, before a run finds out at T0.

    report = check_plan_metrics(plan, build=bootstrap.build_metrics)   # builds, asks, closes
    report.lines()                                # one line per gate, then requests
    report.ok                                     # every gate has a value on both tracks

One `observe` of the MetricsSource port is one query per gate and track, over one tick interval
(`decision.tick_interval_s`), as the first tick of a run would ask. A query that returns no series
(wrong labels, a metric that is not exported) reads back as no value; so does a NaN (0/0 while no
requests are served) and an answer of several series (the query does not aggregate them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from runofshow.app import settings
from runofshow.app.run.world import closer_of
from runofshow.domain.plan import Plan
from runofshow.domain.tick import TrackSample
from runofshow.errors import MetricsUnavailableError
from runofshow.ports import MetricsSource

TRACKS = ("baseline", "canary")


@dataclass(frozen=True)
class QueryCheck:
    """One gate's (or the request count's) value on each track; None: the query returned nothing."""

    name: str
    values: Mapping[str, float | None]

    @property
    def empty_tracks(self) -> tuple[str, ...]:
        return tuple(t for t in TRACKS if self.values.get(t) is None)

    def line(self) -> str:
        shown = ", ".join(f"{t} {_num(self.values.get(t))}" for t in TRACKS)
        if not self.empty_tracks:
            return f"{self.name}: ok ({shown})"
        return f"{self.name}: no series for {' and '.join(self.empty_tracks)} ({shown})"


@dataclass(frozen=True)
class MetricsCheck:
    source: str
    gates: tuple[QueryCheck, ...] = ()
    requests: QueryCheck | None = None
    unavailable: str | None = None  # the source could not be asked at all
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> tuple[str, ...]:
        """Gates whose query returned nothing on a track."""
        return tuple(g.name for g in self.gates if g.empty_tracks)

    @property
    def ok(self) -> bool:
        return self.unavailable is None and not self.empty

    def lines(self) -> list[str]:
        if self.unavailable is not None:
            return [f"metrics: {self.source}: cannot be asked: {self.unavailable}"]
        out = [g.line() for g in self.gates]
        if self.requests is not None:
            out.append(self.requests.line())
        out.extend(self.notes)
        out.append(f"metrics: {len(self.gates) - len(self.empty)}/{len(self.gates)} gates return series"
                   + (f"; none for {', '.join(self.empty)}" if self.empty else ""))
        return out


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def _values(name: str, baseline: TrackSample | None, canary: TrackSample | None) -> dict[str, float | None]:
    return {"baseline": baseline.values.get(name) if baseline else None,
            "canary": canary.values.get(name) if canary else None}


def describe_source(plan: Plan) -> str:
    src = plan.metrics_source
    return f"prometheus {src.url}" if src.kind == "prometheus" else src.kind


def check_metrics(plan: Plan, source: MetricsSource, now: datetime) -> MetricsCheck:
    """Every gate of `plan` asked once on each track at `now`, over one tick interval."""
    where = describe_source(plan)
    try:
        baseline, canary = source.observe(now, plan.decision.tick_interval_s)
    except MetricsUnavailableError as err:
        return MetricsCheck(source=where, unavailable=str(err))
    gates = tuple(QueryCheck(name, _values(name, baseline, canary)) for name in plan.gates)
    requests = QueryCheck("requests", {"baseline": baseline.requests if baseline else None,
                                       "canary": canary.requests if canary else None})
    notes: tuple[str, ...] = ()
    if plan.metrics_source.kind == "prometheus" and any(g.empty_tracks for g in gates):
        labels = plan.metrics_source.labels
        notes = (f"metrics: the default queries select {labels.service}=\"{plan.release.service}\" and "
                 f"{labels.track}=\"{labels.canary}\"|\"{labels.baseline}\" (metrics_source.labels)",)
    return MetricsCheck(source=where, gates=gates, requests=requests, notes=notes)


def check_plan_metrics(
    plan: Plan, build: Callable[[Plan, Mapping[str, str]], MetricsSource],
    environ: Mapping[str, str] | None = None, now: datetime | None = None,
) -> MetricsCheck:
    """`validate --check-metrics`: the plan's metrics source built with `build` (bootstrap's
    `build_metrics`), each gate asked once, the source closed again."""
    source = build(plan, settings.environment(environ))
    try:
        return check_metrics(plan, source, now or datetime.now(UTC))
    finally:
        close = closer_of(source)
        if close is not None:
            close()


__all__ = ["MetricsCheck", "QueryCheck", "check_metrics", "check_plan_metrics", "describe_source"]
