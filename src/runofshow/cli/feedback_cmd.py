"""`runofshow feedback`: user feedback on a run during its first night (a `user_feedback` event)."""

from typing import Annotated

import typer

from runofshow.cli.warroom_cmd import StateOpt, _ledger


def feedback(
    run_id: Annotated[str, typer.Argument(help="the run")],
    sentiment: Annotated[str, typer.Argument(metavar="SENTIMENT", help="positive, neutral or negative")],
    as_: Annotated[str, typer.Option("--as", help="who gives it (support, product, on-call ...)")],
    note: Annotated[str, typer.Option("--note", help="what users said")] = "",
    state: StateOpt = None,
) -> None:
    """Record user feedback on the run: positive, neutral or negative. The first night's success
    criterion "user feedback neutral/positive" is judged from it: pending while none was given,
    failed on any negative.

    Example: runofshow feedback v1.4.0-20261205T040000Z-1a2b neutral --note "login felt slower" --as carol
    """
    from runofshow.app.warroom import feedback as use

    with _ledger(state) as ledger:
        event = use.give_feedback(run_id, sentiment, note=note, by=as_, ledger=ledger)
        verdict = use.feedback_criterion(ledger.events(run_id))
    p = event.payload
    said = f": {p['note']}" if p["note"] else ""
    print(f"{run_id}: user feedback #{event.seq} {p['sentiment']} by {p['by']}{said}", flush=True)
    mark = "met" if verdict.passed else "pending" if verdict.pending else "NOT MET"
    print(f"{verdict.name}: {mark} ({verdict.detail})", flush=True)


def register(app: typer.Typer) -> None:
    app.command("feedback")(feedback)


__all__ = ["register"]
