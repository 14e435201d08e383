"""The ports: one small `typing.Protocol` per role the core needs from the world.

Signatures use domain types and stdlib types only. Real adapters live in `runofshow.adapters`
(named for the system they talk to); in-memory fakes live in `runofshow.adapters.memory` (and, for
the T-minus steps' tools, `runofshow.adapters.memory_steps`; for communications,
`runofshow.adapters.fakes_comms`) and pass the same contract tests. Only `runofshow.app.bootstrap`
builds adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from runofshow.domain.freeze import FreezeRecord, PullRequest
from runofshow.domain.tick import Alert, TrackSample
from runofshow.domain.windows import MarketDay


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


# --------------------------------------------------------------------------- market calendar, PR host
# (issue 4: market-aware windows and the change freeze)




@runtime_checkable
class MarketCalendar(Protocol):
    """An exchange's sessions, holidays and early closes (XIST through `exchange_calendars`)."""

    @property
    def name(self) -> str:
        ...

    def market_day(self, day: date) -> MarketDay:
        """What the calendar says about local date `day`. Outside its range: `known=False`
        (possibly trading), never an exception."""
        ...

    def bounds(self) -> tuple[date, date]:
        """The first and last session the calendar knows."""
        ...


@runtime_checkable
class PullRequestHost(Protocol):
    """One repository's pull requests (GitHub). Writes are idempotent and have a read-back.
    Failures raise `PullRequestHostError`."""

    @property
    def repo(self) -> str:
        """OWNER/NAME."""
        ...

    def open_pull_requests(self) -> list[PullRequest]:
        """Every open PR (all pages), with its labels and head commit."""
        ...

    def pull_request(self, number: int) -> PullRequest:
        ...

    def changed_files(self, number: int) -> list[str]:
        """Paths the PR changes; a rename contributes both its old and its new path."""
        ...

    def labels(self, number: int) -> tuple[str, ...]:
        """The PR's labels now (the read-back of add/remove)."""
        ...

    def add_label(self, number: int, label: str) -> tuple[str, ...]:
        """Put `label` on the PR (no change if it is there); returns the PR's labels after."""
        ...

    def remove_label(self, number: int, label: str) -> bool:
        """Take `label` off the PR; False when it was not there."""
        ...

    def set_status(
        self, sha: str, state: str, description: str, context: str, target_url: str | None = None,
    ) -> None:
        """Set a commit status (state: success, failure, error or pending) on commit `sha`."""
        ...


# --------------------------------------------------------------------------- the T-minus steps' tools
# (preflight: an HTTP probe and a command runner; blast radius: a load generator; the freeze record)


@dataclass(frozen=True)
class HttpAnswer:
    """What a URL answered: its status and the start of its body (decoded text)."""

    status: int
    text: str = ""


@runtime_checkable
class HttpProbe(Protocol):
    """Asks a URL whether it is there (the preflight's artifact, health, backup and webhook URLs)."""

    def fetch(self, method: str, url: str, timeout_s: float) -> HttpAnswer:
        """GET or HEAD `url`, redirects followed, reading at most the start of the body. A transport
        failure (refused, timeout, DNS) raises `AdapterError` with a one-line message naming the host."""
        ...


@dataclass(frozen=True)
class CommandResult:
    """How a command ended. `exit_code` None: it was killed after its timeout."""

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""


@runtime_checkable
class CommandRunner(Protocol):
    """Runs a local command (the preflight's backup check)."""

    def run(self, argv: Sequence[str], timeout_s: float) -> CommandResult:
        """Run `argv` and wait at most `timeout_s`; past that it is killed with every process it
        started. A command that cannot start raises `AdapterError`."""
        ...


@dataclass(frozen=True)
class LoadResult:
    """What an open-loop load run saw. Latencies in seconds from each request's intended send
    time, over every planned request (failed ones too); `service_p95_s` from the actual send."""

    requests: int
    succeeded: int
    failures: Mapping[str, int]
    elapsed_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    max_s: float
    service_p95_s: float


