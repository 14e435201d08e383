"""`runofshow replay` and `runofshow bench`: the decision engine on recorded scenarios."""

import gc
import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runofshow.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from runofshow.app.replay.bench import Score
    from runofshow.app.replay.scenarios import ReplayResult, Scenario

METRIC_LABELS = {
    "http_p95_ms": "p95 ms",
    "http_5xx_pct": "5xx %",
    "ws_lag_s": "ws s",
    "idempotency_conflict_pct": "idemp %",
    "csp_violations": "csp",
    "pgbouncer_pool_util_pct": "pool %",
}
VERDICT_EXIT = {"promoted": ExitCode.OK, "rolled_back": ExitCode.ROLLED_BACK, "held": ExitCode.HALTED}


@contextmanager
def _engine_imports() -> Iterator[None]:
    """Around the first import of the engine (pydantic, the plan's models, the judge): what it
    builds lives as long as the process, so it is built with the cyclic garbage collector paused and
    then frozen out of its way (`gc.freeze`, as `serve` does): no full collections over it while
    importing nor at exit (issue 11: about 15 ms of `replay --json`). Objects made later are
    collected as usual."""
    if "runofshow.app.replay.scenarios" in sys.modules or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
    gc.freeze()


class JudgeName(StrEnum):
    comparative = "comparative"
    threshold = "threshold"


def replay(
    scenario: Annotated[Path, typer.Argument(help="scenario file (FORMAT.md: NAME.json)")],
    json_out: Annotated[
        bool, typer.Option("--json", help="print exactly one JSON object (the contract)")
    ] = False,
    judge: Annotated[JudgeName, typer.Option("--judge", help="comparative (default) or threshold only")] = (
        JudgeName.comparative
    ),
) -> None:
    """Replay a recorded canary scenario through the decision engine, one decision per tick.

    With --json: one JSON object on stdout ({"verdict", "rollback_t", "decisions"}, each decision
    with its one-sentence `sentence`), exit 0.
    Without: a timeline table with each decision's sentence; exit 0 promoted, 3 rolled back, 4 held.
    Example: runofshow replay src/runofshow/examples/ex-007.json --json
    """
    with _engine_imports():
        from runofshow.app.replay.scenarios import load_scenario
        from runofshow.app.replay.scenarios import replay as run_replay

    sc = load_scenario(scenario, judge.value)
    result = run_replay(sc)
    if json_out:
        print(json.dumps(result.to_json()))
        return
    _print_timeline(sc, result)
    raise typer.Exit(VERDICT_EXIT[result.verdict])


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def _print_timeline(sc: "Scenario", result: "ReplayResult") -> None:
    from rich.console import Console
    from rich.table import Table

    style = {"proceed": "green", "hold": "yellow", "rollback": "bold red"}
    table = Table(title=f"{sc.name}: {sc.plan.decision.judge} judge", title_justify="left")
    table.add_column("t", justify="right")
    table.add_column("w %", justify="right")
    names = list(sc.plan.gates)
    for n in names:
        table.add_column(f"{METRIC_LABELS.get(n, n)}\ncanary/base", justify="right")
    table.add_column("decision")
    table.add_column("why (one sentence)", overflow="fold")
    for tick, d in zip(sc.ticks, result.decisions, strict=False):
        cells = []
        for n in names:
            c = tick.canary.value(n) if tick.canary else None
            b = tick.baseline.value(n) if tick.baseline else None
            cells.append(f"{_fmt(c)}/{_fmt(b)}")
        action = d.action.value
        reason = d.sentence or (d.reasons[0] if d.reasons else "")
        table.add_row(f"{tick.t_s:g}", f"{tick.weight:g}", *cells, f"[{style[action]}]{action}[/]", reason)
    console = Console(width=200)
    console.print(table)
    where = f" at t={result.rollback_t:g} s" if result.rollback_t is not None else ""
    console.print(f"verdict: {result.verdict}{where} ({len(result.decisions)} decisions)")
    if result.decisions and result.decisions[-1].sentence:
        console.print(f"why: {result.decisions[-1].sentence}")


def bench(
    folder: Annotated[Path, typer.Argument(help="folder of NAME.json + NAME.truth.json")],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object with both engines")] = False,
) -> None:
    """Score the comparative engine and the threshold-only engine on a folder of scenarios.

    FRR on good scenarios, MISS and EARLY on bad ones, detection delay p50/p90 (ticks), median
    time to promote (and its nominal, without holds), holds per good canary, good canaries still
    holding when the recording ends, mean time per replay; then each engine's score line.
    Example: runofshow bench src/runofshow/examples
    """
    with _engine_imports():
        from runofshow.app.replay.bench import run

    scores = run(folder)
    if json_out:
        print(json.dumps({s.judge: s.to_json() for s in scores}))
        return
    _print_scores(folder, scores)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _ticks(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:g} tick" if x == 1 else f"{x:g} ticks"


def _ttp(s: "Score") -> str:
    x = s.ttp_median_s
    if x is None:
        return "n/a"
    nominal = s.nominal_median_s
    tail = f" (nominal {nominal / 60:.0f})" if nominal is not None else ""
    return "never" if math.isinf(x) else f"{x / 60:.0f} min{tail}"


def _holds(s: "Score") -> str:
    if s.mean_holds_good is None:
        return "n/a"
    nodata = s.mean_nodata_holds_good
    return f"{s.mean_holds_good:.2f}" + (f" ({nodata:.2f} for NoData)" if nodata else "")


def _held(s: "Score") -> str:
    share = s.held_good_share
    return f"{s.held_good} of {len(s.good)}" + (f" ({100 * share:.1f} %)" if share is not None else "")


def _ms(s: "Score") -> str:
    return "n/a" if s.mean_seconds is None else f"{1000 * s.mean_seconds:.0f} ms"


def _print_scores(folder: Path, scores: "list[Score]") -> None:
    from rich.console import Console
    from rich.table import Table

    first = scores[0]
    table = Table(
        title=f"{folder}: {len(first.outcomes)} scenarios ({len(first.good)} good, {len(first.bad)} bad)",
        title_justify="left",
    )
    table.add_column("")
    for s in scores:
        table.add_column(s.judge, justify="right")
    rows: list[tuple[str, Any]] = [
        ("false rollbacks (FRR)", lambda s: _pct(s.frr)),
        ("missed regressions (MISS)", lambda s: _pct(s.miss)),
        ("early rollbacks (EARLY)", lambda s: str(s.early)),
        ("detection delay p50", lambda s: _ticks(s.delay_p50)),
        ("detection delay p90", lambda s: _ticks(s.delay_p90)),
        ("median time to promote", _ttp),
        ("holds per good canary (mean)", _holds),
        ("good canaries still holding at the end", _held),
        ("mean time per replay", _ms),
    ]
    for label, get in rows:
        table.add_row(label, *(get(s) for s in scores))
    console = Console(width=160)
    console.print(table)
    for s in scores:
        console.print(f"{s.judge}: {s.score_line()}")


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
    app.command("bench")(bench)
