"""`runofshow decide` (the incident commander's decision) and `runofshow note` (the parking lot).

Both work from any terminal while the run goes on in another process (or after it died): they
append to the run's ledger, which the runner polls, and rewrite the war-room log or parking lot in
the evidence folder. Exit codes of decide: 0 accepted (a rollback: done, weight read back 0 %),
2 refused (not an incident commander, a proceed after an automatic rollback, a run that has
ended; the refusal is recorded), 1 a rollback that could not be confirmed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

StateOpt = Annotated[str | None, typer.Option(
    "--state", help="ledger URL; default $RUNOFSHOW_STATE, then runofshow.db beside ./evidence")]


@contextmanager
def _ledger(state: str | None) -> Iterator[Any]:
    from runofshow.app.bootstrap import open_ledger, resolve_state_url
    from runofshow.errors import InputError

    url = resolve_state_url(state)
    if url.startswith("sqlite:///") and ":memory:" not in url and not Path(url[len("sqlite:///"):]).is_file():
        raise InputError(f"--state: no ledger at {url[len('sqlite:///'):]}; pass --state URL")
    ledger = open_ledger(url)
    try:
        yield ledger
    finally:
        close = getattr(ledger, "close", None)
        if callable(close):
            close()


def _refresh(ledger: Any, run_id: str, folder: str, targets: tuple[str, ...]) -> None:
    """Rewrite the evidence files the new events change (the runner, if alive, does so too)."""
    from runofshow.reports.evidence_live import write_live

    try:
        write_live(ledger.events(run_id), folder, targets)
    except Exception as err:  # the ledger has it; the bundle at the end rewrites it
        print(f"evidence not refreshed: {err}", flush=True)


def decide(
    run_id: Annotated[str, typer.Argument(help="the run")],
    action: Annotated[str, typer.Argument(metavar="ACTION", help="proceed, hold or rollback")],
    as_: Annotated[str, typer.Option("--as", help="who decides: an incident commander of the plan")],
    reason: Annotated[str, typer.Option("--reason", help="why (recorded with the decision)")],
    state: StateOpt = None,
) -> None:
    """The incident commander's decision: proceed, hold or rollback. Only the plan's incident
    commanders are accepted; anyone else is refused (exit 2) and the refusal is recorded. A rollback
    acts at once from this process (the runner, busy or not, then closes the run out); a hold or
    proceed is carried out by the runner at its next move. A proceed cannot override an
    automatic rollback.

    Example: runofshow decide v1.4.0-20261205T040000Z-1a2b rollback --as alice --reason "p95 climbing"

    Exit codes: 0 accepted, 2 refused or bad input, 1 a rollback that could not be confirmed.
    """
    from runofshow.app import bootstrap, settings
    from runofshow.app.warroom import commander as use
    from runofshow.cli.exit_codes import ExitCode

    env = settings.environment()
    with _ledger(state) as ledger:
        plan, _ = bootstrap.load_run(run_id, ledger)
        fanout = bootstrap.build_notifications(plan, env) if action == "rollback" else None
        remote = plan.traffic_router.kind != "memory"  # an in-memory router lives in the runner
        try:
            result = use.ic_decide(run_id, action.strip().lower(), by=as_, reason=reason, ledger=ledger,
                                router=(lambda p: bootstrap.build_router(p, env)) if remote else None,
                                notifier=fanout, annotator=fanout)
        finally:
            if fanout is not None:
                fanout.close(1.0)
        _refresh(ledger, run_id, plan.evidence_dir, ("war_room", "timeline"))
    print(f"{run_id}: {result.action} by {result.by}: {result.message}", flush=True)
    if not result.accepted:
        raise typer.Exit(ExitCode.BAD_INPUT)
    if result.action == "rollback" and remote and result.weight != 0.0:
        raise typer.Exit(ExitCode.UNEXPECTED)


def note(
    run_id: Annotated[str, typer.Argument(help="the run")],
    text: Annotated[str, typer.Argument(help="the theory or opinion")],
    as_: Annotated[str, typer.Option("--as", help="who writes it")],
    state: StateOpt = None,
) -> None:
    """Put theory and opinion into the parking lot (evidence/parking_lot.txt), never the war-room log.

    Example: runofshow note v1.4.0-20261205T040000Z-1a2b "maybe the new pool size" --as bob
    """
    from runofshow.app import bootstrap
    from runofshow.app.run.event_types import ParkingLot
    from runofshow.app.warroom import commander as use
    with _ledger(state) as ledger:
        plan, _ = bootstrap.load_run(run_id, ledger)
        row = use.note(run_id, text, by=as_, ledger=ledger)
        event = ParkingLot.from_payload(row.payload, seq=row.seq, at=row.at)
        _refresh(ledger, run_id, plan.evidence_dir, ("parking_lot",))
    print(f"{run_id}: parking lot #{event.seq} by {event.by}: {event.text}", flush=True)


def register(app: typer.Typer) -> None:
    app.command("decide")(decide)
    app.command("note")(note)


__all__ = ["register"]
