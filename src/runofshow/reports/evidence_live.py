"""Evidence written while the run goes: the runner's `on_event` hook keeps the evidence folder
current, file by file, with the very renderers `build_bundle` uses at the end.

    live = LiveEvidence()                       # the folder: the run's plan.evidence_dir
    start_run(plan, options, on_event=live.on_event) ... ; live.attach(world.ports.ledger)

    war_room                      -> warroom_log.txt  (`tail -f evidence/warroom_log.txt`)
    parking_lot                   -> parking_lot.txt
    run_started                   -> plan.json
    stage started / completed, hold, rollback, run_ended -> canary_timeline.txt
    stage completed               -> summary_stage_N.txt, stage_N_metrics.json / .csv
    first-night check-in          -> checkin_NN.txt
    (preflight.txt, micro_blast_*.log and the freeze files are written by their step handlers)

Every file is written atomically (`runofshow.files`). Events appended by another process
(`runofshow decide`, `runofshow note`) reach the hook through the runner, which takes them in;
when the hook sees a gap in the sequence (it was attached after the first events, or an event came
from elsewhere) it reads the run's events from the ledger once. A failing write never stops the
run: it is kept in `errors`, and the bundle at the end rewrites every file anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runofshow.app.run import event_types as et
from runofshow.files import atomic_write_text
from runofshow.ports import Ledger, LedgerEvent
from runofshow.reports import evidence_render as render
from runofshow.reports.evidence_steps import checkins, plan_json

_TIMELINE_STEPS = ("stage", "promoted", "first_night")


def _targets(e: et.Event) -> set[str]:
    out: set[str] = set()
    match e:
        case et.WarRoom():
            out.add("war_room")
        case et.ParkingLot():
            out.add("parking_lot")
        case et.RunStarted():
            out |= {"plan", "timeline"}
        case et.HoldStarted() | et.RollbackStarted() | et.RunEnded():
            out.add("timeline")
        case et.StepEvent(step_kind=step_kind) if step_kind in _TIMELINE_STEPS:
            out.add("timeline")
            if isinstance(e, et.StepCompleted) and step_kind == "stage" and e.stage is not None:
                out.add(f"stage:{e.stage}")
            if isinstance(e, et.StepCompleted) and step_kind == "first_night":
                out.add("checkins")
        case et.DecisionMade(phase="first_night", trigger="checkin"):
            out.add("checkins")
    return out


def render_live(events: Iterable[LedgerEvent | et.Event], targets: Iterable[str], *,
                run_id: str = "") -> dict[str, str]:
    """{file name: text} for the `targets` (war_room, parking_lot, plan, timeline, stage:N, checkins)."""
    v = render.RunView.of(events, run_id=run_id)
    files: dict[str, str] = {}
    for target in sorted(set(targets)):
        if target == "war_room":
            files[render.WAR_ROOM_FILE] = render.war_room_log(v)
        elif target == "parking_lot":
            files[render.PARKING_LOT_FILE] = render.parking_lot(v)
        elif target == "plan":
            files["plan.json"] = plan_json(v)
        elif target == "timeline":
            files["canary_timeline.txt"] = render.canary_timeline(v)
        elif target == "checkins":  # the newest check-in: the earlier ones were written at theirs
            written = checkins(v)
            if written:
                last = max(written)
                files[last] = written[last]
        elif target.startswith("stage:"):
            stage = int(target.split(":", 1)[1])
            files[f"summary_stage_{stage + 1}.txt"] = render.stage_summary(v, stage)
            files[f"stage_{stage + 1}_metrics.json"] = render.stage_metrics_json(v, stage)
            files[f"stage_{stage + 1}_metrics.csv"] = render.stage_metrics_csv(v, stage)
    return files


def write_live(events: Iterable[LedgerEvent | et.Event], folder: str | Path, targets: Iterable[str], *,
               run_id: str = "") -> list[Path]:
    """Render the targets from `events` and write them into `folder`, atomically."""
    root = Path(folder)
    files = render_live(events, targets, run_id=run_id)
    return [atomic_write_text(root / name, text) for name, text in files.items()]


class LiveEvidence:
    """The runner's `on_event` hook that keeps the evidence folder current."""

    def __init__(self, folder: str | Path | None = None, ledger: Ledger | None = None) -> None:
        self.folder = None if folder is None else Path(folder)
        self.ledger = ledger
        self.errors: list[str] = []
        self._events: dict[int, et.Event] = {}  # parsed once each
        self._run_id = ""

    def attach(self, ledger: Ledger) -> LiveEvidence:
        """The ledger to read from when the hook has missed events."""
        self.ledger = ledger
        return self

    def on_event(self, event: LedgerEvent, state: Any = None) -> None:
        self.take([event])

    def take(self, new: Iterable[LedgerEvent]) -> None:
        """Events in order, at once (a writer that fell behind): each file they touch written once."""
        targets: set[str] = set()
        for event in new:
            if self._run_id and event.run_id != self._run_id:
                self._events.clear()
            self._run_id = event.run_id
            typed = self._events[event.seq] = et.parse(event)
            targets |= _targets(typed)
        if not targets:
            return
        try:
            events = self._whole()
            self.folder = self.folder or self._plan_folder(events)
            if self.folder is not None:
                write_live(events, self.folder, targets, run_id=self._run_id)
        except Exception as err:  # evidence must never stop the run
            self.errors.append(f"{type(err).__name__}: {err}")

    @staticmethod
    def _plan_folder(events: list[et.Event]) -> Path | None:
        """The evidence folder of the plan recorded in run_started (None: not seen yet)."""
        if not events or not isinstance(events[0], et.RunStarted):
            return None
        return Path(render.plan_from_ledger(events[0]).evidence_dir)

    def _whole(self) -> list[et.Event]:
        """Every event of the run so far; read from the ledger when some are missing here."""
        seqs = sorted(self._events)
        if seqs and seqs != list(range(1, seqs[-1] + 1)) and self.ledger is not None:
            for e in self.ledger.events(self._run_id):
                if e.seq not in self._events:
                    self._events[e.seq] = et.parse(e)
        return [self._events[s] for s in sorted(self._events)]


__all__ = ["LiveEvidence", "render_live", "write_live"]
