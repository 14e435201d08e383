"""Around a runner, for `run`, `resume` and `demo`: evidence written as the run goes, and at the end
(promoted, rolled back or halted) the whole bundle, the report, the mini RCA, the one-liner and the
success checklist.

    live = LiveEvidence()                         # the run's own evidence folder (plan.evidence_dir)
    on_event = both(print_lines, live.on_event)   # what the runner calls for every event
    ... start / resume the run, live.attach(ledger), run it ...
    finish(runner)                                # bundle + reports + checklist, if the run ended

The end of a run, in order: the bundle is rebuilt from the ledger into the evidence folder
(`runofshow.reports.evidence.build_bundle`: every file, the ledger chain, success_criteria.txt,
MANIFEST.sha256); then the HTML report (`report_<RUN_ID>.html`), `mini_rca_<version>.md` and
`release_oneliner.txt` from `runofshow.reports.html` / `.rca`; then the bundle once more, so the
manifest covers them too and `runofshow evidence verify <folder>` exits 0. A paused run has not
ended: its bundle is built when it does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from runofshow.app.run.runner import Runner
    from runofshow.app.run.state import RunState
    from runofshow.ports import LedgerEvent
    from runofshow.reports.evidence import BundleResult

OnEvent = Callable[["LedgerEvent", "RunState"], None]


def both(*hooks: OnEvent) -> OnEvent:
    """One `on_event` that calls each hook in turn; a hook that raises does not stop the others."""

    def call(event: LedgerEvent, state: RunState) -> None:
        for hook in hooks:
            try:
                hook(event, state)
            except Exception:  # a view or a writer must never stop the run
                log.warning("%s failed on %s", getattr(hook, "__qualname__", hook), event.kind, exc_info=True)

    return call


def _say(text: str) -> None:
    print(text, flush=True)


def write_reports(events: list[Any], plan: Any, folder: Path, evidence_files: int | None,
                  say: Callable[[str], None] = _say) -> list[Path]:
    """The HTML report, the mini RCA and the one-liner (runofshow.reports.html / .rca) into `folder`.
    A writer that is missing or fails is said and skipped: the evidence stands without it."""
    written: list[Path] = []
    run_id = events[0].run_id if events else "run"
    try:
        from runofshow.reports.html import write_report

        report = write_report(events, plan, folder / f"report_{run_id}.html",
                              evidence_files=evidence_files)
        written.append(report)
        say(f"report: {report}")
    except Exception as err:  # the report is a view of the evidence, not evidence
        say(f"report: not written ({type(err).__name__}: {err})")
    try:
        from runofshow.reports.rca import oneliner, write_oneliner, write_rca

        written.append(write_rca(events, plan, folder))
        written.append(write_oneliner(events, plan, folder))
        say(f"one-liner: {oneliner(events, plan)}")
    except Exception as err:
        say(f"mini RCA / one-liner: not written ({type(err).__name__}: {err})")
    return written


def finish(runner: Runner, say: Callable[[str], None] = _say, reports: bool = True) -> BundleResult | None:
    """The end of a run: the bundle, the reports, the checklist. None when the run has not ended."""
    from runofshow.domain.checklist import all_passed
    from runofshow.errors import RunOfShowError
    from runofshow.reports.evidence import build_bundle

    if not runner.state.ended:
        return None
    folder = Path(runner.plan.evidence_dir)
    try:
        events = runner.ports.ledger.events(runner.state.run_id)
        result = build_bundle(events, runner.plan, folder)
        if reports:
            added = write_reports(events, runner.plan, folder, len(result.files) + 3, say)
            if added:
                result = build_bundle(events, runner.plan, folder)
    except (RunOfShowError, OSError) as err:  # the run's outcome stands; its exit code too
        say(f"evidence: NOT built in {folder}: {err}; rebuild with: runofshow evidence build "
            f"{runner.state.run_id} --out {folder}")
        return None
    count = sum(1 for p in folder.rglob("*") if p.is_file())
    say(f"evidence: {count} files in {folder} (MANIFEST.sha256 and the ledger chain); "
        f"check with: runofshow evidence verify {folder}")
    say("success criteria:")
    for c in result.criteria:
        say(f"  {'✅' if c.passed else '⏳' if c.pending else '❌'} {c.name}: {c.detail}")
    met = sum(1 for c in result.criteria if c.passed)
    say(f"  {met}/{len(result.criteria)} met" + ("" if all_passed(result.criteria) else
                                                 " (see success_criteria.txt)"))
    return result


__all__ = ["OnEvent", "both", "finish", "write_reports"]
