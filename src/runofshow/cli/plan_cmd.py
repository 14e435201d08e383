"""`runofshow init`, `validate` and `plan`: write, check and print the plan."""

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from runofshow.errors import InputError, TimestampError


def parse_instant(text: str, option: str = "--start") -> datetime:
    """ISO 8601 with an offset or Z -> aware datetime; anything else is a TimestampError."""
    try:
        at = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise TimestampError(
            f"{option}: '{text}' is not an ISO 8601 time like 2026-12-05T07:00:00+03:00"
        ) from None
    if at.tzinfo is None:
        raise TimestampError(f"{option}: '{text}' has no UTC offset; add +03:00 or Z")
    return at


def init(
    path: Annotated[Path, typer.Argument(help="where to write the plan")] = Path("plan.yaml"),
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
) -> None:
    """Write a fully commented default plan (example: runofshow init plan.yaml)."""
    from runofshow.app.plan_file import default_plan_text

    if path.exists() and not force:
        raise InputError(f"{path}: (file): already exists; use --force to overwrite")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(default_plan_text(), encoding="utf-8")
    tmp.replace(path)
    print(f"wrote {path}; check it with: runofshow validate {path}")


def validate(
    path: Annotated[Path, typer.Argument(help="plan file")],
    check_metrics: Annotated[bool, typer.Option(
        "--check-metrics", help="also run each gate's queries once against the plan's metrics source "
        "and say which return no series (exit 3 if any)")] = False,
) -> None:
    """Check a plan: exit 0, or print every problem as `file: field: problem` and exit 2.

    With --check-metrics, each gate's baseline and canary query runs once against the configured
    Prometheus (or web_json source), one line per gate; exit 3 when any returns nothing.

    Example: runofshow validate plan.yaml --check-metrics
    """
    from runofshow.app.plan_file import load_plan
    from runofshow.app.query_windows import overlap_line, with_query_windows

    plan = load_plan(path)
    print(
        f"{path}: ok: {plan.release.name} {plan.release.version}, "
        f"{len(plan.stages)} stages ({' -> '.join(f'{s.weight:g}%' for s in plan.stages)}), "
        f"{len(plan.gates)} gates"
    )
    line = overlap_line(with_query_windows(plan))
    if line:
        print(f"{path}: note: {line}")
    if check_metrics:
        from runofshow.app.bootstrap import build_metrics
        from runofshow.app.metrics_check import check_plan_metrics
        from runofshow.cli.exit_codes import ExitCode

        report = check_plan_metrics(plan, build_metrics)
        for line in report.lines():
            print(line)
        if not report.ok:
            raise typer.Exit(int(ExitCode.ROLLED_BACK))


def plan(
    path: Annotated[Path, typer.Argument(help="plan file")],
    start: Annotated[str | None, typer.Option("--start", help="T0 as ISO 8601 with offset")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object per step")] = False,
) -> None:
    """Print the whole T-minus schedule, each step at its time in Istanbul and UTC, marked allowed or
    blocked by the market windows, with the next T0 at which the whole plan fits.

    Example: runofshow plan plan.yaml --start 2026-12-05T07:00:00+03:00
    """
    from runofshow.app.plan_file import load_plan
    from runofshow.app.schedule import schedule_rows

    p = load_plan(path)
    t0 = parse_instant(start) if start else None
    rows = schedule_rows(p, t0)
    marks: dict[str, object] = {}
    if t0 is not None:
        from runofshow.app.bootstrap import market_calendar
        from runofshow.app.steps.windows import schedule_marks

        marks = schedule_marks(p, market_calendar(p), t0)
        for row, mark in zip(rows, marks["steps"], strict=True):  # type: ignore[call-overload]
            row.update(allowed=mark["allowed"], preferred=mark["preferred"], window=mark["reason"])
    if json_out:
        import json

        for row in rows:
            print(json.dumps(row))
        if marks:
            print(json.dumps({"fits": marks["fits"], "next_fitting_start": marks["next_fitting_start"]}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{p.release.name} {p.release.version}: run-of-show", title_justify="left")
    for col in ("step", "what", "Istanbul", "UTC", "window", "does"):
        table.add_column(col)
    for row in rows:
        if "allowed" not in row:
            window = "-"
        elif not row["allowed"]:
            window = f"[red]BLOCKED[/red] {row['window']}"
        else:
            window = "allowed" if row["preferred"] else f"[yellow]allowed[/yellow] {row['window']}"
        table.add_row(row["label"], row["title"], row.get("local") or "-", row.get("utc") or "-",
                      window, row["does"])
    console = Console(width=180)
    console.print(table)
    if marks and not marks["fits"]:
        console.print(f"[red]The plan does not fit at this T0.[/red] Next T0 where T-30..T+90 fits: "
                      f"{marks['next_fitting_start'] or 'none in the next 14 days'}")
    elif marks:
        console.print("[green]Every step of T-30..T+90 is allowed at this T0.[/green]")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("validate")(validate)
    app.command("plan")(plan)
