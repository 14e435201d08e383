"""`runofshow freeze start|end|status|check`: the change freeze on a GitHub repository."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from runofshow.cli.exit_codes import ExitCode
from runofshow.cli.window_cmd import load_plan_or_default

freeze_app = typer.Typer(
    help="The change freeze: hold open PRs with a label while the canary is out, and gate PRs.",
    no_args_is_help=True, rich_markup_mode=None,
)

Repo = Annotated[str, typer.Option("--repo", help="GitHub repository OWNER/NAME")]
PlanOpt = Annotated[Path | None, typer.Option("--plan", help="plan file (default: built-in plan)")]
EvidenceOpt = Annotated[
    Path | None, typer.Option("--evidence-dir", help="evidence folder (default: the plan's evidence_dir)")
]
ApiUrl = Annotated[
    str | None,
    typer.Option("--api-url", help="GitHub API base URL (default: $GITHUB_API_URL or https://api.github.com)"),
]


@contextmanager
def _setup(
    repo: str, plan_path: Path | None, evidence: Path | None, api_url: str | None,
) -> Iterator[tuple[Any, Any, Path]]:
    """The plan, the PR host for `repo` (closed afterwards) and the evidence folder."""
    from runofshow.app.bootstrap import pull_request_host
    from runofshow.app.settings import github_settings

    plan = load_plan_or_default(plan_path)
    host = pull_request_host(repo, github_settings(api_url=api_url))
    try:
        yield plan, host, evidence or Path(plan.evidence_dir)
    finally:
        close = getattr(host, "close", None)
        if close is not None:
            close()


def _nums(ns: Any) -> str:
    return ", ".join(f"#{n}" for n in ns) or "none"


@freeze_app.command("start")
def start(
    repo: Repo,
    release: Annotated[str | None, typer.Option("--release", help="release (default: the plan's)")] = None,
    plan_path: PlanOpt = None, evidence_dir: EvidenceOpt = None, api_url: ApiUrl = None,
) -> None:
    """Label every open PR hold-for-canary and write evidence/freeze_window_start.txt. Run it again to
    finish a start that failed part-way (or to hold PRs opened since).

    Example: GITHUB_TOKEN=... runofshow freeze start --repo acme/spark-trading --release v1.4.0
    """
    from runofshow.app.bootstrap import freeze_store
    from runofshow.app.steps.freeze import start_freeze

    with _setup(repo, plan_path, evidence_dir, api_url) as (plan, host, evidence):
        res = start_freeze(host, plan.freeze, release or plan.release.version, evidence, datetime.now(UTC),
                           store=freeze_store(evidence))
    rec = res.record
    if res.note:
        print(res.note)
    print(f"freeze active on {rec.repo} for {rec.release}: labelled {_nums(res.newly_labelled)} now; "
          f"on hold by this freeze {_nums(rec.labelled)}, by hand {_nums(rec.held_by_hand)}")
    print(f"wrote {res.evidence}")
    raise typer.Exit(0)


@freeze_app.command("end")
def end(
    repo: Repo, plan_path: PlanOpt = None, evidence_dir: EvidenceOpt = None, api_url: ApiUrl = None,
) -> None:
    """Remove hold-for-canary from the PRs this freeze labelled (labels put on by hand stay) and write
    evidence/freeze_window_end.txt with the number released.

    Example: runofshow freeze end --repo acme/spark-trading
    """
    from runofshow.app.bootstrap import freeze_store
    from runofshow.app.steps.freeze import end_freeze

    with _setup(repo, plan_path, evidence_dir, api_url) as (_plan, host, evidence):
        res = end_freeze(host, evidence, datetime.now(UTC), store=freeze_store(evidence))
    if res.note:
        print(res.note)
        raise typer.Exit(0)
    rec = res.record
    print(f"freeze ended on {rec.repo}: released {len(rec.released)} ({_nums(rec.released)}); "
          f"left on hold by hand {_nums(rec.held_by_hand)}")
    print(f"wrote {res.evidence}")
    raise typer.Exit(0)


@freeze_app.command("status")
def status(
    repo: Repo, plan_path: PlanOpt = None, evidence_dir: EvidenceOpt = None, api_url: ApiUrl = None,
    offline: Annotated[bool, typer.Option("--offline", help="read only the local freeze record")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the status as JSON")] = False,
) -> None:
    """Show the freeze record (which PRs this freeze labelled, released, left to do) and the open PRs
    that carry the label now.

    Example: runofshow freeze status --repo acme/spark-trading --json
    """
    from runofshow.app.bootstrap import freeze_store
    from runofshow.app.steps.freeze import freeze_status

    if offline:
        plan = load_plan_or_default(plan_path)
        st = freeze_status(freeze_store(evidence_dir or Path(plan.evidence_dir)))
    else:
        with _setup(repo, plan_path, evidence_dir, api_url) as (plan, host, evidence):
            st = freeze_status(freeze_store(evidence), host, plan.freeze.label)
    if json_out:
        import json

        print(json.dumps(st, sort_keys=True))
        raise typer.Exit(0)
    if "status" not in st:
        print(f"no freeze record ({st['record']})")
    else:
        print(f"freeze {st['status']} on {st['repo']} for {st['release']} since {st['started_at']}"
              + (f", ended {st['ended_at']}" if st.get("ended_at") else ""))
        print(f"  labelled by this freeze: {_nums(st['labelled'])}; pending: {_nums(st['pending'])}")
        print(f"  held by hand: {_nums(st['held_by_hand'])}; released: {_nums(st['released'])}")
        if st.get("last_error"):
            print(f"  last error: {st['last_error']}")
    if "on_hold_now" in st:
        print(f"  open PRs labelled now: {_nums(st['on_hold_now'])}")
    raise typer.Exit(0)


@freeze_app.command("check")
def check(
    repo: Repo, pr: Annotated[int, typer.Option("--pr", help="pull request number")],
    post_status: Annotated[
        bool, typer.Option("--post-status", help="set a commit status on the PR head")
    ] = False,
    at: Annotated[
        str | None, typer.Option("--at", help="instant for the market-hours rule (default: now)")
    ] = None,
    freeze: Annotated[str, typer.Option(
        "--freeze",
        help="auto (an active local freeze record, or the PR carries the hold label), active or inactive",
    )] = "auto",
    target_url: Annotated[str | None, typer.Option("--target-url", help="link for the commit status")] = None,
    plan_path: PlanOpt = None, evidence_dir: EvidenceOpt = None, api_url: ApiUrl = None,
) -> None:
    """Classify a PR (hotfix, rollback, monitoring, docs: allowed; migration, feature, dependency,
    refactoring: blocked during a freeze; a migration is blocked in market hours even without one).
    Exit 0 allowed, 3 blocked.

    Example: runofshow freeze check --repo acme/spark-trading --pr 42 --post-status
    """
    from runofshow.app.bootstrap import freeze_store, market_calendar
    from runofshow.app.steps.freeze import check_pull_request
    from runofshow.cli.plan_cmd import parse_instant
    from runofshow.errors import InputError

    if freeze not in ("auto", "active", "inactive"):
        raise InputError(f"--freeze: '{freeze}' is not auto, active or inactive")
    when = parse_instant(at, "--at") if at else datetime.now(UTC)
    with _setup(repo, plan_path, evidence_dir, api_url) as (plan, host, evidence):
        res = check_pull_request(
            host, plan, market_calendar(plan), pr, when, freeze_store(evidence), mode=freeze,  # type: ignore[arg-type]
            post_status=post_status, target_url=target_url,
        )
    c = res.classification
    print(f"#{pr}: {c.change_class.value}: {'ALLOWED' if c.allowed else 'BLOCKED'}: {c.reason}")
    print(f"  freeze {'active' if res.freeze_active else 'not active'} ({res.freeze_source}); "
          f"market {'open' if res.market_open else 'closed'}"
          + ("; commit status set" if res.status_posted else ""))
    raise typer.Exit(ExitCode.OK if c.allowed else ExitCode.ROLLED_BACK)


def register(app: typer.Typer) -> None:
    app.add_typer(freeze_app, name="freeze")
