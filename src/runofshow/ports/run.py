"""The run's own ports: clock, metrics, router, alerts, notifications, the ledger, API tokens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from runofshow.domain.tick import Alert, TrackSample


@runtime_checkable
class Clock(Protocol):
    """Wall-clock time, injected so tests and `--speed N` runs control it."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (plan seconds; a compressed clock waits less)."""
        ...


@runtime_checkable
class MetricsSource(Protocol):
    """Reads the plan's gate metrics (and request counts) for baseline and canary."""

    def observe(self, at: datetime, window_s: float) -> tuple[TrackSample | None, TrackSample | None]:
        """Baseline and canary samples over the `window_s` seconds ending at `at`.

        Missing values are None (NoData), never 0. An unreachable source raises
        `MetricsUnavailableError`.
        """
        ...


@runtime_checkable
class TrafficRouter(Protocol):
    """Moves canary traffic. Every write has a read-back; setting the same weight twice is one change."""

    def set_weight(self, weight: float) -> None:
        """Send `weight` percent of traffic to the canary. Raises `RouterError`."""
        ...

    def current_weight(self) -> float:
        """The canary weight the router reports now. Raises `RouterError`."""
        ...


@runtime_checkable
class WeightNote(Protocol):
    """A router that can say more about its last read-back than the number (a feature flag that
    does not exist yet reads as 0 %: `flag spark-v140 absent`)."""

    def weight_note(self) -> str | None:
        ...


@runtime_checkable
class AlertFeed(Protocol):
    """Alerts that are firing now (Prometheus /api/v1/alerts poll, or an Alertmanager webhook inbox)."""

    def firing(self, at: datetime) -> tuple[Alert, ...]:
        ...


@dataclass(frozen=True)
class WebhookRefusal:
    """A webhook call the alert receiver refused (401): when (wall), from which address, why. Never
    the credentials presented."""

    at: datetime
    source: str
    reason: str
    path: str = ""


@runtime_checkable
class Notifier(Protocol):
    """A notification channel (Slack webhook, generic JSON webhook). Must not raise on delivery failure
    for the run's sake: adapters retry, then raise `NotifierError` which the runner logs and ignores."""

    def notify(self, event: str, text: str, fields: Mapping[str, Any] | None = None) -> None:
        ...


@runtime_checkable
class Annotator(Protocol):
    """Marks an instant on the dashboards (Grafana annotations)."""

    def annotate(self, at: datetime, text: str, tags: Sequence[str]) -> None:
        ...


@dataclass(frozen=True)
class LedgerEvent:
    """One append-only ledger row. `seq` is 1-based per run; `kind` says what happened."""

    run_id: str
    seq: int
    at: datetime
    kind: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    prev_hash: str = ""
    hash: str = ""


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    release: str
    version: str
    status: str
    stage: int | None
    weight: float | None
    started_at: datetime
    plan: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Ledger(Protocol):
    """The durable, append-only record of every run: steps, ticks, decisions, intents, outcomes."""

    def create_run(self, run: RunRecord) -> None:
        ...

    def append(self, run_id: str, kind: str, payload: Mapping[str, Any], at: datetime) -> LedgerEvent:
        """Append one event atomically (hash-chained to the previous one) and return it."""
        ...

    def events(self, run_id: str, after_seq: int = 0) -> list[LedgerEvent]:
        ...

    def update_run(
        self, run_id: str, *, status: str | None = None, stage: int | None = None,
        weight: float | None = None,
    ) -> None:
        ...

    def run(self, run_id: str) -> RunRecord:
        """Raises `RunNotFoundError` (a `LedgerError`) when there is no such run."""
        ...

    def runs(self) -> list[RunRecord]:
        ...


@dataclass(frozen=True)
class ApiToken:
    """An API token of the war-room web app: who it names and their role. Only the token's hash is
    kept (`token_hash`, sha256 hex); the token itself is shown once, when it is created."""

    token_id: str
    name: str
    role: str  # ic, member or observer
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None = None


@runtime_checkable
class TokenStore(Protocol):
    """Where API tokens are kept (beside the ledger): create, find by hash, list, revoke."""

    def add_token(self, token: ApiToken) -> None:
        ...

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        """The token with this hash (revoked ones too: the caller checks `revoked_at`)."""
        ...

    def tokens(self) -> list[ApiToken]:
        ...

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        """Revoke by id; False when there is no such live token."""
        ...


__all__ = [
    "AlertFeed", "Annotator", "ApiToken", "Clock", "Ledger", "LedgerEvent", "MetricsSource", "Notifier",
    "RunRecord", "TokenStore", "TrafficRouter", "WebhookRefusal", "WeightNote",
]
