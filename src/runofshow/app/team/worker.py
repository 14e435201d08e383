"""`runofshow worker`: claims queued and orphaned runs and drives each with the existing runner.

    worker = Worker(settings, ledger, leases)
    worker.serve(stop)          # until `stop` is set: claim, drive in threads, renew, release

Each claimed run gets its own thread, world and clock. A never-started run is started
(`bootstrap.start_run`, `submitted=True`); a run another worker drove before is taken over: a
`takeover` event (old owner, new owner, epoch), then `bootstrap.resume_run` reads the router and
alerts back and records `resumed`, and a war-room line says who took it over. Every write goes
through the lease's fenced ledger, so a worker that lost its lease (stalled past the TTL) is
refused by the database at its next append -- before any traffic change, which is always
preceded by an intent -- and stops driving that run with `lease_lost` in its log. The lease is
renewed every TTL/3; a renewal that finds a newer epoch stops the run at once.

On `stop` (SIGTERM) every run is paused at its next safe point and its lease handed back to the
queue, so another worker takes it over without waiting for the TTL.

Evidence: each run's plan `evidence_dir` becomes `<evidence_root>/<run id>` (default root: the
submitted plan's own evidence_dir), so the step handlers' files of two runs never mix and a
takeover on the same disk continues the same folder; the caller's `watch(run_id, folder)` gives
the run its `on_event` hook (the CLI: its lines and the live evidence files) and `ended(runner)`,
called when the run has ended, before the lease is released (the CLI: the whole bundle). This
module writes no file itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from runofshow.app import bootstrap
from runofshow.app.run.clock import resumed_clock
from runofshow.app.run.events import EventKind
from runofshow.app.run.recorder import error_text
from runofshow.app.run.runner import Runner
from runofshow.app.run.world import World
from runofshow.app.team.guard import CALL_TIMEOUT_S, guard_ports
from runofshow.app.team.submit import run_options, submitted_plan
from runofshow.errors import LeaseLostError, LedgerError
from runofshow.ports import Caps, Lease, Leases, Ledger, LedgerEvent, RunRecord

if TYPE_CHECKING:
    from runofshow.app.run.state import RunState
    from runofshow.domain.plan import Plan

log = logging.getLogger(__name__)

#: a run's own look at the ledger: none (0). The worker's watcher looks for every run in one query
#: every `ledger_poll_s` and wakes the runs concerned; a run's own look at each move and after each
#: wait was two or three queries a tick per run (half of a worker's CPU at a thousand runs)
RUN_POLL_S = 0.0

#: what the worker says, one line at a time (the CLI prints it)
Say = Callable[[str], None]


class RunWatch(Protocol):
    """What the caller adds around one run this worker drives (the CLI: lines and evidence)."""

    def on_event(self, event: LedgerEvent, state: RunState) -> None:
        """Every event of the run, as the runner's `on_event` hook."""

    def ended(self, runner: Runner) -> None:
        """The run has ended (promoted, rolled back, halted); its lease is still held."""


#: a run's id and evidence folder -> what watches it
WatchRun = Callable[[str, Path], RunWatch]


@dataclass(frozen=True)
class WorkerSettings:
    name: str
    state_url: str
    max_runs: int = 50
    lease_ttl_s: float = 15.0
    poll_s: float = 0.5  # seconds between looks for a free run when there was none
    caps: Caps = Caps()  # runs at once over every worker: in all, per service
    call_timeout_s: float = CALL_TIMEOUT_S  # one router or metrics call, at most
    #: a traffic change needs the lease to hold this much longer (default: a third of the TTL)
    fence_margin_s: float | None = None
    #: wall seconds between the worker's looks at the ledger for other processes' events (an
    #: IC's `decide`, a note) in any of its runs: one query for all of them, which wakes the runs
    #: concerned (a run on its own looks every 0.25 s; a thousand would read 4,000 times a second)
    ledger_poll_s: float = 0.5
    #: each run's evidence folder is `<evidence_root>/<run id>` (None: the submitted plan's evidence_dir)
    evidence_root: str | None = None

    @property
    def margin_s(self) -> float:
        return self.lease_ttl_s / 3 if self.fence_margin_s is None else self.fence_margin_s


@dataclass(frozen=True)
class _Held:
    """A lease this worker holds, and what became of its run."""

    lease: Lease
    lost: threading.Event
    done: threading.Event


