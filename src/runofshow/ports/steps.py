"""The T-minus steps' ports: market calendar, pull-request host, HTTP probe, command runner,
load generator, freeze store."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable

from runofshow.domain.freeze import FreezeRecord, PullRequest
from runofshow.domain.windows import MarketDay


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


__all__ = [
    "CommandResult", "CommandRunner", "FreezeStore", "HttpAnswer", "HttpProbe", "LoadGenerator",
    "LoadResult", "MarketCalendar", "PullRequestHost",
]
