"""`runofshow grafana dashboard`: the war-room dashboard JSON, built from the plan's queries."""

import json
import re
from pathlib import Path
from typing import Annotated

import typer

grafana_app = typer.Typer(
    help="Grafana: the war-room dashboard built from the plan.", no_args_is_help=True,
    rich_markup_mode=None,
)


@grafana_app.command("dashboard")
def dashboard_cmd(
    path: Annotated[Path, typer.Argument(help="plan file")],
    endpoint_label: Annotated[
        str, typer.Option("--endpoint-label", help="label the error panel breaks down by")
    ] = "endpoint",
    for_api: Annotated[
        bool,
        typer.Option("--for-api", help="wrap for Grafana's POST /api/dashboards/db (overwrite: true)"),
    ] = False,
) -> None:
    """Print the risk-idempotency-pitr dashboard JSON (10 panels), ready to import into Grafana.

    Example: runofshow grafana dashboard plan.yaml > risk-idempotency-pitr.json
    """
    from runofshow.app.plan_file import load_plan
    from runofshow.errors import InputError
    from runofshow.reports.dashboard import dashboard

    if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", endpoint_label):
        raise InputError(f"--endpoint-label: '{endpoint_label}' is not a Prometheus label name")
    board = dashboard(load_plan(path), endpoint_label=endpoint_label)
    doc = {"dashboard": board, "overwrite": True} if for_api else board
    typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    raise typer.Exit(0)


def register(app: typer.Typer) -> None:
    app.add_typer(grafana_app, name="grafana")