class Worker:
    """Drives up to `max_runs` runs at once, each under its own lease."""

    def __init__(self, settings: WorkerSettings, ledger: Ledger, leases: Leases, *, say: Say = print,
                 environ: Mapping[str, str] | None = None, beat: Callable[[], None] | None = None,
                 watch: WatchRun | None = None, **overrides: Any) -> None:
        self.settings, self.ledger, self.leases, self.say = settings, ledger, leases, say
        self.watch = watch  # per run: its on_event hook and what to do when it ends (evidence)
        self.beat = beat  # called at every turn of the claim loop (the CLI's liveness file)
        self.environ, self.overrides = environ, overrides
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._driving = 0  # runs whose thread has not finished (counted, not scanned, at every turn)
        self._runners: dict[str, tuple[int, Runner]] = {}  # run id -> (the lease's epoch, its runner)
        self._stopping = threading.Event()
        self._closed = threading.Event()
        self._held: dict[tuple[str, int], _Held] = {}  # (run id, epoch) -> the lease held

    # ------------------------------------------------------------------ the loop

    def active(self) -> list[str]:
        with self._lock:
            return [rid for rid, t in self._threads.items() if t.is_alive()]

    def serve(self, stop: threading.Event) -> None:
        """Claim and drive until `stop` is set; then pause every run and hand its lease back."""
        s = self.settings
        caps = "".join(f", {what} cap {n}" for what, n in (("global", s.caps.total),
                                                           ("per-service", s.caps.per_service)) if n)
        self.say(f"worker {s.name}: serving (max {s.max_runs} runs{caps}, lease TTL {s.lease_ttl_s:g} s)")
        watcher = threading.Thread(target=self._watch, args=(stop,), daemon=True, name="ledger-watcher")
        watcher.start()
        renewer = threading.Thread(target=self._renew_all, daemon=True, name="lease-renewer")
        renewer.start()
        while not stop.is_set():
            if self.beat is not None:
                self.beat()
            with self._lock:
                full = self._driving >= s.max_runs
            if full:
                stop.wait(s.poll_s)
                continue
            try:
                lease = self.leases.claim(s.name, s.lease_ttl_s, caps=s.caps)
            except LedgerError as err:  # the database is away: try again
                self.say(f"worker {s.name}: cannot claim: {err}")
                stop.wait(s.poll_s * 4)
                continue
            if lease is None:
                stop.wait(s.poll_s)
                continue
            thread = threading.Thread(target=self._drive_counted, args=(lease,), name=f"run-{lease.run_id}",
                                      daemon=True)
            with self._lock:
                self._threads[lease.run_id] = thread
                self._driving += 1
            thread.start()
        self.shutdown()

    def _watch(self, stop: threading.Event) -> None:
        """Every `ledger_poll_s`: the last event of each run driven here, in one query; a run whose
        ledger grew past what it knows (another process wrote) is woken to take it in."""
        while not stop.wait(self.settings.ledger_poll_s):
            with self._lock:
                runners = {rid: runner for rid, (_, runner) in self._runners.items()}
            try:
                grown = self.leases.grown({rid: runner.state.last_seq for rid, runner in runners.items()})
            except Exception as err:  # the database is away (or worse): the watcher must not die
                log.warning("looking for other processes' events failed: %s", err)
                continue
            for rid in grown:
                runners[rid].ledger_changed()

    def shutdown(self, timeout_s: float = 30.0) -> None:
        self._stopping.set()
        with self._lock:
            runners, threads = [r for _, r in self._runners.values()], list(self._threads.values())
        for runner in runners:
            runner.interrupt()  # pause at the next safe point; the lease goes back to the queue
        for thread in threads:
            thread.join(timeout_s)
        self._closed.set()
        self.say(f"worker {self.settings.name}: stopped")

    # ------------------------------------------------------------------ one run

    def _drive_counted(self, lease: Lease) -> None:
        try:
            self.drive(lease)
        finally:
            with self._lock:
                self._driving -= 1
                if self._threads.get(lease.run_id) is threading.current_thread():
                    del self._threads[lease.run_id]  # ended: no longer looked at

    def drive(self, lease: Lease) -> None:
        """Start or take over one claimed run and drive it while the lease holds."""
        rid, name = lease.run_id, self.settings.name
        lost = threading.Event()
        done = threading.Event()
        self.say(f"worker {name}: claimed {rid} (epoch {lease.epoch}"
                 + (f", from {lease.previous_owner})" if lease.previous_owner else ")"))
        with self._lock:
            self._held[(rid, lease.epoch)] = _Held(lease, lost, done)
        finished = False
        try:
            world, runner, watch = self._open(lease)
            with world:
                with self._lock:
                    self._runners[rid] = (lease.epoch, runner)
                if lost.is_set():
                    raise LeaseLostError(f"run {rid}: lease_lost before it was driven")
                if self._stopping.is_set():
                    runner.interrupt()
                status = runner.run()
                finished = runner.state.ended
                self.say(f"worker {name}: {rid}: {status.value}"
                         + (f": {runner.state.end_reason}" if runner.state.end_reason else ""))
                if finished and watch is not None:
                    self._ended(watch, runner)
        except LeaseLostError as err:
            self.say(f"worker {name}: {rid}: lease_lost (epoch {lease.epoch}): {err}; stopped driving it")
            return
        except LedgerError as err:  # the database went away: the run goes back to the queue
            self.say(f"worker {name}: {rid}: ledger failed: {error_text(err)}; handing it back")
        except Exception as err:  # the run is paused (the runner recorded it): a person resumes it
            self.say(f"worker {name}: {rid}: stopped by an error: {error_text(err)}; "
                     f"runofshow resume {rid} to continue")
            finished = True
        finally:
            done.set()
            with self._lock:  # this lease's runner only: this worker may have claimed the run again
                if self._runners.get(rid, (None, None))[0] == lease.epoch:
                    del self._runners[rid]
                self._held.pop((rid, lease.epoch), None)
        if lost.is_set():
            self.say(f"worker {name}: {rid}: lease_lost (epoch {lease.epoch}); stopped driving it")
            return
        try:
            self.leases.release(lease, done=finished)
        except LedgerError as err:  # it expires by itself and another worker takes it
            self.say(f"worker {name}: {rid}: could not release the lease: {err}")

    def _ended(self, watch: RunWatch, runner: Runner) -> None:
        try:
            watch.ended(runner)
        except Exception as err:  # the run's outcome stands; its evidence can be rebuilt from the ledger
            self.say(f"worker {self.settings.name}: {runner.state.run_id}: closing out failed: "
                     f"{error_text(err)}")

    def _hooks(self, record: RunRecord, kwargs: dict[str, Any]
               ) -> tuple[RunWatch | None, Callable[[Plan], Plan]]:
        """The run's watch, set as its `on_event` (after any given one), and the plan's change that
        puts its evidence in the run's folder."""
        rid = record.run_id
        root = self.settings.evidence_root or str(record.plan.get("evidence_dir") or "evidence")
        folder = Path(root) / rid
        watch = None if self.watch is None else self.watch(rid, folder)
        if watch is not None:
            first = kwargs.get("on_event")
            if first is None:
                kwargs["on_event"] = watch.on_event
            else:
                def both(event: LedgerEvent, state: RunState) -> None:
                    first(event, state)
                    watch.on_event(event, state)
                kwargs["on_event"] = both

        def in_folder(plan: Plan) -> Plan:
            return plan.model_copy(update={"evidence_dir": str(folder)})

        return watch, in_folder

    def _open(self, lease: Lease) -> tuple[World, Runner, RunWatch | None]:
        rid, s = lease.run_id, self.settings
        fenced = self.leases.fenced(lease)
        # a run looks at the ledger when the worker's watcher wakes it (and at its own appends)
        options = replace(run_options(lease.options, s.state_url), ledger_poll_s=RUN_POLL_S)
        def fence() -> None:  # before every traffic change: this worker still holds the run
            self.leases.check(lease, s.margin_s)

        kwargs: dict[str, Any] = {"environ": self.environ, "ledger": fenced,
                                  "wrap_ports": guard_ports(fence, s.call_timeout_s), **self.overrides}
        record = fenced.run(rid)
        watch, in_folder = self._hooks(record, kwargs)
        if not fenced.events(rid):  # submitted, never started
            plan = in_folder(submitted_plan(record, lease.options))
            return (*bootstrap.start_run(plan, options, run_id=rid, submitted=True, **kwargs), watch)
        old = lease.previous_owner or "?"
        if lease.previous_owner is not None:
            state = bootstrap.load_run(rid, fenced)[1]
            if not state.ended:
                clock = resumed_clock(state.clock, options.speed)  # where the run's plan time is now
                now = clock.now()
                fenced.append(rid, EventKind.TAKEOVER.value, {
                    "old_owner": old, "new_owner": s.name, "epoch": lease.epoch,
                    "t_s": (now - state.t0_at).total_seconds(),
                }, clock.to_wall(now))
        world, runner = bootstrap.resume_run(rid, options, plan_override=in_folder, **kwargs)
        if lease.previous_owner is not None and not runner.state.ended:
            runner.recorder.war_room(f"Taken over by worker {s.name} from {old} (epoch {lease.epoch})",
                                     metrics=f"lease TTL {s.lease_ttl_s:g} s")
        return world, runner, watch

    def _renew_all(self) -> None:
        """Every TTL/3, one statement renews every lease this worker holds (a thousand runs are
        one query, not a thousand); a lease not renewed was taken over: its run stops at once."""
        ttl = self.settings.lease_ttl_s
        while not self._closed.wait(ttl / 3):
            with self._lock:
                live = [h for h in self._held.values() if not h.done.is_set() and not h.lost.is_set()]
            if not live:
                continue
            try:
                renewed = self.leases.renew_many([h.lease for h in live], ttl)
            except LedgerError as err:  # the database is away: the leases may still hold; try again
                log.warning("renewing %d lease(s) failed: %s", len(live), err)
                continue
            for held in live:
                if (held.lease.run_id, held.lease.epoch) not in renewed and not held.done.is_set():
                    self._lose(held)

    def _lose(self, held: _Held) -> None:
        lease = held.lease
        held.lost.set()
        self.say(f"worker {self.settings.name}: {lease.run_id}: lease_lost at renewal: epoch {lease.epoch} "
                 "is no longer the run's lease")
        with self._lock:
            epoch, runner = self._runners.get(lease.run_id, (None, None))
        if runner is not None and epoch == lease.epoch:  # its next append is refused anyway
            runner.request_stop("lease_lost: another worker took this run over")


__all__ = ["RunWatch", "WatchRun", "Worker", "WorkerSettings"]
