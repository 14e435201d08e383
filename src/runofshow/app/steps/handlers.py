"""The real work behind the timeline's non-stage steps, registered by `runofshow.app.bootstrap`:

    T-30  freeze_start   label open PRs hold-for-canary, write freeze_window_start.txt (with --repo,
                         or the demo's in-memory pull requests)
    T-20  war_room       open the war room: the channel and the incident commander(s)
    T-10  preflight      the nine checks; halt before T0 unless 9/9 or the IC's recorded override
    T-10  blast_radius   the blast-radius probe on timeline.blast_radius.url; halt when it fails
                         (unless the IC overrode the T-10 checks); not configured: recorded only
    T+24h first_night    the 24 h SLO burn rate (`runofshow.app.run.first_night.BurnWatch`)
    close-out            lift the freeze (after a rollback too, when the plan says so)
    (freeze disabled: `freeze: {enabled: false}` or --no-freeze: both freeze steps recorded as
    skipped, and their evidence files say so)

Each handler returns what it did in `details`, including the text of any evidence file it wrote
(`text`), so that `runofshow evidence build` rebuilds the very same file from the ledger, and a
one-line `summary` for the war-room log. Handlers are idempotent (a resumed run may call one
again): the freeze record makes start and end resumable, the preflight and the probe just run again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runofshow.app.run.steps import StepContext, StepHandler, StepOutcome
from runofshow.app.steps import blast
from runofshow.app.steps import probes as preflight_probes
from runofshow.app.steps.preflight import Override, PreflightContext
from runofshow.domain.plan import Plan
from runofshow.domain.timeline import StepKind
from runofshow.ports import FreezeStore, LoadGenerator, PullRequestHost


def _text(path: str | Path | None) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8") if path else None
    except OSError:
        return None


def _wall(ctx: StepContext) -> datetime:
    return ctx.wall_at or datetime.now(UTC)


def freeze_handlers(
    plan: Plan, host: PullRequestHost, stores: Callable[[Path], FreezeStore],
) -> dict[StepKind, StepHandler]:
    """T-30 freeze start and the close-out's freeze end on `host`'s pull requests; `stores(folder)`
    is the freeze record of the run's evidence folder."""
    from runofshow.app.steps.freeze import end_freeze, start_freeze

    def start(ctx: StepContext) -> StepOutcome:
        folder = Path(ctx.evidence_dir)
        result = start_freeze(host, plan.freeze, plan.release.version, folder, ctx.at, store=stores(folder))
        held = len(result.record.labelled) + len(result.record.held_by_hand)
        return StepOutcome(
            details={"repo": host.repo, "newly_labelled": list(result.newly_labelled),
                     "evidence": str(result.evidence or ""), "note": result.note,
                     "text": _text(result.evidence)},
            summary=f"{held} PR(s) on hold ({plan.freeze.label}) in {host.repo}")

    def close_out(ctx: StepContext) -> StepOutcome:
        if ctx.after_rollback and not plan.timeline.lift_freeze_after_rollback:
            return StepOutcome(details={"freeze": "kept after the rollback (lift_freeze_after_rollback)"},
                               summary="freeze kept after the rollback")
        folder = Path(ctx.evidence_dir)
        result = end_freeze(host, folder, ctx.at, store=stores(folder))
        return StepOutcome(
            details={"repo": host.repo, "released": list(result.newly_released),
                     "evidence": str(result.evidence or ""), "note": result.note,
                     "text": _text(result.evidence)},
            summary=f"freeze lifted, {len(result.newly_released)} PR(s) released")

    return {StepKind.FREEZE_START: start, StepKind.CLOSE_OUT: close_out}


def freeze_skipped_handlers(reason: str) -> dict[StepKind, StepHandler]:
    """T-30 freeze start and the close-out's freeze end when the run manages no freeze (`freeze:
    {enabled: false}` or --no-freeze): each is recorded as skipped, with `reason`, and its evidence
    file says so."""

    def skipped(title: str) -> StepHandler:
        def handler(ctx: StepContext) -> StepOutcome:
            head = f"FREEZE WINDOW {title}"
            text = (f"{head}\n{'=' * len(head)}\nTimestamp: {ctx.at.isoformat()}\n"
                    f"Release: {ctx.plan.release.version}\nfreeze: skipped (disabled)\nReason: {reason}\n")
            return StepOutcome(details={"skipped": reason, "text": text}, summary=f"skipped: {reason}")
        return handler

    return {StepKind.FREEZE_START: skipped("START"), StepKind.CLOSE_OUT: skipped("END")}


