"""`runofshow window check`: may a canary stage, a schema change or a rollback start at an instant?"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

window_app = typer.Typer(
    help="Market windows (BIST sessions, market hours, DST weeks): what may start when.",
    no_args_is_help=True, rich_markup_mode=None,
)


def load_plan_or_default(path: Path | None) -> Any:
    """The plan at `path`, or the default plan when no --plan is given."""
    if path is None:
        from runofshow.domain.plan import Plan

        return Plan()
    from runofshow.app.plan_file import load_plan

    return load_plan(path)


def _yes(v: bool) -> str:
    return "yes" if v else "no"


@window_app.command("check")
def check(
    at: Annotated[
        list[str] | None,
        typer.Option("--at", help="instant, ISO 8601 with offset or Z; repeat for several (default: now)"),
    ] = None,
    plan_path: Annotated[
        Path | None, typer.Option("--plan", help="plan file (default: built-in plan)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object per --at, one per line")] = False,
) -> None:
    """Say, for each --at, whether the market is open, whether it is a DST week, and whether a canary
    stage, a schema change and a rollback may start; with the next canary window when blocked.

    Example: runofshow window check --at 2026-10-28T11:00:00+03:00 --at 2026-03-09T12:00:00Z --json
    """
    from runofshow.app.bootstrap import market_calendar
    from runofshow.app.steps.windows import window_report
    from runofshow.cli.plan_cmd import parse_instant

    instants = [parse_instant(a, "--at") for a in at] if at else [datetime.now(UTC)]
    plan = load_plan_or_default(plan_path)
    calendar = market_calendar(plan)
    reports = [window_report(plan, calendar, i) for i in instants]
    if json_out:
        import json

        for r in reports:
            print(json.dumps(r, ensure_ascii=False))
        raise typer.Exit(0)
    from rich.console import Console
    from rich.table import Table

    title = f"Market windows ({plan.market.calendar}, {plan.market.timezone})"
    table = Table(title=title, title_justify="left")
    for col in ("at", "market", "DST week", "canary", "schema change", "rollback", "next canary", "why"):
        table.add_column(col)
    for r in reports:
        market = "open" if r["market_open"] else ("holiday: " + r["holiday"] if r["holiday"] else "closed")
        canary = _yes(r["allowed"]["canary"]) + ("" if r["canary_preferred"] or not r["allowed"]["canary"]
                                                 else " (not preferred)")
        table.add_row(
            r["at"], market, _yes(r["dst_week"]), canary, _yes(r["allowed"]["schema_change"]), "yes",
            r["next_canary_window"] or "-", "; ".join(r["reasons"]),
        )
    Console(width=200).print(table)
    raise typer.Exit(0)


def register(app: typer.Typer) -> None:
    app.add_typer(window_app, name="window")
