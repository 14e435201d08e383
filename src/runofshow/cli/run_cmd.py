"""`runofshow run`, `resume`, `runs`, `status` and `events`: the run as a persistent state machine.

`run` and `resume` print every war-room line as it is recorded, keep the evidence folder current
while the run goes (`runofshow.reports.evidence_live`), and at the end build the whole bundle,
the report, the mini RCA and the one-liner, and print the success checklist
(`runofshow.cli.closeout`).

Exit codes of run and resume: 0 promoted, 3 rolled back, 4 halted or paused (held past its limit,
window closed, stopped by the incident commander, or left paused by Ctrl-C), 2 bad input,
1 unexpected error.
"""

import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from runofshow.app.bootstrap import RunOptions
    from runofshow.app.run.runner import Runner
    from runofshow.app.run.state import RunState
    from runofshow.ports import LedgerEvent

StateOpt = Annotated[str | None, typer.Option(
    "--state", help="ledger URL (sqlite:///path or postgresql+psycopg://...); default: plan.state, "
    "$RUNOFSHOW_STATE, or runofshow.db beside the evidence folder")]
SpeedOpt = Annotated[float | None, typer.Option(
    "--speed", min=0.001, help="compress every duration of the plan N times (demos, tests)")]
ListenOpt = Annotated[str | None, typer.Option(
    "--listen", help="receive Alertmanager webhooks on HOST:PORT (loopback), bearer token from "
    "$RUNOFSHOW_WEBHOOK_TOKEN")]
OverrideOpt = Annotated[str | None, typer.Option(
    "--override-preflight", metavar="REASON", help="open T0 even if the T-10 checks (preflight, blast "
    "radius) fail; incident commanders only (--as), the reason is recorded")]
AsOpt = Annotated[str | None, typer.Option(
    "--as", help="who overrides: one of the plan's war_room.incident_commanders")]


# --------------------------------------------------------------------------- driving a runner


def ask_on_interrupt(state: "RunState") -> str:
    """Ctrl-C: ask whether to leave traffic where it is (pause) or roll back now."""
    if not sys.stdin.isatty():
        return "pause"
    weight = "unknown" if state.weight is None else f"{state.weight:g}%"
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        answer = typer.prompt(
            f"\nInterrupted at weight {weight}. [p]ause (leave traffic, resumable) or [r]oll back now?",
            default="p",
        )
    except (KeyboardInterrupt, EOFError, typer.Abort):
        answer = "p"
    finally:
        signal.signal(signal.SIGINT, previous)
    return "rollback" if answer.strip().lower().startswith("r") else "pause"


@contextmanager
def interrupts_to(runner: "Runner") -> Iterator[None]:
    """Ctrl-C and SIGTERM ask the runner to stop at its next safe point (never mid-action)."""
    terminated = {"term": False}

    def on_sigint(signum: int, frame: Any) -> None:
        runner.interrupt()

    def on_sigterm(signum: int, frame: Any) -> None:
        terminated["term"] = True
        runner.interrupt()

    asker = runner.ports.on_interrupt

    def choose(state: "RunState") -> str:
        if terminated["term"] or asker is None:
            return "pause"
        return asker(state)

    runner.ports.on_interrupt = choose
    old_int = signal.signal(signal.SIGINT, on_sigint)
    old_term = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


def print_lines(event: "LedgerEvent", state: "RunState") -> None:
    from runofshow.cli.views import war_room_line

    line = war_room_line(event)
    if line is not None:
        print(line, flush=True)


def drive(runner: "Runner") -> int:
    """Run to the end (or a pause) with Ctrl-C handled, then close it out; the exit code."""
    from runofshow.cli.closeout import finish
    from runofshow.cli.exit_codes import ExitCode

    with interrupts_to(runner):
        code = ExitCode.of(runner.run())
    s = runner.state
    print(f"run {s.run_id}: {s.status.value} (exit {code})" + (f": {s.end_reason}" if s.end_reason else ""),
          flush=True)
    finish(runner)
    return int(code)


