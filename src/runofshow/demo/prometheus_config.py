"""Configuration files for the demo's Prometheus and Alertmanager, rendered as strings.

Pure functions: the demo orchestration writes the strings to files and starts the binaries.

    prometheus_yml(targets, ...)          scrapes each sample service's /metrics, loads the rules,
                                          sends alerts to Alertmanager
    alert_rules_yml(...)                  CanaryCrashLooping and CanaryErrorBurst (auto_rollback="true")
                                          and the decoy CanaryWsLagWarning (no auto_rollback label)
    alertmanager_yml(webhook_url, token)  one webhook receiver with a bearer token, no grouping delay

The service's own labels (service, track) are kept as scraped: the scrape jobs add no label of the
same name, so nothing is renamed to exported_*.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import yaml
from yarl import URL

from runofshow.demo.services import ALERT_NAME, SERVICE

ERROR_BURST = "CanaryErrorBurst"
WS_WARNING = "CanaryWsLagWarning"


def duration(seconds: float) -> str:
    """A Prometheus duration: 1 -> "1s", 0.5 -> "500ms", 90 -> "90s", 3600 -> "1h"."""
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _dump(doc: object, header: str) -> str:
    body: str = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1000)
    return f"# {header}\n{body}"


def _endpoint(url: str) -> tuple[str, str, str]:
    """scheme, host:port, path prefix of an http(s) URL."""
    u = URL(url)
    if u.scheme not in ("http", "https") or not u.host or u.port is None:
        raise ValueError(f"expected an http(s) URL with a host, not {url!r}")
    host = f"[{u.host}]" if ":" in u.host else u.host
    return u.scheme, f"{host}:{u.port}", u.path.rstrip("/")


def prometheus_yml(targets: Mapping[str, str], *, rule_files: Sequence[str] = ("rules.yml",),
                   alertmanager_url: str | None = None, scrape_interval_s: float = 1.0,
                   evaluation_interval_s: float = 1.0, job: str = SERVICE) -> str:
    """prometheus.yml scraping `targets` ({"baseline": service url, "canary": service url}) at
    <url>/metrics. Each target gets the label `deployment` = its key."""
    if not targets:
        raise ValueError("at least one scrape target is needed")
    static_configs: list[dict[str, object]] = []
    scheme, prefix = "http", ""
    for name, url in targets.items():
        scheme, hostport, prefix = _endpoint(url)
        static_configs.append({"targets": [hostport], "labels": {"deployment": name}})
    config: dict[str, object] = {
        "global": {
            "scrape_interval": duration(scrape_interval_s),
            "scrape_timeout": duration(min(scrape_interval_s, 10.0)),
            "evaluation_interval": duration(evaluation_interval_s),
        },
        "rule_files": list(rule_files),
        "scrape_configs": [{
            "job_name": job, "scheme": scheme, "metrics_path": f"{prefix}/metrics",
            "honor_labels": True, "static_configs": static_configs,
        }],
    }
    if alertmanager_url is not None:
        am_scheme, am_hostport, am_prefix = _endpoint(alertmanager_url)
        manager: dict[str, object] = {"scheme": am_scheme, "static_configs": [{"targets": [am_hostport]}]}
        if am_prefix:
            manager["path_prefix"] = am_prefix
        config["alerting"] = {"alertmanagers": [manager]}
    return _dump(config, "Prometheus for `runofshow demo` (generated)")


def alert_rules_yml(*, service: str = SERVICE, error_burst_pct: float = 1.0, error_window_s: float = 60.0,
                    error_burst_min_errors: int = 5, ws_warning_s: float = 1.0) -> str:
    """Alert rules. CanaryErrorBurst fires when the canary's 5xx share over `error_window_s` is above
    `error_burst_pct` % and at least `error_burst_min_errors` 5xx were seen, so that one unlucky
    error among a handful of requests at 1 % weight does not roll a healthy canary back.
    The decoy CanaryWsLagWarning fires whenever canary WebSocket lag is above `ws_warning_s` (almost
    always in the demo): it has no auto_rollback label and must never cause a rollback."""
    canary = f'service="{service}",track="canary"'
    window = duration(error_window_s)
    errors = f'sum(rate(http_requests_total{{{canary},code=~"5.."}}[{window}]))'
    total = f"sum(rate(http_requests_total{{{canary}}}[{window}]))"
    error_count = f'sum(increase(http_requests_total{{{canary},code=~"5.."}}[{window}]))'

    def rollback() -> dict[str, str]:  # a fresh dict per rule: no YAML anchors in the output
        return {"auto_rollback": "true", "severity": "page", "track": "canary", "service": service}

    rules = [
        {
            "alert": ALERT_NAME,
            "expr": f"canary_crashloop{{{canary}}} == 1",
            "for": "0s",
            "labels": rollback(),
            "annotations": {
                "summary": "Canary pods are crash-looping",
                "description": "The canary reports canary_crashloop = 1: roll it back.",
            },
        },
        {
            "alert": ERROR_BURST,
            "expr": f"(100 * {errors} / {total} > {error_burst_pct:g})"
                    f" and on() ({error_count} >= {error_burst_min_errors})",
            "for": "0s",
            "labels": rollback(),
            "annotations": {
                "summary": f"Canary 5xx above {error_burst_pct:g} % over {window}",
                "description": "Canary 5xx share is {{ $value | printf \"%.2f\" }} %.",
            },
        },
        {
            "alert": WS_WARNING,
            "expr": f"max(ws_message_lag_seconds{{{canary}}}) > {ws_warning_s:g}",
            "for": "0s",
            "labels": {"severity": "warning", "track": "canary", "service": service},
            "annotations": {
                "summary": "Canary WebSocket lag is elevated (informational, no rollback)",
                "description": "WebSocket lag is {{ $value }} s.",
            },
        },
    ]
    return _dump({"groups": [{"name": "runofshow-demo-canary", "rules": rules}]},
                 "Alert rules for `runofshow demo` (generated)")


def alertmanager_yml(webhook_url: str, bearer_token: str, *, group_wait_s: float = 0.0,
                     group_interval_s: float = 1.0, repeat_interval_s: float = 3600.0,
                     receiver: str = "runofshow") -> str:
    """alertmanager.yml sending every alert at once to `webhook_url` with `Authorization: Bearer`.
    The runner filters on the auto_rollback label itself."""
    _endpoint(webhook_url)
    if not bearer_token or any(c.isspace() for c in bearer_token):
        raise ValueError("the bearer token must be a non-empty string without whitespace")
    config = {
        "route": {
            "receiver": receiver,
            "group_by": ["alertname", "track"],
            "group_wait": duration(group_wait_s),
            "group_interval": duration(group_interval_s),
            "repeat_interval": duration(repeat_interval_s),
        },
        "receivers": [{
            "name": receiver,
            "webhook_configs": [{
                "url": webhook_url,
                "send_resolved": True,
                "http_config": {"authorization": {"type": "Bearer", "credentials": bearer_token}},
            }],
        }],
    }
    return _dump(config, "Alertmanager for `runofshow demo` (generated; holds a token: keep it private)")
