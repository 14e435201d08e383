"""Prometheus: gate metrics (`PrometheusMetricsSource`), firing alerts (`PrometheusAlertFeed`) and
the preflight check that alert rules are loaded (`alert_rules_loaded`).

Every query is an instant query at the tick's instant; `$window` in a plan query becomes the
window as a Prometheus duration in whole seconds (at least 1s). An empty vector, NaN or an
infinity is None (NoData), never 0; a query Prometheus answers with an error is None for that
query. Connection failures, timeouts and 429/502/503/504 are retried with exponential backoff;
when Prometheus still cannot be reached the call raises `MetricsUnavailableError`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from runofshow.adapters.http import AttemptFailed, with_retries
from runofshow.domain.connections import PrometheusCredentials, PrometheusSettings
from runofshow.domain.rules import Gate, TrackQueries
from runofshow.domain.tick import Alert, TrackSample
from runofshow.errors import MetricsUnavailableError

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 502, 503, 504})
TRACKS = ("baseline", "canary")


def prometheus_duration(window_s: float) -> str:
    """`window_s` as a Prometheus duration: whole seconds, at least 1s."""
    if not math.isfinite(window_s):
        raise ValueError(f"window must be a finite number of seconds, not {window_s!r}")
    return f"{max(1, round(window_s))}s"


def sample_value(raw: Any) -> float | None:
    """A Prometheus sample value ("1.5", "NaN", "+Inf") as a float; NaN and infinities are None."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Series:
    """One series of a range query: its labels and (instant, value or None) points."""

    labels: Mapping[str, str]
    points: tuple[tuple[datetime, float | None], ...]


class PrometheusClient:
    """The HTTP API: credentials, timeouts, retries, error translation."""

    def __init__(
        self, settings: PrometheusSettings, credentials: PrometheusCredentials | None = None, *,
        transport: httpx.BaseTransport | None = None, backoff_s: float = 0.2,
    ) -> None:
        creds = credentials or PrometheusCredentials()
        self.url = settings.url.rstrip("/")
        headers: dict[str, str] = {"Accept": "application/json"}
        if creds.bearer_token:
            headers["Authorization"] = f"Bearer {creds.bearer_token}"
        auth = httpx.BasicAuth(*creds.basic_auth) if creds.basic_auth else None
        self._http = httpx.Client(
            base_url=self.url, headers=headers, auth=auth, transport=transport,
            timeout=httpx.Timeout(settings.timeout_s), follow_redirects=False,
        )
        self._attempts = settings.retries + 1
        self._backoff_s = backoff_s

    def close(self) -> None:
        self._http.close()

    def _unavailable(self, path: str, why: str) -> MetricsUnavailableError:
        return MetricsUnavailableError(f"prometheus {self.url}{path}: {why}", adapter="prometheus",
                                       target=self.url)

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        """The decoded API envelope's `data`, or None when Prometheus answered with an error status.

        Raises `MetricsUnavailableError` when Prometheus cannot be reached (after retries) or does
        not answer with its API's JSON.
        """
        try:
            response = with_retries(lambda: self._once(path, params), attempts=self._attempts,
                                    backoff_s=self._backoff_s, max_backoff_s=max(self._backoff_s, 5.0))
        except AttemptFailed as exc:  # still busy after the last attempt: read its answer
            if exc.response is None:
                raise self._unavailable(path, exc.message) from exc
            response = exc.response
        except httpx.TransportError as exc:
            raise self._unavailable(path, f"{type(exc).__name__}: {exc or 'no answer'}") from exc
        try:
            body = response.json()
        except ValueError:
            raise self._unavailable(path, f"HTTP {response.status_code}, not Prometheus JSON") from None
        if not isinstance(body, dict) or "status" not in body:
            raise self._unavailable(path, f"HTTP {response.status_code}, not a Prometheus API answer")
        if body.get("status") != "success":
            log.warning("prometheus %s%s: %s: %s (query %s)", self.url, path, body.get("errorType", "error"),
                        body.get("error", f"HTTP {response.status_code}"), (params or {}).get("query", ""))
            return None
        data = body.get("data")
        return data if isinstance(data, dict) else {"result": data}

    def _once(self, path: str, params: Mapping[str, str] | None) -> httpx.Response:
        response = self._http.get(path, params=params)
        if response.status_code in RETRY_STATUS:
            raise AttemptFailed.of(response, retry_status=RETRY_STATUS)
        if response.status_code in (401, 403):
            raise self._unavailable(path, f"HTTP {response.status_code} (check the credentials)")
        return response

    def instant(self, expr: str, at: datetime) -> float | None:
        """The single value of an instant query at `at`; None for no data, NaN, Inf or an error."""
        data = self.get("/api/v1/query", {"query": expr, "time": f"{at.timestamp():.3f}"})
        if data is None:
            return None
        result = data.get("result")
        if data.get("resultType") == "scalar" and isinstance(result, list) and len(result) == 2:
            return sample_value(result[1])
        if data.get("resultType") != "vector" or not isinstance(result, list) or not result:
            return None
        if len(result) > 1:
            log.warning("prometheus %s: query returned %d series, expected one: %s",
                        self.url, len(result), expr)
            return None
        value = result[0].get("value")
        return sample_value(value[1]) if isinstance(value, list) and len(value) == 2 else None

    def range(self, expr: str, start: datetime, end: datetime, step_s: float) -> list[Series]:
        data = self.get("/api/v1/query_range", {
            "query": expr, "start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}",
            "step": f"{max(step_s, 0.001):g}s",
        })
        if data is None or data.get("resultType") != "matrix":
            return []
        return [
            Series(
                labels=dict(s.get("metric", {})),
                points=tuple((datetime.fromtimestamp(float(t), UTC), sample_value(v))
                             for t, v in s.get("values", [])),
            )
            for s in data.get("result") or []
        ]


