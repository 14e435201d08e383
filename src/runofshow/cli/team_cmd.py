"""`runofshow submit` and `runofshow worker`: team mode, several workers on one PostgreSQL.

`submit` validates a plan and records it as a queued run (exit 0, its id on stdout; 2 on a bad
plan or a database that is not PostgreSQL or cannot be reached). `worker` claims queued and
orphaned runs and drives them (`runofshow.app.team.worker`) until SIGTERM or Ctrl-C, which pause
its runs and hand them back to the queue.
"""

import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runofshow.cli.run_cmd import AsOpt, OverrideOpt, SpeedOpt, StateOpt

if TYPE_CHECKING:
    from runofshow.app.run.state import RunState
    from runofshow.ports import LedgerEvent


def _close(ledger: Any) -> None:
    close = getattr(ledger, "close", None)
    if callable(close):
        close()


def submit(
    plan_path: Annotated[Path, typer.Argument(metavar="PLAN", help="plan file")],
    state: StateOpt = None,
    speed: SpeedOpt = None,
    repo: Annotated[str | None, typer.Option("--repo", help="as for run")] = None,
    no_window_check: Annotated[bool, typer.Option("--no-window-check", help="as for run")] = False,
    override_preflight: OverrideOpt = None,
    as_: AsOpt = None,
) -> int:
    """Validate a plan and queue it as a new run for the workers (team mode, PostgreSQL); print its id.

    Example: runofshow submit plan.yaml --state postgresql://runofshow@db/runofshow --speed 60

    Exit codes: 0 queued, 2 bad plan or database, 1 unexpected error.
    """
    from runofshow.app.bootstrap import open_team, resolve_state_url
    from runofshow.app.plan_file import load_plan
    from runofshow.app.team.submit import Submission
    from runofshow.app.team.submit import submit as queue
    from runofshow.cli.run_cmd import _options

    plan = load_plan(plan_path)
    opts = _options(state, speed, None, repo, not no_window_check, override_preflight, as_)
    ledger, leases = open_team(resolve_state_url(state, plan))
    try:
        run_id = queue(plan, leases, Submission(speed=speed, check_windows=opts.check_windows, repo=repo,
                                                override=opts.preflight_override))
    finally:
        _close(ledger)
    print(run_id, flush=True)
    return 0


def worker(
    state: StateOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="this worker's name (default HOST-PID)")] = None,
    max_runs: Annotated[int, typer.Option("--max-runs", min=1, help="runs driven at once")] = 50,
    lease_ttl: Annotated[float, typer.Option(
        "--lease-ttl", min=1.0, help="seconds a lease lasts unrenewed; another worker takes a dead "
        "worker's runs over after it")] = 15.0,
    max_total: Annotated[int | None, typer.Option(
        "--max-total", min=1, help="global cap: runs driven at once by all workers on the database")] = None,
    max_per_service: Annotated[int | None, typer.Option(
        "--max-per-service", min=1, help="per-service cap: canaries of one release name at once (the "
        "next waits in the queue, `waiting` in status)")] = None,
    call_timeout: Annotated[float, typer.Option(
        "--call-timeout", min=0.1, help="seconds one router or metrics call may take")] = 10.0,
    heartbeat_file: Annotated[Path | None, typer.Option(
        "--heartbeat-file", help="touched at every turn of the claim loop (a liveness probe checks its "
        "age: `runofshow worker-alive FILE`)")] = None,
    evidence_root: Annotated[Path | None, typer.Option(
        "--evidence-root", metavar="DIR", help="each run's evidence folder is DIR/RUN_ID (default: the "
        "plan's evidence_dir/RUN_ID), written as the run goes, with the whole bundle at its end "
        "(rebuild it anywhere: runofshow evidence build RUN_ID --state URL)")] = None,
) -> int:
    """Claim queued and orphaned runs and drive them (team mode: several workers on one PostgreSQL).

    Each run is held under a lease renewed every TTL/3; a worker that dies (or stalls past the
    TTL) has its runs taken over by another, and the database refuses its writes from then on.
    SIGTERM or Ctrl-C pause this worker's runs and hand them back to the queue.

    Every traffic change first checks the lease in the database; router and metrics calls are
    abandoned after --call-timeout. The caps count every worker's runs (a takeover is no new run);
    a plan's own caps (`team: {max_canaries_per_service, max_canaries_total}`) hold too, the
    stricter of each pair winning.

    Each run's evidence goes to --evidence-root/RUN_ID as it goes (as `run` writes its folder), and
    its bundle is built there when the run ends; a pod's disk is not kept, but the bundle can be
    rebuilt from the ledger at any time with `runofshow evidence build RUN_ID --state URL`.

    Example: runofshow worker --state postgresql://runofshow@db/runofshow --name w1 --max-per-service 1

    Exit codes: 0 stopped, 2 not PostgreSQL or the database cannot be reached, 1 unexpected error.
    """
    from runofshow.app.bootstrap import open_team, resolve_state_url
    from runofshow.app.team.worker import Worker, WorkerSettings
    from runofshow.cli.views import war_room_line
    from runofshow.cli.worker_evidence import EvidenceWriter, RunEvidence
    from runofshow.ports import Caps

    url = resolve_state_url(state)
    ledger, leases = open_team(url)
    me = name or f"{socket.gethostname()}-{os.getpid()}"

    def say(line: str) -> None:
        print(line, flush=True)

    def lines(event: "LedgerEvent", run_state: "RunState") -> None:
        line = war_room_line(event)
        if line is not None:
            say(f"[{event.run_id}] {line}")

    writer = EvidenceWriter()

    def watch(run_id: str, folder: Path) -> RunEvidence:
        return RunEvidence(run_id, folder, ledger, lines, say, writer)

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    old_term = signal.signal(signal.SIGTERM, on_signal)
    old_int = signal.signal(signal.SIGINT, on_signal)
    try:
        settings = WorkerSettings(name=me, state_url=url, max_runs=max_runs, lease_ttl_s=lease_ttl,
                                  caps=Caps(max_total, max_per_service), call_timeout_s=call_timeout,
                                  evidence_root=None if evidence_root is None else str(evidence_root))
        beat = None if heartbeat_file is None else heartbeat_file.touch
        Worker(settings, ledger, leases, say=say, watch=watch, beat=beat).serve(stop)
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)
        _close(ledger)
    sys.stdout.flush()
    return 0


def worker_alive(
    heartbeat_file: Annotated[Path, typer.Argument(metavar="FILE", help="the worker's --heartbeat-file")],
    max_age: Annotated[float, typer.Option("--max-age", min=1.0, help="seconds")] = 30.0,
) -> int:
    """Exit 0 when the worker's heartbeat file was touched in the last --max-age seconds, else 1
    (the container's health check and the liveness probe).

    Example: runofshow worker-alive /tmp/runofshow-worker.alive --max-age 30
    """
    import time

    try:
        age = time.time() - heartbeat_file.stat().st_mtime
    except OSError as err:
        print(f"worker not alive: {err.strerror}: {heartbeat_file}", file=sys.stderr)
        return 1
    if age > max_age:
        print(f"worker not alive: {heartbeat_file} is {age:.0f} s old (over {max_age:g} s)", file=sys.stderr)
        return 1
    return 0


def register(app: typer.Typer) -> None:
    app.command("submit")(submit)
    app.command("worker")(worker)
    app.command("worker-alive")(worker_alive)


__all__ = ["register"]
