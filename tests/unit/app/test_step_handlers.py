"""The timeline's step handlers (runofshow.app.steps.handlers) and the first night's burn-rate watch
(runofshow.app.run.first_night), with fakes: what each returns, writes and halts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runofshow.adapters.freeze_file import JsonFreezeStore
from runofshow.adapters.memory import FakeClock, InMemoryPullRequestHost
from runofshow.adapters.memory_steps import ScriptedLoad
from runofshow.app.run.clock import CompressedClock
from runofshow.app.run.first_night import GATE_SOURCE, BurnWatch, gate_ratios
from runofshow.app.run.steps import StepContext
from runofshow.app.steps.blast import BlastResult, render_evidence
from runofshow.app.steps.handlers import blast_handler, freeze_handlers, preflight_handler, war_room_handler
from runofshow.app.steps.preflight import Override, PreflightContext
from runofshow.domain.freeze import PullRequest
from runofshow.domain.plan import Plan
from runofshow.domain.rules import Gate
from runofshow.domain.slo import WINDOWS_S
from runofshow.domain.tick import Tick, TrackSample
from runofshow.domain.timeline import StepKind, schedule
from runofshow.reports.evidence_steps import freeze_start_text

AT = datetime(2026, 12, 5, 3, 50, tzinfo=UTC)


def context(plan: Plan, kind: StepKind, evidence: Path, t_s: float = -600.0, **extra: Any) -> StepContext:
    steps = schedule(plan)
    index = next(i for i, s in enumerate(steps) if s.kind is kind)
    return StepContext(plan=plan, run_id="r1", index=index, step=steps[index], t_s=t_s, at=AT,
                       evidence_dir=str(evidence), wall_at=AT, **extra)


# --------------------------------------------------------------------------- T-10


def test_preflight_halts_before_t0_and_says_what_failed(tmp_path: Path) -> None:
    def nothing_wired(ctx: StepContext) -> PreflightContext:
        return PreflightContext(plan=ctx.plan, now=lambda: ctx.at)

    outcome = preflight_handler(build=nothing_wired)(context(Plan(), StepKind.PREFLIGHT, tmp_path))
    assert outcome.halt and outcome.halt.startswith("preflight 1/9: failed artifact")
    assert outcome.summary.startswith("1/9 PASS, failed: artifact, canary_health, metrics")
    overridden = preflight_handler(Override("ic-on-call", "drill"), build=nothing_wired)(
        context(Plan(), StepKind.PREFLIGHT, tmp_path))
    assert overridden.halt is None and not overridden.ok
    assert overridden.summary.endswith("(overridden by IC ic-on-call: drill)")
    assert "Override: ic-on-call: drill" in (tmp_path / "preflight.txt").read_text()


def _result(success: int, p95_s: float, evidence: Path | None = None) -> BlastResult:
    return BlastResult(url="http://127.0.0.1:9/api/quotes", version="v1.4.0", started_at=AT, seconds=3, rate=50,
                       concurrency=20, timeout_s=10, requests=150, succeeded=success,
                       failures={"HTTP 503": 150 - success} if success < 150 else {}, elapsed_s=3.1,
                       p50_s=p95_s / 2, p95_s=p95_s, p99_s=p95_s, max_s=p95_s, service_p95_s=p95_s,
                       evidence_path=evidence)


def fake_probe(success: int, p95_s: float) -> Any:
    def probe(url: str, version: str, seconds: float, rate: float, concurrency: int, *, now: Any,
              evidence_dir: str, success_min_pct: float, p95_max_s: float) -> BlastResult:
        assert now() == AT and (url, seconds, rate, concurrency) == ("http://127.0.0.1:9/api/quotes", 3, 50, 20)
        path = Path(evidence_dir) / "micro_blast_v1.4.0_20261205T035000Z.log"
        result = _result(success, p95_s)
        path.write_text(render_evidence(result, success_min_pct, p95_max_s))
        return replace(result, evidence_path=path)

    return probe


BLAST_PLAN = Plan.model_validate({"timeline": {"blast_radius": {
    "url": "http://127.0.0.1:9/api/quotes", "seconds": 3, "rate": 50, "concurrency": 20}}})


def test_the_blast_probe_passes_fails_halts_or_is_overridden(tmp_path: Path) -> None:
    ctx = context(BLAST_PLAN, StepKind.BLAST_RADIUS, tmp_path)
    ok = blast_handler(BLAST_PLAN, probe=fake_probe(150, 0.12))(ctx)
    assert ok.ok and ok.halt is None and ok.summary == "150 requests, success 100.0%, p95=120ms, PASS"
    assert ok.details["text"] == (tmp_path / "micro_blast_v1.4.0_20261205T035000Z.log").read_text()
    assert ok.details["text"].startswith("MICRO BLAST RADIUS TEST") and "Result: PASS" in ok.details["text"]
    bad = blast_handler(BLAST_PLAN, probe=fake_probe(120, 0.7))(ctx)
    assert not bad.ok and bad.halt == ("blast radius FAIL: success 80.00 % is not above 95 %; "
                                       "p95 0.700 s is not below 0.5 s")
    overridden = blast_handler(BLAST_PLAN, Override("ic-on-call", "known slow"), probe=fake_probe(120, 0.7))(ctx)
    assert overridden.halt is None and not overridden.ok and "overridden by IC ic-on-call" in overridden.summary


def test_the_blast_step_runs_the_probe_on_the_load_generator_it_was_given(tmp_path: Path) -> None:
    load = ScriptedLoad(latency_s=0.7)
    outcome = blast_handler(BLAST_PLAN, load=load)(context(BLAST_PLAN, StepKind.BLAST_RADIUS, tmp_path))
    assert load.runs == [("http://127.0.0.1:9/api/quotes", 150, 50, 20, 10.0)]
    assert not outcome.ok and outcome.halt == "blast radius FAIL: p95 0.700 s is not below 0.5 s"
    assert outcome.details["text"].startswith("MICRO BLAST RADIUS TEST")
    with pytest.raises(ValueError, match="no load generator"):
        blast_handler(BLAST_PLAN)


def test_without_a_url_the_blast_step_is_only_recorded(tmp_path: Path) -> None:
    outcome = blast_handler(Plan())(context(Plan(), StepKind.BLAST_RADIUS, tmp_path))
    assert outcome.ok and outcome.details["handler"] == "record_only" and list(tmp_path.iterdir()) == []


def test_the_war_room_opens_with_its_channel_and_commanders(tmp_path: Path) -> None:
    plan = Plan.model_validate({"war_room": {"incident_commanders": ["alice", "bob"]}})
    outcome = war_room_handler(plan)(context(plan, StepKind.WAR_ROOM, tmp_path))
    assert outcome.details == {"channel": "#spark-warroom-v140", "incident_commanders": ["alice", "bob"]}
    assert outcome.summary == "#spark-warroom-v140, IC: alice, bob, signal only"


def test_the_freeze_handlers_keep_the_file_they_wrote_for_the_bundle(tmp_path: Path) -> None:
    host = InMemoryPullRequestHost("acme/spark-trading", [PullRequest(12, "feat: x"), PullRequest(15, "fix: y")])
    plan = Plan()
    handlers = freeze_handlers(plan, host, JsonFreezeStore)
    start = handlers[StepKind.FREEZE_START](context(plan, StepKind.FREEZE_START, tmp_path))
    assert start.summary == "2 PR(s) on hold (hold-for-canary) in acme/spark-trading"
    written = (tmp_path / "freeze_window_start.txt").read_text()
    assert start.details["text"] == written and "PRs on hold: 2 (#12, #15)" in written
    end = handlers[StepKind.CLOSE_OUT](context(plan, StepKind.CLOSE_OUT, tmp_path))
    assert end.details["released"] == [12, 15] and end.summary == "freeze lifted, 2 PR(s) released"
    assert host.labels(12) == () and (tmp_path / "freeze_window_end.txt").read_text() == end.details["text"]

    class View:  # the bundle rebuilds the very same file from the step's details
        plan = Plan()
        version = "v1.4.0"

        def step(self, *args: Any) -> Any:
            from runofshow.app.run.event_types import StepCompleted
            return StepCompleted(step_kind="freeze_start", details=dict(start.details), at=AT)

    assert freeze_start_text(View()) == written  # type: ignore[arg-type]
    kept = freeze_handlers(Plan.model_validate({"timeline": {"lift_freeze_after_rollback": False}}), host,
                           JsonFreezeStore)
    outcome = kept[StepKind.CLOSE_OUT](context(plan, StepKind.CLOSE_OUT, tmp_path, after_rollback=True))
    assert outcome.summary == "freeze kept after the rollback"


# --------------------------------------------------------------------------- the first night


def ticks(pct_by_hour: dict[float, float], requests: float = 1000.0) -> list[Tick]:
    return [Tick(t_s=h * 3600, weight=100, stage=4,
                 canary=TrackSample(values={"http_5xx_pct": pct}, requests=requests), baseline=None)
            for h, pct in sorted(pct_by_hour.items())]


def test_the_error_gate_gives_each_window_its_ratio() -> None:
    history = ticks({1: 0.1, 2: 0.1, 3: 0.1, 20: 0.1, 21: 0.1, 22: 3.0})
    ratios = gate_ratios(Plan(), history, 22 * 3600)
    assert ratios["5m"] == ratios["30m"] == ratios["1h"] == pytest.approx(0.03)  # the latest tick
    assert ratios["6h"] == pytest.approx((0.001 * 2 + 0.03) / 3)
    assert ratios["24h"] == pytest.approx((0.001 * 5 + 0.03) / 6)
    no_error_gate = Plan(gates={"queue_depth": Gate(threshold=1000)})
    assert gate_ratios(no_error_gate, history, 22 * 3600) == dict.fromkeys(WINDOWS_S)


def test_a_fast_burn_rolls_back_when_the_plan_says_so() -> None:
    history = ticks({1: 0.05, 2: 3.0})
    watch = BurnWatch(Plan(), FakeClock())
    got = watch(Plan(), history, 2 * 3600)
    assert got.rollback and got.rollback[0].startswith("SLO fast burn: page: burn rate above 14.4x over 1h 30.00x")
    assert got.burn is not None and got.burn["source"] == GATE_SOURCE and got.burn["severity"] == "page"
    assert got.summary == "burn 1h=30.00x 6h=15.25x 24h=15.25x PAGE"
    calm = Plan.model_validate({"timeline": {"rollback_on_fast_burn": False}})
    assert BurnWatch(calm, FakeClock())(calm, history, 2 * 3600).rollback == ()


def test_prometheus_windows_are_compressed_with_the_clock_and_floored() -> None:
    asked: list[tuple[str, float, datetime]] = []

    def ratio(window: str, wall_s: float, at: datetime) -> float | None:
        asked.append((window, wall_s, at))
        return 0.0004 if window != "5m" else None

    wall = FakeClock(datetime(2026, 12, 5, 5, 0, tzinfo=UTC))
    clock = CompressedClock(3600, wall.now(), wall=wall)
    watch = BurnWatch(Plan(), clock, ratio=ratio, min_window_s=1.0)
    verdict = watch.evaluate([], 0)
    assert {w: s for w, s, _ in asked} == {"5m": 1.0, "30m": 1.0, "1h": 1.0, "6h": 6.0, "24h": 24.0}
    assert all(at == wall.now() for _, _, at in asked)
    assert verdict.burn_rate_24h == pytest.approx(0.4) and verdict.within_24h_max and "5m" in verdict.no_data
    end = watch.step_handler(context(Plan(), StepKind.FIRST_NIGHT, Path("."), history=()))
    assert end.ok and end.details["burn"]["burn_rate_24h"] == pytest.approx(0.4)
    assert end.details["burn"]["source"] == "prometheus: timeline.slo_error_ratio_query"


def test_a_failing_query_is_no_data_for_that_window() -> None:
    def ratio(window: str, wall_s: float, at: datetime) -> float | None:
        raise TimeoutError("prometheus did not answer")

    verdict = BurnWatch(Plan(), FakeClock(), ratio=ratio).evaluate([], 0)
    assert verdict.burn_rate_24h is None and not verdict.within_24h_max and len(verdict.no_data) == 5


def test_the_last_check_in_has_the_24h_figure() -> None:
    history = ticks({h: 0.2 for h in range(1, 25)})
    outcome = BurnWatch(Plan(), FakeClock()).step_handler(
        context(Plan(), StepKind.FIRST_NIGHT, Path("."), t_s=24 * 3600, history=tuple(history)))
    # 0.2 % errors against the 99.9 % SLO's 0.1 % budget: 2x, past the seed's 1.5
    assert not outcome.ok and outcome.details["burn"]["burn_rate_24h"] == pytest.approx(2.0)
    assert outcome.details["hours"] == 24 and outcome.summary == "burn 1h=2.00x 6h=2.00x 24h=2.00x"
