"""The composition root's notifications part: Slack (notifications.slack_webhook_url_env), a JSON
webhook (notifications.webhook_url) and Grafana annotations (notifications.grafana_url), behind one
non-blocking fan-out (`runofshow.app.run.notify`), closed with the world."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runofshow.app import settings
from runofshow.app.run.world import World
from runofshow.domain.plan import Plan

#: wall seconds the notification fan-out may take at shutdown (the runner flushed it at the end)
FANOUT_CLOSE_S = 1.0


def build_notifications(plan: Plan, environ: Mapping[str, str],
                        on_failure: Callable[[Any], None] | None = None) -> Any:
    """The plan's channels behind one non-blocking `NotifierFanout` (None when there are none)."""
    n = plan.notifications
    notifiers: list[Any] = []
    annotators: list[Any] = []
    slack_url = settings.slack_webhook_url(n, environ)
    if slack_url:
        from runofshow.adapters.slack import SlackWebhookNotifier

        notifiers.append(SlackWebhookNotifier(slack_url))
    if n.webhook_url:
        from runofshow.adapters.webhook import JsonWebhookNotifier

        notifiers.append(JsonWebhookNotifier(n.webhook_url))
    if n.grafana_url:
        from runofshow.adapters.grafana import GrafanaAnnotator

        annotators.append(GrafanaAnnotator(n.grafana_url, settings.grafana_token(n, environ),
                                           dashboard_uid=n.grafana_dashboard_uid))
    if not notifiers and not annotators:
        return None
    from runofshow.app.run.notify import NotifierFanout

    return NotifierFanout(notifiers, annotators, on_failure=on_failure)


def wire_notifications(plan: Plan, environ: Mapping[str, str], world: World) -> Any:
    """The run's fan-out, its failures recorded by `world` and closed with it (None without one)."""
    fanout = build_notifications(plan, environ, world._notify_failed)
    if fanout is not None:
        world.fanout = fanout
        world.on_close(lambda: fanout.close(FANOUT_CLOSE_S))
    return fanout


__all__ = ["FANOUT_CLOSE_S", "build_notifications", "wire_notifications"]