class PrometheusMetricsSource:
    """The `MetricsSource` port on Prometheus: each gate's baseline and canary query, plus requests."""

    def __init__(
        self, settings: PrometheusSettings, gates: Mapping[str, Gate], requests_query: TrackQueries | None,
        credentials: PrometheusCredentials | None = None, *, transport: httpx.BaseTransport | None = None,
        backoff_s: float = 0.2,
    ) -> None:
        self.client = PrometheusClient(settings, credentials, transport=transport, backoff_s=backoff_s)
        self.queries = {name: g.query for name, g in gates.items() if g.query is not None}
        self.missing = tuple(name for name, g in gates.items() if g.query is None)
        self.count_queries = {name: g.count_query for name, g in gates.items() if g.count_query is not None}
        self.requests_query = requests_query

    @staticmethod
    def render(expr: str, window_s: float) -> str:
        return expr.replace("$window", prometheus_duration(window_s))

    def _track(self, track: str, at: datetime, window_s: float) -> TrackSample:
        values: dict[str, float | None] = {name: None for name in self.missing}
        for name, q in self.queries.items():
            values[name] = self.client.instant(self.render(getattr(q, track), window_s), at)
        requests = None
        if self.requests_query is not None:
            requests = self.client.instant(self.render(getattr(self.requests_query, track), window_s), at)
        denominators = {  # a rate that divides by its own count (Gate.count_query), not by requests
            name: self.client.instant(self.render(getattr(q, track), window_s), at)
            for name, q in self.count_queries.items()
        }
        return TrackSample(values=values, requests=requests, denominators=denominators)

    def observe(self, at: datetime, window_s: float) -> tuple[TrackSample | None, TrackSample | None]:
        return self._track("baseline", at, window_s), self._track("canary", at, window_s)

    def query_range(
        self, metric: str, track: str, start: datetime, end: datetime, step_s: float, window_s: float,
    ) -> list[tuple[datetime, float | None]]:
        """One gate's values for one track between `start` and `end` (for reports)."""
        if track not in TRACKS:
            raise ValueError(f"track must be baseline or canary, not {track!r}")
        q = self.requests_query if metric == "requests" else self.queries.get(metric)
        if q is None:
            raise ValueError(f"no query for metric {metric!r}")
        series = self.client.range(self.render(getattr(q, track), window_s), start, end, step_s)
        return list(series[0].points) if len(series) == 1 else []

    def close(self) -> None:
        self.client.close()


