"""`runofshow decide` (the incident commander's decision), `runofshow note` (the parking lot) and
`runofshow handover` (the IC names the next).

They work from any terminal while the run goes on in another process (or after it died): they
append to the run's ledger, which the runner polls, and rewrite the war-room log or parking lot in
the evidence folder. The name after `--as` is recorded with `local:<os-user>` as its only proof.
With `--server URL` (token in $RUNOFSHOW_TOKEN) they go through a `runofshow serve` JSON API
instead, and the server records the token's verified identity. Exit codes of decide: 0 accepted
(a rollback: done, weight read back 0 %), 2 refused (not the incident commander, a proceed after an
automatic rollback, a run that has ended; the refusal is recorded; with --server also 401, 403,
404, 422), 1 a rollback that could not be confirmed, or a server that did not answer.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

StateOpt = Annotated[str | None, typer.Option(
    "--state", help="ledger URL; default $RUNOFSHOW_STATE, then runofshow.db beside ./evidence")]
ServerOpt = Annotated[str | None, typer.Option(
    "--server", help="a `runofshow serve` URL: go through its JSON API (token in $RUNOFSHOW_TOKEN)")]
AsOpt = Annotated[str | None, typer.Option("--as", help="who (with --server the token says who)")]
TOKEN_ENV = "RUNOFSHOW_TOKEN"


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, no LOGNAME: still a local, unverified decision
        return "unknown"


def _local(as_: str | None, role: str) -> Any:
    """The local CLI's identity: `--as NAME`, proven only as local:<os-user>."""
    from runofshow.app.warroom.identity import Role, local_identity
    from runofshow.errors import InputError

    if not as_ or not as_.strip():
        raise InputError("--as: say who you are (or use --server URL with $RUNOFSHOW_TOKEN)")
    return local_identity(as_, _os_user(), Role(role))


def _remote(server: str, run_id: str, what: str, body: dict[str, Any], as_: str | None) -> tuple[bool, Any]:
    """POST to the server's JSON API: (accepted, its answer). Errors are one line (exit 2 or 1)."""
    from runofshow.app import bootstrap, settings

    if as_:
        print("--as is not used with --server: the token says who you are", flush=True)
    client = bootstrap.war_room_server(server, settings.environment().get(TOKEN_ENV, ""))
    try:
        accepted, answer = client.post(run_id, what, body)
    finally:
        client.close()
    return accepted, answer