def _options(state: str | None, speed: float | None, listen: str | None, repo: str | None = None,
             windows: bool = True, override: str | None = None, by: str | None = None,
             no_freeze: bool = False) -> "RunOptions":
    from runofshow.app.bootstrap import RunOptions
    from runofshow.app.steps.preflight import Override
    from runofshow.errors import InputError

    if by is not None and override is None:
        raise InputError("--as: only with --override-preflight (decisions: runofshow decide)")
    if override is not None and not override.strip():
        raise InputError("--override-preflight: say why (the reason is recorded)")
    ov = None if override is None else Override(by or "", " ".join(override.split()))
    if no_freeze and repo:
        raise InputError("--no-freeze with --repo: the freeze is what --repo is for; pick one")
    return RunOptions(state_url=state, speed=speed, listen=listen, repo=repo, check_windows=windows,
                      preflight_override=ov, no_freeze=no_freeze)


# --------------------------------------------------------------------------- commands


NoFreezeOpt = Annotated[bool, typer.Option(
    "--no-freeze", help="skip the T-30 freeze and its close-out (a drill, code not on GitHub); "
    "recorded as skipped, as with freeze: {enabled: false} in the plan")]


def run(
    plan_path: Annotated[Path, typer.Argument(metavar="PLAN", help="plan file")],
    state: StateOpt = None,
    speed: SpeedOpt = None,
    listen: ListenOpt = None,
    repo: Annotated[str | None, typer.Option(
        "--repo", help="OWNER/NAME: label its open PRs at T-30 (freeze) and release them at close-out; "
        "token from $GITHUB_TOKEN")] = None,
    no_window_check: Annotated[bool, typer.Option(
        "--no-window-check", help="start stages whatever the market window says (drills, demos)")] = False,
    override_preflight: OverrideOpt = None,
    as_: AsOpt = None,
    no_freeze: NoFreezeOpt = False,
) -> int:
    """Walk the plan's timeline T-30 .. T+24h, recording every step and decision in the ledger.

    Writes evidence/warroom_log.txt and the other evidence files as it goes and the whole bundle at
    the end. T0 does not open unless the preflight is 9/9 and the blast-radius probe passes, or an
    incident commander overrides (--override-preflight REASON --as NAME). Ctrl-C asks whether to
    leave traffic where it is (paused, resumable) or roll back now.

    Example: runofshow run plan.yaml --speed 60 --listen 127.0.0.1:9095

    Exit codes: 0 promoted, 3 rolled back, 4 halted or paused, 2 bad input, 1 unexpected error.
    """
    from runofshow.app.bootstrap import start_run
    from runofshow.app.plan_file import load_plan
    from runofshow.cli.closeout import both
    from runofshow.reports.evidence_live import LiveEvidence

    plan = load_plan(plan_path)
    live = LiveEvidence(plan.evidence_dir)
    options = _options(state, speed, listen, repo, not no_window_check, override_preflight, as_, no_freeze)
    world, runner = start_run(plan, options, on_event=both(print_lines, live.on_event),
                              on_interrupt=ask_on_interrupt)
    live.attach(world.ports.ledger)
    with world:
        rid = runner.state.run_id
        where = f" --state {runner.state.started.get('state')}" if state else ""  # password hidden
        print(f"run {rid} started; resume with: runofshow resume {rid}{where}", flush=True)
        return drive(runner)


def resume(
    run_id: Annotated[str, typer.Argument(help="the run to continue")],
    state: StateOpt = None,
    speed: SpeedOpt = None,
    listen: ListenOpt = None,
    repo: Annotated[str | None, typer.Option("--repo", help="as for run")] = None,
    no_window_check: Annotated[bool, typer.Option("--no-window-check", help="as for run")] = False,
    override_preflight: OverrideOpt = None,
    as_: AsOpt = None,
) -> int:
    """Continue a run from its last committed event: read the weight and alerts back, never repeat
    or skip a stage.

    Example: runofshow resume v1.4.0-20261205T040000Z-1a2b

    Exit codes: 0 promoted, 3 rolled back, 4 halted or paused, 2 bad input, 1 unexpected error.
    """
    from runofshow.app.bootstrap import resume_run
    from runofshow.cli.closeout import both
    from runofshow.reports.evidence_live import LiveEvidence

    live = LiveEvidence()  # the run's own evidence folder, from its ledger
    options = _options(state, speed, listen, repo, not no_window_check, override_preflight, as_)
    world, runner = resume_run(run_id, options, on_event=both(print_lines, live.on_event),
                               on_interrupt=ask_on_interrupt)
    live.attach(world.ports.ledger)
    with world:
        return drive(runner)