def _parse_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw or raw.startswith("0001-01-01"):
        return None
    text = raw.replace("Z", "+00:00")
    if "." in text:  # Go prints nanoseconds; Python takes at most microseconds
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits):]}"
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


def to_alert(labels: Mapping[str, Any], starts_at: Any, t0_at: datetime | None) -> Alert:
    """A domain Alert from Prometheus/Alertmanager labels; `fired_t_s` is seconds after `t0_at`."""
    clean = {str(k): str(v) for k, v in labels.items()}
    started = _parse_time(starts_at)
    fired = (started - t0_at).total_seconds() if started is not None and t0_at is not None else 0.0
    return Alert(name=clean.get("alertname", ""), labels=clean, fired_t_s=fired, fired_at=started)


@dataclass(frozen=True)
class RulesCheck:
    """Which wanted alerting rules Prometheus has loaded (`found`), lacks, or cannot evaluate."""

    found: tuple[str, ...]
    missing: tuple[str, ...]
    unhealthy: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return bool(self.found) and not self.missing and not self.unhealthy


class PrometheusAlertFeed:
    """The `AlertFeed` port polling Prometheus' /api/v1/alerts: firing alerts matching `match_labels`."""

    def __init__(
        self, settings: PrometheusSettings, match_labels: Mapping[str, str] | None = None,
        credentials: PrometheusCredentials | None = None, *, t0_at: datetime | None = None,
        transport: httpx.BaseTransport | None = None, backoff_s: float = 0.2,
    ) -> None:
        self.client = PrometheusClient(settings, credentials, transport=transport, backoff_s=backoff_s)
        self.match_labels = dict(match_labels or {})
        self.t0_at = t0_at

    def firing(self, at: datetime) -> tuple[Alert, ...]:
        data = self.client.get("/api/v1/alerts")
        if data is None:
            raise self.client._unavailable("/api/v1/alerts", "answered with an error status")
        alerts = (to_alert(a.get("labels") or {}, a.get("activeAt"), self.t0_at)
                  for a in data.get("alerts") or [] if a.get("state") == "firing")
        return tuple(a for a in alerts if a.matches(self.match_labels))

    def rules_loaded(self, names: Iterable[str] = (), labels: Mapping[str, str] | None = None) -> RulesCheck:
        """Alerting rules named `names` (or, with no names, carrying `labels`) that are loaded and healthy."""
        data = self.client.get("/api/v1/rules", {"type": "alert"})
        if data is None:
            raise self.client._unavailable("/api/v1/rules", "answered with an error status")
        wanted, found, unhealthy = list(names), [], []
        for group in data.get("groups") or []:
            for rule in group.get("rules") or []:
                if rule.get("type") != "alerting":
                    continue
                name = str(rule.get("name", ""))
                rule_labels = {str(k): str(v) for k, v in (rule.get("labels") or {}).items()}
                has_labels = all(rule_labels.get(k) == v for k, v in (labels or {}).items())
                if (name in wanted) if wanted else has_labels:
                    found.append(name)
                    if rule.get("health") not in ("ok", "unknown"):
                        unhealthy.append(f"{name}: {rule.get('lastError') or rule.get('health')}")
        return RulesCheck(found=tuple(found), missing=tuple(n for n in wanted if n not in found),
                          unhealthy=tuple(unhealthy))

    def close(self) -> None:
        self.client.close()


def alert_rules_loaded(
    settings: PrometheusSettings, names: Iterable[str] = (), labels: Mapping[str, str] | None = None,
    credentials: PrometheusCredentials | None = None, *, transport: httpx.BaseTransport | None = None,
) -> RulesCheck:
    """Preflight: are the alerting rules (by name, or by labels) loaded in Prometheus and healthy?"""
    feed = PrometheusAlertFeed(settings, credentials=credentials, transport=transport)
    try:
        return feed.rules_loaded(names, labels)
    finally:
        feed.close()