def _who(answer: Any) -> str:
    event = answer.get("event") if isinstance(answer, dict) else None
    payload = event.get("payload", {}) if isinstance(event, dict) else {}
    identity = payload.get("identity") or {}
    by = str(payload.get("by", "?"))
    return f"{by} ({identity.get('proof', '?')})" if identity else by


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
    reason: Annotated[str, typer.Option("--reason", help="why (recorded with the decision)")],
    as_: AsOpt = None,
    state: StateOpt = None,
    server: ServerOpt = None,
) -> None:
    """The incident commander's decision: proceed, hold or rollback. Only the plan's incident
    commanders are accepted; anyone else is refused (exit 2) and the refusal is recorded. A rollback
    acts at once from this process (the runner, busy or not, then closes the run out); a hold or
    proceed is carried out by the runner at its next move. A proceed cannot override an
    automatic rollback.

    Example: runofshow decide v1.4.0-20261205T040000Z-1a2b rollback --as alice --reason "p95 climbing"
             RUNOFSHOW_TOKEN=ros_... runofshow decide RUN hold --reason "..." --server https://warroom

    Exit codes: 0 accepted, 2 refused or bad input (with --server: 401, 403, 404, 422 too), 1 a
    rollback that could not be confirmed or a server that did not answer.
    """
    from runofshow.app import bootstrap, settings
    from runofshow.app.warroom.identity import decide_as
    from runofshow.cli.exit_codes import ExitCode

    if server:
        accepted, answer = _remote(server, run_id, "decisions", {"decision": action, "reason": reason}, as_)
        said = answer.get("message", "")
        print(f"{run_id}: {action.strip().lower()} by {_who(answer)}: {said}", flush=True)
        if not accepted:
            raise typer.Exit(ExitCode.BAD_INPUT)
        if action.strip().lower() == "rollback" and answer.get("weight") not in (0, 0.0, None):
            raise typer.Exit(ExitCode.UNEXPECTED)
        return
    who = _local(as_, "ic")
    env = settings.environment()
    with _ledger(state) as ledger:
        plan, _ = bootstrap.load_run(run_id, ledger)
        fanout = bootstrap.build_notifications(plan, env) if action == "rollback" else None
        remote = plan.traffic_router.kind != "memory"  # an in-memory router lives in the runner
        try:
            result = decide_as(who, run_id, action.strip().lower(), reason, ledger=ledger,
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
    as_: AsOpt = None,
    state: StateOpt = None,
    server: ServerOpt = None,
) -> None:
    """Put theory and opinion into the parking lot (evidence/parking_lot.txt), never the war-room log.

    Example: runofshow note v1.4.0-20261205T040000Z-1a2b "maybe the new pool size" --as bob
    """
    from runofshow.app import bootstrap
    from runofshow.app.run.event_types import ParkingLot
    from runofshow.app.warroom.identity import note_as

    if server:
        _, answer = _remote(server, run_id, "notes", {"text": text}, as_)
        print(f"{run_id}: parking lot #{answer.get('seq')} by {_who({'event': answer})}: "
              f"{answer.get('payload', {}).get('text', '')}", flush=True)
        return
    who = _local(as_, "member")
    with _ledger(state) as ledger:
        plan, _ = bootstrap.load_run(run_id, ledger)
        row = note_as(who, run_id, text, ledger=ledger)
        event = ParkingLot.from_payload(row.payload, seq=row.seq, at=row.at)
        _refresh(ledger, run_id, plan.evidence_dir, ("parking_lot",))
    print(f"{run_id}: parking lot #{event.seq} by {event.by}: {event.text}", flush=True)


def handover(
    run_id: Annotated[str, typer.Argument(help="the run")],
    to: Annotated[str, typer.Option("--to", help="who takes the IC role: an incident commander or member")],
    reason: Annotated[str, typer.Option("--reason", help="why (recorded with the handover)")] = "",
    as_: AsOpt = None,
    state: StateOpt = None,
    server: ServerOpt = None,
) -> None:
    """The incident commander hands the role over: from then on only the one named decides (and
    may hand over again). Recorded in the ledger and the war-room log; anyone but the current IC is
    refused (exit 2, recorded).

    Example: runofshow handover v1.4.0-20261205T040000Z-1a2b --to bob --as alice --reason "end of shift"
    """
    from runofshow.app import bootstrap
    from runofshow.app.warroom.identity import handover_as
    from runofshow.cli.exit_codes import ExitCode

    if server:
        accepted, answer = _remote(server, run_id, "handover", {"to": to, "reason": reason}, as_)
        print(f"{run_id}: handover by {_who(answer)}: {answer.get('message', '')}", flush=True)
        if not accepted:
            raise typer.Exit(ExitCode.BAD_INPUT)
        return
    who = _local(as_, "ic")
    with _ledger(state) as ledger:
        plan, _ = bootstrap.load_run(run_id, ledger)
        result = handover_as(who, run_id, to, reason, ledger=ledger)
        _refresh(ledger, run_id, plan.evidence_dir, ("war_room",))
    print(f"{run_id}: handover by {result.by}: {result.message}", flush=True)
    if not result.accepted:
        raise typer.Exit(ExitCode.BAD_INPUT)


def register(app: typer.Typer) -> None:
    app.command("decide")(decide)
    app.command("note")(note)
    app.command("handover")(handover)


__all__ = ["register"]