@runtime_checkable
class LoadGenerator(Protocol):
    """Sends constant-rate load at one URL (the blast-radius probe)."""

    def run(
        self, url: str, requests: int, rate: float, concurrency: int, timeout_s: float,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> LoadResult:
        """Send `requests` GETs at `rate` per second whether or not earlier ones have answered, at
        most `concurrency` in flight; `on_progress(finished, planned)` about ten times a second."""
        ...


@runtime_checkable
class FreezeStore(Protocol):
    """The change freeze's own record, kept between `freeze start` and `freeze end`."""

    @property
    def location(self) -> str:
        """Where the record is kept, for messages (a file path)."""
        ...

    def load(self) -> FreezeRecord | None:
        """The record; None when there is none. An unreadable one raises `EvidenceError`."""
        ...

    def save(self, record: FreezeRecord) -> None:
        """Replace the record, atomically."""
        ...


# --------------------------------------------------------------------------- communications
# (issue 14: the war-room channel, the pager's yellow mode, the deployment status). Each one fails
# soft: adapters retry, then raise `NotifierError`, which the caller records and goes on. Fakes:
# `runofshow.adapters.fakes_comms`.


@runtime_checkable
class WarRoomChannel(Protocol):
    """The war-room chat channel (Slack with a bot token): one pinned status message edited in
    place as the run moves, the war-room minutes as thread replies under it."""

    def open(self, name: str, members: Sequence[str]) -> str:
        """Create channel `name` (or join it when it exists), invite `members` (chat user ids; those
        already in are fine) and return the channel id."""
        ...

    def post_status(self, channel: str, text: str, blocks: Sequence[Mapping[str, Any]] = ()) -> str:
        """Post the status message and pin it; returns its id (Slack: the message `ts`)."""
        ...

    def update_status(
        self, channel: str, message: str, text: str, blocks: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Edit the status message `message` in place."""
        ...

    def post_minute(self, channel: str, thread: str, text: str) -> str:
        """Post one war-room minute as a reply in `thread` (the status message); returns its id."""
        ...

    def close(self, channel: str, text: str | None = None, *, archive: bool = True) -> None:
        """Post `text` (the one-liner) when given, then archive the channel when `archive`."""
        ...


@dataclass(frozen=True)
class PagerSnapshot:
    """A pager's settings as read: service id -> that service's settings (JSON-ready), kept in the
    ledger before yellow so that green (even from a resumed run) restores exactly these."""

    services: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@runtime_checkable
class PagerMode(Protocol):
    """The on-call pager: yellow (high urgency, short acknowledgement timeout) during the canary."""

    def read_settings(self) -> PagerSnapshot:
        ...

    def set_yellow(self) -> PagerSnapshot:
        """Put the services in yellow mode; returns the settings read back after."""
        ...

    def restore(self, snapshot: PagerSnapshot) -> PagerSnapshot:
        """Put back `snapshot` as it was read; returns the settings read back after."""
        ...

    def send_change_event(self, text: str, at: datetime) -> None:
        """Tell the pager something changed (PagerDuty change event), shown beside incidents."""
        ...


@runtime_checkable
class DeploymentStatus(Protocol):
    """Deployment records (GitHub Deployments): one per release and environment, with a state."""

    def start(self, environment: str, ref: str, description: str) -> int:
        """Create a deployment of `ref` to `environment`; returns its id."""
        ...

    def set_state(self, deployment_id: int, state: str, description: str) -> None:
        """Add a status: queued, in_progress, success, failure, error or inactive."""
        ...

    def state(self, deployment_id: int) -> str | None:
        """The deployment's latest state (the read-back of `set_state`); None before any."""
        ...

    def mark_previous_inactive(self, environment: str, keep: int) -> list[int]:
        """Mark every other still-active deployment of `environment` inactive; returns their ids."""
        ...


@runtime_checkable
class SeenRequests(Protocol):
    """Signed requests already taken (Slack action clicks): a replay of one is refused."""

    def first_time(self, key: str, at: datetime) -> bool:
        """Remember `key`; True when it had not been seen before (check and remember at once)."""
        ...


# --------------------------------------------------------------------------- team mode (issue 13)


@dataclass(frozen=True)
class Lease:
    """Who drives a submitted run. `epoch` grows at every claim (the fencing token)."""

    run_id: str
    status: str  # queued, running, done
    owner: str | None
    epoch: int
    expires_at: datetime | None
    options: Mapping[str, Any] = field(default_factory=dict)
    previous_owner: str | None = None  # on a claim: who held it before (None: never driven)


@runtime_checkable
class Leases(Protocol):
    """Submitted runs and their leases (team mode, on PostgreSQL). Expiry uses the database's clock."""

    def submit(self, run: RunRecord, options: Mapping[str, Any]) -> None:
        """Record `run` (status queued) and its queued lease, in one transaction."""
        ...

    def claim(self, owner: str, ttl_s: float, run_id: str | None = None) -> Lease | None:
        """Take the oldest queued or expired lease (or `run_id`'s), one epoch up; None when none is free."""
        ...

    def renew(self, lease: Lease, ttl_s: float) -> datetime:
        """Push the expiry on; `LeaseLostError` when a newer epoch took the run over."""
        ...

    def release(self, lease: Lease, *, done: bool) -> None:
        """Give the run up: done (ended), or queued again for any worker. A stale lease changes nothing."""
        ...

    def current(self, run_id: str) -> Lease | None:
        ...

    def all(self) -> list[Lease]:
        ...

    def fenced(self, lease: Lease) -> Ledger:
        """The ledger as the lease's holder writes it: every append and runs update carries the
        epoch, and the database refuses them (`LeaseLostError`) once the run was taken over."""
        ...
