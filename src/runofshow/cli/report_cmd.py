"""`runofshow report RUN_ID`, `runofshow rca RUN_ID` and `runofshow oneliner RUN_ID`: the run told
for people, rebuilt from the ledger alone."""

from pathlib import Path
from typing import Annotated, Any

import typer

_STATE_HELP = "ledger URL (SQLAlchemy); default $RUNOFSHOW_STATE, then runofshow.db beside ./evidence"


def _load(run_id: str, state: str | None) -> tuple[list[Any], Any]:
    """The run's events and the plan it recorded, from the ledger at --state."""
    from runofshow.cli.evidence_cmd import load_run_events

    return load_run_events(run_id, state)


def _evidence_files(evidence_dir: Path, run_id: str) -> int | None:
    """How many files the run's evidence bundle holds (with its manifest), if one was built: in
    `<evidence_dir>/<RUN_ID>` (`evidence build`) or in `<evidence_dir>` itself (`run`, `demo`),
    whichever has a manifest and a ledger chain of this run."""
    import json

    from runofshow.reports.evidence import CHAIN_FILE, MANIFEST, bundle_files

    for folder in (evidence_dir / run_id, evidence_dir):
        try:
            chain = json.loads((folder / CHAIN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if (folder / MANIFEST).is_file() and isinstance(chain, dict) and chain.get("run_id") == run_id:
            return len(bundle_files(folder)) + 1
    return None


def _say(text: str) -> None:
    from runofshow.cli.evidence_cmd import _say as say

    say(text)


def report(
    run_id: Annotated[str, typer.Argument(help="the run to report on")],
    state: Annotated[str | None, typer.Option("--state", help=_STATE_HELP)] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="the HTML file (default: <plan evidence_dir>/report_<RUN_ID>.html)"),
    ] = None,
) -> None:
    """Write one self-contained HTML report of a run (plots of every gate, canary vs baseline, with
    stages, holds and the rollback marked; the decision table; the success checklist) and print its
    path. Opens offline: plotly.js is inside the file.

    Example: runofshow report v1.4.0-20261205T040000Z-ab12 --out report.html
    """
    from runofshow.reports.html import write_report

    events, plan = _load(run_id, state)
    path = out if out is not None else Path(plan.evidence_dir) / f"report_{run_id}.html"
    counted = _evidence_files(Path(plan.evidence_dir), run_id)
    written = write_report(events, plan, path, evidence_files=counted)
    _say(str(written))


def rca(
    run_id: Annotated[str, typer.Argument(help="the run to write the mini RCA for")],
    state: Annotated[str | None, typer.Option("--state", help=_STATE_HELP)] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="output folder (default: the plan's evidence_dir)")
    ] = None,
) -> None:
    """Write mini_rca_<version>.md (what went well, what could be improved, observations, three
    remaining risks with owner and due-date placeholders) and release_oneliner.txt from what the
    run's ledger shows, and print the RCA's path.

    Example: runofshow rca v1.4.0-20261205T040000Z-ab12 --out evidence
    """
    from runofshow.reports.rca import write_rca

    events, plan = _load(run_id, state)
    _say(str(write_rca(events, plan, out if out is not None else Path(plan.evidence_dir))))


def oneliner(
    run_id: Annotated[str, typer.Argument(help="the run to sum up")],
    state: Annotated[str | None, typer.Option("--state", help=_STATE_HELP)] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="also write release_oneliner.txt into this folder")
    ] = None,
) -> None:
    """Print the release one-liner, e.g. "v1.4.0 (spark-trading): promoted 1→100% in 90 min,
    0 rollbacks, 6/6 gates at every stage, 0 holds".

    Example: runofshow oneliner v1.4.0-20261205T040000Z-ab12
    """
    from runofshow.reports.rca import oneliner as line
    from runofshow.reports.rca import write_oneliner

    events, plan = _load(run_id, state)
    if out is not None:
        write_oneliner(events, plan, out)
    _say(line(events, plan))


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("rca")(rca)
    app.command("oneliner")(oneliner)
