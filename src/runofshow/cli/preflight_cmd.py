"""`runofshow preflight PLAN`: the nine T-10 checks, printed and written to preflight.txt."""

from pathlib import Path
from typing import Annotated

import typer


def preflight(
    plan_path: Annotated[Path, typer.Argument(help="plan file")],
    evidence_dir: Annotated[
        Path | None, typer.Option("--evidence-dir", help="folder for preflight.txt (default: evidence_dir)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the report as one JSON object")] = False,
) -> None:
    """Run the nine preflight checks (artifact, canary health, metrics, alert rules, router at 0 %,
    backup/PITR, schema window, freeze, notifications), print `9/9` or which failed, and write
    preflight.txt. Exit 0 on 9/9, 3 otherwise.

    Example: runofshow preflight plan.yaml --evidence-dir evidence
    """
    from runofshow.app.bootstrap import preflight_tools
    from runofshow.app.plan_file import load_plan
    from runofshow.app.steps.preflight import run_preflight
    from runofshow.app.steps.probes import PreflightWiring
    from runofshow.cli.exit_codes import ExitCode

    plan = load_plan(plan_path)
    folder = evidence_dir if evidence_dir is not None else Path(plan.evidence_dir)
    with PreflightWiring(plan, folder, preflight_tools()) as wiring:
        report = run_preflight(wiring.context)
    path = report.write(folder)
    code = ExitCode.OK if report.passed else ExitCode.ROLLED_BACK
    if json_out:
        import json

        print(json.dumps({**report.to_json(), "evidence": str(path)}, ensure_ascii=False))
        raise typer.Exit(code)
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Preflight {plan.release.name} {plan.release.version}", title_justify="left")
    for col in ("#", "check", "result", "detail", "time"):
        table.add_column(col, overflow="fold")
    for i, r in enumerate(report.results, start=1):
        mark = Text("PASS", style="green") if r.passed else Text("FAIL", style="bold red")
        table.add_row(str(i), r.name, mark, r.detail, f"{r.duration_s:.2f}s")
    console = Console(width=160)
    console.print(table)
    console.print(f"{report.summary()}  ({path})", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("preflight")(preflight)
