"""The composition root's alerts part: an Alertmanager webhook receiver when --listen or
alert_source.webhook_listen is set (bearer token from alert_source.webhook_token_env); otherwise,
polling Prometheus /api/v1/alerts when alert_source.poll_prometheus and the metrics come from
Prometheus; otherwise none."""

from __future__ import annotations

from collections.abc import Mapping

from runofshow.app import settings
from runofshow.app.bootstrap.options import RunOptions
from runofshow.app.run.world import World
from runofshow.domain.plan import Plan
from runofshow.errors import AdapterError, InputError
from runofshow.ports import AlertFeed


def build_alerts(
    plan: Plan, options: RunOptions, environ: Mapping[str, str], world: World,
) -> AlertFeed | None:
    """The run's alert feed, started, stopped when `world` closes and told the run's T0."""
    src = plan.alert_source
    listen = options.listen or src.webhook_listen
    if listen:
        from runofshow.adapters.alertmanager import AlertmanagerWebhook

        token = settings.webhook_token(src, listen, environ)
        try:
            hook = AlertmanagerWebhook.from_settings(src.model_copy(update={"webhook_listen": listen}),
                                                     token, on_alert=world._alert,
                                                     on_refused=world._refused)
        except AdapterError as err:
            raise InputError(str(err)) from None
        hook.start()
        world.webhook = hook
        world.on_close(hook.stop)
        world._t0_targets.append(hook)
        return hook
    if src.poll_prometheus and plan.metrics_source.kind == "prometheus":
        from runofshow.adapters.prometheus import PrometheusAlertFeed

        feed = PrometheusAlertFeed(plan.metrics_source, src.match_labels,
                                   settings.prometheus_credentials(plan.metrics_source, environ))
        world.on_close(feed.close)
        world._t0_targets.append(feed)
        return feed
    return None


__all__ = ["build_alerts"]
