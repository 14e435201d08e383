"""The composition root's part for the T-minus steps: the exchange calendar, the alert-rules check,
the freeze record, the blast radius' load generator and the pull-request host (GitHub, or the
demo's in memory). Like `app.bootstrap`, it may build adapters; nothing below it may."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runofshow.app import settings
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


__all__ = [
    "alert_rules_check", "demo_pull_requests", "freeze_store", "load_generator", "market_calendar",
    "pull_request_host",
]