def freeze_steps(
    plan: Plan, host: PullRequestHost | None, stores: Callable[[Path], FreezeStore], *,
    no_freeze: bool = False,
) -> dict[StepKind, StepHandler]:
    """The freeze steps' handlers: skipped (with why) when the freeze is disabled by `no_freeze`
    (--no-freeze) or the plan, the real ones with a pull-request host, else none (recorded only)."""
    if no_freeze or not plan.freeze.enabled:
        return freeze_skipped_handlers("freeze disabled (--no-freeze)" if no_freeze else
                                       "freeze disabled in the plan")
    return freeze_handlers(plan, host, stores) if host is not None else {}


def war_room_handler(plan: Plan) -> StepHandler:
    def open_war_room(ctx: StepContext) -> StepOutcome:
        n = plan.notifications
        ics = list(plan.war_room.incident_commanders)
        return StepOutcome(details={"channel": n.war_room_channel, "incident_commanders": ics},
                           summary=f"{n.war_room_channel}, IC: {', '.join(ics)}, signal only")

    return open_war_room


def preflight_handler(
    override: Override | None = None, tools: preflight_probes.PreflightTools | None = None,
    build: Callable[[StepContext], PreflightContext] | None = None,
) -> StepHandler:
    """The nine T-10 checks (`runofshow.app.steps.probes.step_handler`) with a war-room summary."""
    inner = preflight_probes.step_handler(build=build, override=override, tools=tools)

    def run(ctx: StepContext) -> StepOutcome:
        outcome = inner(ctx)
        checks = list(outcome.details.get("checks") or ())
        passed = sum(1 for c in checks if c.get("passed"))
        failed = [str(c.get("name")) for c in checks if not c.get("passed")]
        summary = f"{passed}/{len(checks)} PASS" + (f", failed: {', '.join(failed)}" if failed else "")
        ov = outcome.details.get("override")
        if failed and ov:
            summary += f" (overridden by IC {ov['by']}: {ov['reason']})"
        return StepOutcome(details=outcome.details, ok=outcome.ok, halt=outcome.halt, summary=summary)

    return run


def blast_handler(plan: Plan, override: Override | None = None,
                  probe: Callable[..., blast.BlastResult] | None = None,
                  load: LoadGenerator | None = None) -> StepHandler:
    """The blast-radius probe on timeline.blast_radius.url (recorded only when no URL is set):
    `blast.probe` with `load` (handed down by bootstrap), unless another `probe` is given."""
    cfg = plan.timeline.blast_radius
    if probe is None and load is None and cfg.url:
        raise ValueError("blast_handler: timeline.blast_radius.url is set but no load generator was given")

    def run_probe(*args: Any, **kw: Any) -> blast.BlastResult:
        if probe is not None:
            return probe(*args, **kw)
        assert load is not None, "checked when the handler was built"
        return blast.probe(*args, load=load, **kw)

    def run(ctx: StepContext) -> StepOutcome:
        if not cfg.url:
            return StepOutcome(details={"does": ctx.step.does, "handler": "record_only",
                                        "note": "timeline.blast_radius.url is not set"},
                               summary="not configured (timeline.blast_radius.url)")
        result = run_probe(cfg.url, plan.release.version, cfg.seconds, cfg.rate, cfg.concurrency,
                           now=lambda: _wall(ctx), evidence_dir=ctx.evidence_dir,
                           success_min_pct=cfg.success_min_pct, p95_max_s=cfg.p95_max_s)
        reasons = result.reasons(cfg.success_min_pct, cfg.p95_max_s)
        details: dict[str, Any] = {
            "url": cfg.url, "passed": not reasons, "reasons": reasons, "requests": result.requests,
            "success_pct": round(result.success_pct, 3), "p95_s": round(result.p95_s, 6),
            "evidence": str(result.evidence_path or ""), "text": _text(result.evidence_path),
        }
        summary = (f"{result.requests} requests, success {result.success_pct:.1f}%, "
                   f"p95={result.p95_s * 1000:.0f}ms, {'PASS' if not reasons else 'FAIL'}")
        halt = None
        if reasons and override is None:
            halt = f"blast radius FAIL: {'; '.join(reasons)}"
        elif reasons and override is not None:
            summary += f" (overridden by IC {override.by}: {override.reason})"
            details["override"] = {"by": override.by, "reason": override.reason}
        return StepOutcome(details=details, ok=not reasons, halt=halt, summary=summary)

    return run


__all__ = ["blast_handler", "freeze_handlers", "freeze_skipped_handlers", "freeze_steps", "preflight_handler",
           "war_room_handler"]
