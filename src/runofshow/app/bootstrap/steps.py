"""The composition root's part for the T-minus steps: the exchange calendar, the alert-rules check,
the freeze record, the blast radius' load generator, the pull-request host (GitHub, or the demo's
in memory), the preflight's tools and the market-window gate before each stage. Like the rest of
`app.bootstrap`, it may build adapters; nothing below it may."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from runofshow.app import settings
from runofshow.app.bootstrap.metrics import build_metrics
from runofshow.app.bootstrap.router import build_router
from runofshow.app.steps.probes import PreflightTools
from runofshow.domain.plan import Plan
from runofshow.errors import InputError
from runofshow.ports import FreezeStore, LoadGenerator, MarketCalendar, PullRequestHost


def market_calendar(plan: Plan) -> MarketCalendar:
    """The plan's exchange calendar (XIST by default). Raises InputError for an unknown name."""
    from runofshow.adapters.xist_calendar import XistMarketCalendar

    calendar = XistMarketCalendar(plan.market.calendar)
    calendar.bounds()  # fail now (unknown calendar) rather than at the first lookup
    return calendar


def alert_rules_check(plan: Plan, environ: Mapping[str, str]) -> Any:
    """Preflight: which auto-rollback alert rules Prometheus has loaded (a `RulesCheck`)."""
    from runofshow.adapters.prometheus import alert_rules_loaded

    src = plan.metrics_source
    if src.kind != "prometheus":
        raise InputError(f"alert rules are read from Prometheus; metrics_source is {src.kind}")
    return alert_rules_loaded(src, plan.preflight.alert_rules, plan.alert_source.match_labels,
                              settings.prometheus_credentials(src, environ))


def freeze_store(evidence_dir: str | Path) -> FreezeStore:
    """The change freeze's record in `evidence_dir` (freeze_state.json)."""
    from runofshow.adapters.freeze_file import JsonFreezeStore

    return JsonFreezeStore(evidence_dir)


def load_generator() -> LoadGenerator:
    """The blast radius' open-loop load (aiohttp, HDR histograms)."""
    from runofshow.adapters.load_generator import AiohttpLoadGenerator

    return AiohttpLoadGenerator()


def pull_request_host(repo: str, github: settings.GitHubSettings) -> PullRequestHost:
    """The GitHub adapter for OWNER/NAME `repo`."""
    from runofshow.adapters.github import GitHubPullRequestHost

    try:
        return GitHubPullRequestHost(
            repo, token=github.token, base_url=github.api_url, timeout_s=github.timeout_s,
            max_attempts=github.max_attempts, max_wait_s=github.max_wait_s,
        )
    except ValueError as ex:
        raise InputError(f"--repo: {ex}") from None


def demo_pull_requests() -> PullRequestHost:
    """The demo's pull requests, in memory: three open PRs for the freeze to hold and release."""
    from runofshow.adapters.memory_steps import InMemoryPullRequestHost
    from runofshow.domain.freeze import PullRequest

    return InMemoryPullRequestHost("acme/spark-trading", [
        PullRequest(12, "feat: order book depth chart"), PullRequest(15, "chore(deps): bump httpx"),
        PullRequest(17, "docs: runbook for the canary"),
    ])


def preflight_tools(environ: Mapping[str, str] | None = None) -> PreflightTools:
    """What the preflight asks the world with: HTTP, commands, and this package's factories."""
    from runofshow.adapters.http_probe import HttpxProbe
    from runofshow.adapters.local_process import LocalCommandRunner

    return PreflightTools(
        http=HttpxProbe(), commands=LocalCommandRunner(), router=build_router, metrics=build_metrics,
        calendar=market_calendar, alert_rules=alert_rules_check, freeze_store=freeze_store,
        environ=settings.environment(environ))


def window_gate(plan: Plan) -> Callable[[datetime, int], tuple[bool, str]]:
    """Before each stage: may the canary move now, by the plan's market windows (and why not)."""
    from runofshow.app.steps.windows import stage_gate
    from runofshow.domain.windows import Activity

    calendar = market_calendar(plan)

    def gate(at: datetime, stage: int) -> tuple[bool, str]:
        g = stage_gate(plan, calendar, Activity.CANARY, at)
        return g.allowed, g.reason

    return gate


__all__ = [
    "alert_rules_check", "demo_pull_requests", "freeze_store", "load_generator", "market_calendar",
    "preflight_tools", "pull_request_host", "window_gate",
]
