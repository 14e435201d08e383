"""`runofshow blast`: the blast-radius probe with a progress bar, its numbers and a verdict."""

from pathlib import Path
from typing import Annotated

import typer

# BlastRadius's defaults (domain/plan.py), written out so that `runofshow --help` does not import
# pydantic; tests/unit/cli/test_blast_defaults.py keeps them equal.
RATE, CONCURRENCY, SUCCESS_MIN_PCT, P95_MAX_S = 50.0, 50, 95.0, 0.5


def blast(
    url: Annotated[str, typer.Argument(help="the URL to load, e.g. the canary's health endpoint")],
    version: Annotated[str, typer.Argument(help="release version, e.g. v1.4.0 (names the evidence file)")],
    seconds: Annotated[float, typer.Argument(help="how long to send requests")],
    rate: Annotated[float, typer.Option("--rate", help="requests per second (open loop)")] = RATE,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="most requests in flight at once")
    ] = CONCURRENCY,
    success_min: Annotated[
        float, typer.Option("--success-min", help="pass only when success % is above this")
    ] = SUCCESS_MIN_PCT,
    p95_max: Annotated[
        float, typer.Option("--p95-max", help="pass only when p95 (seconds) is below this")
    ] = P95_MAX_S,
    timeout: Annotated[float, typer.Option("--timeout", help="per-request timeout, seconds")] = 10.0,
    evidence_dir: Annotated[
        Path, typer.Option("--evidence-dir", help="where micro_blast_<version>_<ts>.log goes")
    ] = Path("evidence"),
) -> None:
    """Blast-radius probe: constant-rate load on URL, latency from each request's intended send time.

    Passes (exit 0) when success > 95 % and p95 < 0.5 s (see --success-min, --p95-max), else
    exits 3. Writes evidence/micro_blast_<version>_<timestamp>.log.

    Example: runofshow blast http://127.0.0.1:8082/health v1.4.0 30 --rate 50 --concurrency 50
    """
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from runofshow.app.bootstrap import load_generator
    from runofshow.app.steps.blast import check_inputs, probe
    from runofshow.cli.exit_codes import ExitCode

    check_inputs(url, version, seconds, rate, concurrency, timeout)
    err = Console(stderr=True)
    columns = (TextColumn("blast {task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(url, total=max(1, round(seconds * rate)))

        def on_progress(done: int, planned: int) -> None:
            bar.update(task, completed=done, total=planned)

        result = probe(
            url, version, seconds, rate, concurrency, now=lambda: datetime.now(UTC), load=load_generator(),
            evidence_dir=evidence_dir, timeout_s=timeout, success_min_pct=success_min,
            p95_max_s=p95_max, on_progress=on_progress,
        )
    reasons = result.reasons(success_min, p95_max)
    table = Table(title=f"Blast radius {version}: {url}", show_header=False)
    table.add_row("requests", f"{result.requests} ({result.succeeded} ok, {result.failed} failed)")
    table.add_row("achieved rate", f"{result.achieved_rate:.1f} req/s (target {rate:g})")
    table.add_row("success", f"{result.success_pct:.2f} % (needs > {success_min:g} %)")
    table.add_row("p50 / p95 / p99 / max", " / ".join(
        f"{v * 1000:.1f} ms" for v in (result.p50_s, result.p95_s, result.p99_s, result.max_s)))
    table.add_row("p95 limit", f"< {p95_max * 1000:g} ms")
    if result.failures:
        table.add_row("failures", ", ".join(f"{k}: {v}" for k, v in result.failures.items()))
    out = Console()
    out.print(table)
    out.print(f"evidence: {result.evidence_path}", soft_wrap=True)
    if reasons:
        out.print("Blast radius FAIL: " + "; ".join(reasons))
        raise typer.Exit(ExitCode.ROLLED_BACK)
    out.print("Blast radius PASS ✅")
    raise typer.Exit(ExitCode.OK)


def register(app: typer.Typer) -> None:
    app.command("blast")(blast)
