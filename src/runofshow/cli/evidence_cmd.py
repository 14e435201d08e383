"""`runofshow evidence build RUN_ID` and `runofshow evidence verify DIR`."""

from pathlib import Path
from typing import Annotated, Any

import typer

evidence_app = typer.Typer(
    help="The evidence bundle: rebuild it from the ledger, verify it against its manifest and chain.",
    no_args_is_help=True, rich_markup_mode=None,
)


def _open_ledger(state: str | None) -> tuple[Any, str]:
    """The ledger at --state (else RUNOFSHOW_STATE, else SQLite runofshow.db beside ./evidence),
    through `app.bootstrap`. A SQLite file that does not exist is an input error, not a new ledger."""
    from runofshow.app.bootstrap import open_ledger, resolve_state_url
    from runofshow.errors import InputError

    url = resolve_state_url(state)
    if url.startswith("sqlite:///") and ":memory:" not in url:
        db = Path(url.removeprefix("sqlite:///"))
        if not db.is_file():
            raise InputError(f"--state: no ledger at {db}; pass --state URL")
    return open_ledger(url), url


def _say(text: str) -> None:
    """One line on stdout, never wrapped or marked up (paths and problems stay greppable)."""
    from rich.console import Console

    Console(highlight=False).print(text, markup=False, soft_wrap=True)


def _close(obj: Any) -> None:
    fn = getattr(obj, "close", None)
    if callable(fn):
        fn()


@evidence_app.command("build")
def build(
    run_id: Annotated[str, typer.Argument(help="the run to rebuild evidence for")],
    state: Annotated[str | None, typer.Option("--state", help="ledger URL (SQLAlchemy)")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="output folder (default: <plan evidence_dir>/<RUN_ID>)")
    ] = None,
) -> None:
    """Rebuild every evidence file of a run from the ledger alone, write MANIFEST.sha256 and the
    ledger chain, and print the success checklist.

    Example: runofshow evidence build v1.4.0-20261205T040000Z-ab12 --out evidence/v1.4.0
    """
    from runofshow.domain.checklist import all_passed
    from runofshow.reports.evidence import build_bundle

    events, plan = load_run_events(run_id, state)
    folder = out if out is not None else Path(plan.evidence_dir)
    if out is None and folder.name != run_id:  # a worker's run has its own folder already
        folder = folder / run_id
    result = build_bundle(events, plan, folder)
    _say(f"wrote {len(result.files)} files to {result.folder} ({len(events)} ledger events)")
    for c in result.criteria:
        _say(f"{'✅' if c.passed else '⏳' if c.pending else '❌'} {c.name}: {c.detail}")
    met = sum(1 for c in result.criteria if c.passed)
    _say(f"{met}/{len(result.criteria)} success criteria met"
         + ("" if all_passed(result.criteria) else " (see success_criteria.txt)"))


@evidence_app.command("verify")
def verify(
    folder: Annotated[Path, typer.Argument(help="evidence folder with MANIFEST.sha256")],
    state: Annotated[
        str | None, typer.Option("--state", help="also check the bundle against this ledger (URL)")
    ] = None,
) -> None:
    """Check an evidence folder: every changed, missing or added file against MANIFEST.sha256, and
    the ledger hash chain (from the folder alone, or against the ledger with --state). Exit 0 when
    intact, 3 otherwise.

    Example: runofshow evidence verify evidence/v1.4.0
    """
    import json

    from runofshow.cli.exit_codes import ExitCode
    from runofshow.errors import InputError, LedgerError
    from runofshow.reports.evidence import CHAIN_FILE
    from runofshow.reports.evidence import verify as verify_bundle

    if not folder.is_dir():
        raise InputError(f"{folder}: (folder): no such folder")
    ledger_events = None
    if state is not None:
        try:
            run_id = json.loads((folder / CHAIN_FILE).read_text(encoding="utf-8"))["run_id"]
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(f"{folder / CHAIN_FILE}: no run id to compare with --state") from None
        ledger, url = _open_ledger(state)
        try:
            ledger_events = ledger.events(run_id)
        except LedgerError as err:
            raise InputError(f"--state: {err}") from None
        finally:
            _close(ledger)
    report = verify_bundle(folder, ledger_events)
    problems = report.problems()
    for note in report.notes:
        _say(f"note: {note}")
    if report.ok:
        _say(f"✅ {folder}: {report.checked} files match MANIFEST.sha256; ledger chain intact")
        raise typer.Exit(ExitCode.OK)
    _say(f"❌ {folder}: {len(problems)} problem(s)")
    for p in problems:
        _say(f"  • {p}")
    raise typer.Exit(ExitCode.ROLLED_BACK)


def register(app: typer.Typer) -> None:
    app.add_typer(evidence_app, name="evidence")


def load_run_events(run_id: str, state: str | None) -> tuple[list[Any], Any]:
    """The run's events and the plan it recorded, from the ledger at --state (InputError if unknown)."""
    from runofshow.app.run.event_types import RunStarted, parse_all
    from runofshow.errors import InputError, RunNotFoundError
    from runofshow.reports.evidence_render import plan_from_ledger

    ledger, url = _open_ledger(state)
    try:
        try:
            record = ledger.run(run_id)
        except RunNotFoundError:
            raise RunNotFoundError(f"RUN_ID: no run '{run_id}' in {url}") from None
        events = ledger.events(run_id)
    finally:
        _close(ledger)
    if not events:
        raise InputError(f"RUN_ID: run '{run_id}' has no events in {url}")
    started = next((e for e in parse_all(events) if isinstance(e, RunStarted)), None)
    return events, plan_from_ledger(started or RunStarted(plan=dict(record.plan or {})))
