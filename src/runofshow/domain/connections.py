"""Settings for the outside systems a run talks to: the traffic router, the metrics source, the
alert source and the notification channels. Pure data, validated with the plan (they are the plan's
`traffic_router`, `metrics_source`, `alert_source` and `notifications` sections).

Secrets are never in the plan: a `*_env` field names the environment variable that holds one, and
`runofshow.app.settings` reads it; adapters are handed the value.

Defaults are what any installation would pick (timeouts, retries, Prometheus on its usual port).
The names of the demo's systems (its Ingress, its flag API, its upstreams) are not defaults of the
router kinds the default plan does not use: a plan that picks one of those kinds names them, as
the commented examples in the plan template do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from runofshow.domain.addresses import HttpUrlText, ListenAddress
from runofshow.domain.labels import MetricLabels
from runofshow.domain.model import FrozenModel
from runofshow.domain.rules import AUTO_ROLLBACK_LABELS

# --------------------------------------------------------------------------- traffic routers


class LocalProxyRouterSettings(FrozenModel):
    """The demo's weighted reverse proxy, steered over its admin endpoint."""

    kind: Literal["local_proxy"] = "local_proxy"
    listen: ListenAddress = "127.0.0.1:8080"
    stable_url: HttpUrlText = "http://127.0.0.1:8081"
    canary_url: HttpUrlText = "http://127.0.0.1:8082"
    admin_url: HttpUrlText | None = None
    timeout_s: float = Field(default=5.0, gt=0, description="per admin request")
    retries: int = Field(default=3, ge=1, description="attempts per admin request")


class IngressNginxRouterSettings(FrozenModel):
    """nginx.ingress.kubernetes.io/canary-weight on the canary Ingress."""

    kind: Literal["ingress_nginx"] = "ingress_nginx"
    namespace: str = "default"
    ingress: str = Field(min_length=1, description="the canary Ingress")
    stable_ingress: str = Field(min_length=1)
    create_canary_ingress: bool = False
    canary_service: str | None = None
    canary_service_port: int = 80
    kubeconfig: str | None = None
    context: str | None = None
    timeout_s: float = Field(default=10.0, gt=0, description="per Kubernetes API request")


class NginxFileRouterSettings(FrozenModel):
    """An nginx split_clients include file, checked with nginx -t and reloaded."""

    kind: Literal["nginx_file"] = "nginx_file"
    config_path: str = "/etc/nginx/conf.d/runofshow-canary.conf"
    stable_servers: tuple[str, ...] = Field(min_length=1)
    canary_servers: tuple[str, ...] = Field(min_length=1)
    listen: str = Field(default="127.0.0.1:8080", description="nginx listen syntax: 8080, [::]:80, ...")
    nginx_bin: str = "nginx"
    nginx_conf: str | None = Field(default=None, description="main nginx.conf for nginx -t / -s reload")
    nginx_prefix: str | None = Field(default=None, description="nginx -p for nginx -t / -s reload")
    nginx_error_log: str | None = Field(default=None, description="nginx -e for nginx -t / -s reload")
    split_key: str = Field(default="${remote_addr}${request_id}", description="split_clients key")
    command_timeout_s: float = Field(default=30.0, gt=0)


class FlagApiRouterSettings(FrozenModel):
    """A feature-flag HTTP API: POST {feature, percentage}; read back from `read_url`."""

    kind: Literal["flag_api"] = "flag_api"
    url: HttpUrlText
    feature: str = Field(min_length=1)
    read_url: HttpUrlText | None = Field(default=None, description="GET endpoint returning the percentage")
    read_json_path: str = "percentage"
    token_env: str | None = Field(default=None, description="environment variable holding a bearer token")
    timeout_s: float = Field(default=5.0, gt=0, description="per request")
    retries: int = Field(default=3, ge=1, description="attempts per request (transport errors, 429, 5xx)")
    backoff_s: float = Field(default=0.2, ge=0, description="first wait between attempts; doubles")


class MemoryRouterSettings(FrozenModel):
    """In-memory router for dry runs and tests."""

    kind: Literal["memory"] = "memory"


TrafficRouterSettings = Annotated[
    LocalProxyRouterSettings | IngressNginxRouterSettings | NginxFileRouterSettings
    | FlagApiRouterSettings | MemoryRouterSettings,
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------- metrics sources


class PrometheusSettings(FrozenModel):
    kind: Literal["prometheus"] = "prometheus"
    url: HttpUrlText = "http://127.0.0.1:9090"
    labels: MetricLabels = MetricLabels()
    timeout_s: float = Field(default=5, gt=0)
    retries: int = Field(default=3, ge=0)
    bearer_token_env: str | None = None
    basic_user_env: str | None = None
    basic_password_env: str | None = None


@dataclass(frozen=True)
class PrometheusCredentials:
    """What `bearer_token_env` / `basic_user_env` / `basic_password_env` hold (read by
    `runofshow.app.settings`); never printed."""

    bearer_token: str | None = None
    basic_auth: tuple[str, str] | None = None

    def __repr__(self) -> str:
        return (f"PrometheusCredentials(bearer_token={'***' if self.bearer_token else None}, "
                f"basic_auth={'***' if self.basic_auth else None})")


class JsonEndpoint(FrozenModel):
    url: HttpUrlText
    path: str = Field(description="dotted JSON path, e.g. data.p95_ms")


class WebJsonMetric(FrozenModel):
    baseline: JsonEndpoint
    canary: JsonEndpoint


class WebJsonSettings(FrozenModel):
    kind: Literal["web_json"] = "web_json"
    timeout_s: float = Field(default=5, gt=0)
    metrics: dict[str, WebJsonMetric] = Field(default_factory=dict)


MetricsSourceSettings = Annotated[PrometheusSettings | WebJsonSettings, Field(discriminator="kind")]


# --------------------------------------------------------------------------- alerts, notifications


class AlertSourceSettings(FrozenModel):
    match_labels: dict[str, str] = Field(default_factory=lambda: dict(AUTO_ROLLBACK_LABELS))
    webhook_listen: ListenAddress | None = Field(
        default=None, description="host:port for Alertmanager webhooks")
    webhook_token_env: str = "RUNOFSHOW_WEBHOOK_TOKEN"
    poll_prometheus: bool = True


class NotificationSettings(FrozenModel):
    deploys_channel: str = "#spark-deploys"
    war_room_channel: str = "#spark-warroom-v140"
    slack_webhook_url_env: str | None = "SLACK_WEBHOOK_URL"
    webhook_url: HttpUrlText | None = None
    grafana_url: HttpUrlText | None = None
    grafana_token_env: str = "GRAFANA_TOKEN"
    grafana_dashboard_uid: str = "risk-idempotency-pitr"


__all__ = [
    "AlertSourceSettings", "FlagApiRouterSettings", "IngressNginxRouterSettings", "JsonEndpoint",
    "LocalProxyRouterSettings", "MemoryRouterSettings", "MetricLabels", "MetricsSourceSettings",
    "NginxFileRouterSettings",
    "NotificationSettings", "PrometheusCredentials", "PrometheusSettings", "TrafficRouterSettings",
    "WebJsonMetric", "WebJsonSettings",
]