@contextmanager
def _ledger(state: str | None) -> Iterator[Any]:
    from runofshow.app.bootstrap import open_ledger, resolve_state_url

    ledger = open_ledger(resolve_state_url(state))
    try:
        yield ledger
    finally:
        close: Callable[[], None] | None = getattr(ledger, "close", None)
        if close is not None:
            close()


def runs(
    state: StateOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="a JSON array")] = False,
) -> None:
    """List runs: id, release, status, stage, weight, started_at.

    Example: runofshow runs --json
    """
    from runofshow.app.bootstrap import open_leases
    from runofshow.cli.views import run_row

    with _ledger(state) as ledger:
        leases = open_leases(ledger)
        held = {x.run_id: x for x in leases.all()} if leases is not None else {}
        rows = [run_row(r, held.get(r.run_id)) for r in ledger.runs()]
    if json_out:
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    team = ("owner", "epoch", "lease_expires_at", "waiting") if held else ()  # team mode's columns
    table = Table("run", "release", "status", "stage", "weight", "started_at", *team)
    for r in rows:
        table.add_row(r["run_id"], f"{r['release']} {r['version']}", r["status"],
                      "-" if r["stage"] is None else str(r["stage"]),
                      "-" if r["weight"] is None else f"{r['weight']:g}%", r["started_at"],
                      *("-" if r[k] is None else str(r[k]) for k in team))
    Console().print(table)


def status(
    run_id: Annotated[str, typer.Argument(help="the run")],
    state: StateOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Show one run: status, stage, weight, phase, last decision, whether its chain verifies.

    Example: runofshow status v1.4.0-20261205T040000Z-1a2b --json
    """
    from runofshow.app.bootstrap import load_run, open_leases
    from runofshow.cli.views import run_row, status_view

    with _ledger(state) as ledger:
        leases = open_leases(ledger)
        lease = leases.current(run_id) if leases is not None else None
        if lease is not None and lease.status == "queued" and lease.epoch == 0:
            view = run_row(ledger.run(run_id), lease)  # submitted, no worker has claimed it yet
        else:
            _, folded = load_run(run_id, ledger)
            record = ledger.run(run_id)
            verify = getattr(ledger, "verify_chain", None)
            problems = verify(run_id) if callable(verify) else None
            view = status_view(record, folded, problems, lease)
    if json_out:
        print(json.dumps(view, indent=2))
        return
    for key, value in view.items():
        if key == "last_decision" and isinstance(value, dict):
            print(f"{'last decision':>17}: {value['action']} at {value['label'] or value['t_s']}")
            print(f"{'why':>17}: {value['why'] or '-'}")
            continue
        print(f"{key:>17}: {value}")


def events(
    run_id: Annotated[str, typer.Argument(help="the run")],
    state: StateOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object per event, in order")] = False,
) -> None:
    """Print a run's ledger events in order.

    Example: runofshow events v1.4.0-20261205T040000Z-1a2b --json
    """
    from runofshow.app.bootstrap import load_run
    from runofshow.cli.views import event_json, event_summary

    with _ledger(state) as ledger:
        load_run(run_id, ledger)  # an unknown run is bad input
        evs = ledger.events(run_id)
    for ev in evs:
        print(event_json(ev) if json_out else
              f"{ev.seq:>5} {ev.at.isoformat(timespec='seconds')} {ev.kind:<16} {event_summary(ev)}")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("resume")(resume)
    app.command("runs")(runs)
    app.command("status")(status)
    app.command("events")(events)


__all__ = ["ask_on_interrupt", "drive", "interrupts_to", "print_lines", "register"]
